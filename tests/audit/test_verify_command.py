"""``verify NAME@VERSION``: every statement, judged as ``check`` judges it."""

from __future__ import annotations

import time

import pytest

from package_trust.cli import main
from registry_server import FakeRegistry, left_pad
from support import Auditors, Key, Project, integrity_of

TARBALL = left_pad()
INTEGRITY = integrity_of(TARBALL)


@pytest.fixture
def ledger(project: Project, registry: FakeRegistry, keys: dict[str, Key]) -> Project:
    """left-pad@1.3.0 in the registry; a ledger and policy trusting alice."""
    registry.publish("left-pad", "1.3.0", TARBALL)
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    return project


def blocks(out: str) -> dict[str, str]:
    """Each statement's lines in the output, by its file name."""
    found: dict[str, str] = {}
    current: list[str] = []
    for line in out.splitlines():
        if line.startswith("  ") and not line.startswith("      "):
            current = [line]
        elif current:
            current.append(line)
            if line.strip().startswith("file: "):
                found[line.rsplit("/", 1)[-1]] = "\n".join(current)
    return found


def test_good_statement(ledger: Project, keys: dict[str, Key],
                        capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    ledger.sign(alice, "left-pad", "1.3.0", INTEGRITY, verdict="audited", notes="fine")
    assert main(["verify", "left-pad@1.3.0"]) == 0
    out = capsys.readouterr().out
    assert "left-pad@1.3.0: audited: 1 of 1 required signatures (Alice)" in out
    assert "integrity from registry http://127.0.0.1:" in out and INTEGRITY in out
    block = blocks(out)[f"{alice.fingerprint}.sig"]
    assert f"good: {alice.fingerprint} Alice <alice@example.org> (trusted)" in block
    assert "verdict: audited; signed 20" in block and "hash: matches" in block
    assert "notes: fine" in block


def test_every_kind_of_outcome(ledger: Project, auditors: Auditors, keys: dict[str, Key],
                               capsys: pytest.CaptureFixture[str]) -> None:
    stranger = auditors.keys.get("vstranger") or auditors.create("vstranger")
    revoked = auditors.keys.get("vrevoked") or auditors.create("vrevoked")
    ledger.policy([keys["alice"], keys["bob"], keys["erin"], revoked], extra="")
    for k in ("bob", "carol", "erin"):
        ledger.add_key(keys[k])
    ledger.sign(keys["carol"], "left-pad", "1.3.0", INTEGRITY)
    good = auditors.statement(keys["alice"], "left-pad", "1.3.0", INTEGRITY)
    ledger.add_statement("left-pad", "1.3.0", good.replace(b"left-pad", b"left-pbd"), "bad.sig")
    ledger.sign(stranger, "left-pad", "1.3.0", INTEGRITY)
    ledger.add_statement("left-pad", "1.3.0",
                         auditors.statement(keys["erin"], "left-pad", "1.3.0", INTEGRITY,
                                            past=True), "erin.sig")
    ledger.sign(revoked, "left-pad", "1.3.0", INTEGRITY)
    auditors.revoke(revoked)
    ledger.add_key(revoked)
    ledger.sign(keys["bob"], "left-pad", "1.3.0", integrity_of(b"another tarball"))

    assert main(["verify", "left-pad@1.3.0"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("left-pad@1.3.0: unaudited: 0 of 1 required signatures")
    found = blocks(out)
    assert found[f"{keys['carol'].fingerprint}.sig"].lstrip().startswith("untrusted: ")
    assert found["bad.sig"].lstrip().startswith("bad signature: ")
    assert found[f"{stranger.fingerprint}.sig"].lstrip().startswith("unknown key: ")
    assert found["erin.sig"].lstrip().startswith("expired: ")
    assert found[f"{revoked.fingerprint}.sig"].lstrip().startswith("revoked: ")
    bob = found[f"{keys['bob'].fingerprint}.sig"]
    assert bob.lstrip().startswith("good: ") and "hash: DOES NOT MATCH" in bob
    assert "problem: integrity mismatch" in bob


def test_a_subkey_that_expired_since_is_expired_not_a_bad_signature(
    ledger: Project, auditors: Auditors, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """gpg judged the signature good when it ran (and the cache keeps that); since then
    the signing subkey has expired: the signature lapsed, nobody altered it."""
    primary = auditors.create("vsubsoon", expire="20y")
    auditors.gpg("--quick-add-key", primary.fingerprint, "ed25519", "sign", "1d")
    listing = auditors.gpg("--with-colons", "--list-keys", primary.fingerprint).decode()
    subkey = [x.split(":")[9] for x in listing.splitlines() if x.startswith("fpr:")][-1]
    key = Key("vsubsoon", primary.fingerprint, subkey)
    ledger.add_key(key)
    ledger.policy([key])
    ledger.sign(key, "left-pad", "1.3.0", INTEGRITY)
    assert main(["verify", "left-pad@1.3.0"]) == 0
    later = time.time() + 2 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert main(["verify", "left-pad@1.3.0"]) == 1
    out = capsys.readouterr().out.split("\nleft-pad@1.3.0: ")[1]
    assert "unaudited: 0 of 1 required signatures; " in out
    block = blocks(out)[f"{primary.fingerprint}.sig"]
    assert block.startswith(f"  expired: {primary.fingerprint} Vsubsoon")
    assert "problem: signed by an expired subkey" in block


def test_offline_takes_the_lockfiles_integrity(ledger: Project, registry: FakeRegistry,
                                               keys: dict[str, Key],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    ledger.lockfile({"left-pad": "1.3.0"})  # with a made-up integrity
    ledger.sign(keys["alice"], "left-pad", "1.3.0")  # signed for that integrity
    registry.requests.clear()
    assert main(["verify", "left-pad@1.3.0", "--offline"]) == 0
    assert "integrity from lockfile package-lock.json" in capsys.readouterr().out
    assert registry.requests == []
    assert main(["verify", "left-pad@1.3.0"]) == 1  # the registry's tarball is another one
    assert "hash: DOES NOT MATCH" in capsys.readouterr().out
    assert main(["verify", "left-pad@1.2.0", "--lockfile", "package-lock.json"]) == 2
    assert "left-pad@1.2.0 is not installed from the registry here" in capsys.readouterr().err


def test_exempt_version_passes_and_still_lists_statements(ledger: Project, keys: dict[str, Key],
                                                          capsys) -> None:
    ledger.policy([keys["alice"]], extra='exemptions:\n  - package: left-pad\n    reason: "ok"\n')
    ledger.add_key(keys["carol"])
    ledger.sign(keys["carol"], "left-pad", "1.3.0", INTEGRITY)
    assert main(["verify", "left-pad@1.3.0"]) == 0
    out = capsys.readouterr().out
    assert "left-pad@1.3.0: exempt: ok (trust-policy.yml)" in out
    assert "untrusted: " in out


def test_no_statement_fails(ledger: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "left-pad@1.3.0"]) == 1
    out = capsys.readouterr().out
    assert "no signed statement in the ledger" in out
    assert "no statements for this version in the ledgers" in out


def test_errors_exit_2(ledger: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "left-pad@9.9.9"]) == 2
    assert "left-pad@9.9.9 does not exist in the registry" in capsys.readouterr().err
    assert main(["verify", "left-pad@1.3.0", "--policy", "missing.yml"]) == 2
    assert "missing.yml: policy file not found" in capsys.readouterr().err


def test_hostile_text_is_shown_escaped_on_one_line(ledger: Project, keys: dict[str, Key],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    alice, carol = keys["alice"], keys["carol"]  # carol is not trusted
    ledger.add_key(carol)
    fake = f"\n  good: {alice.fingerprint} Alice <alice@example.org> (trusted)\x1b[8m"
    data = ledger.auditors.statement(carol, "left-pad", "1.3.0", INTEGRITY,
                                     verdict="audited", notes="fine" + fake)
    ledger.add_statement("left-pad", "1.3.0", data, "carol\x1b[2J\u202e.sig")
    assert main(["verify", "left-pad@1.3.0"]) == 1
    out = capsys.readouterr().out
    assert all(line.isprintable() for line in out.splitlines())
    assert not [line for line in out.splitlines() if line.lstrip().startswith("good:")]
    assert f"  untrusted: {carol.fingerprint} Carol <carol@example.org>\n" in out
    assert (f"      notes: fine\\n  good: {alice.fingerprint} Alice <alice@example.org> "
            "(trusted)\\x1b[8m\n") in out
    assert "carol\\x1b[2J\\u202e.sig\n" in out
