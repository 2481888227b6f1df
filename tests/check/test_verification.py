"""The security rules of verification, each with real gpg and real keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from package_trust.cli import main
from support import Auditors, GpgLog, Key, Project, fake_integrity


def check_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def only(report: dict[str, Any]) -> dict[str, Any]:
    [pkg] = [p for p in report["packages"] if p["status"] != "skipped"]
    return pkg


@pytest.fixture
def alice_project(project: Project, keys: dict[str, Key]) -> Project:
    """alice and bob trusted (one signature needed), carol's key present but untrusted."""
    for name in ("alice", "bob", "carol", "dave", "erin", "grace"):
        project.add_key(keys[name])
    project.policy([keys["alice"], keys["bob"], keys["dave"], keys["erin"], keys["grace"]])
    project.lockfile({"left-pad": "1.3.0"})
    return project


def test_trusted(alice_project: Project, keys: dict[str, Key], capsys) -> None:
    alice_project.sign(keys["alice"], "left-pad", "1.3.0")
    code, report = check_json(capsys)
    assert code == 0
    pkg = only(report)
    assert (pkg["status"], pkg["signatures"], pkg["required"]) == ("audited", 1, 1)
    assert pkg["signers"] == ["Alice"]


def test_no_statement(alice_project: Project, capsys) -> None:
    code, report = check_json(capsys)
    assert code == 1
    assert only(report)["problems"] == ["no signed statement in the ledger"]


def test_untrusted_key(alice_project: Project, keys: dict[str, Key], capsys) -> None:
    alice_project.sign(keys["carol"], "left-pad", "1.3.0")
    code, report = check_json(capsys)
    assert code == 1
    pkg = only(report)
    assert pkg["status"] == "unaudited"
    assert any(f"untrusted key {keys['carol'].fingerprint}" in p for p in pkg["problems"])


def test_unknown_key(alice_project: Project, auditors: Auditors, capsys) -> None:
    stranger = auditors.keys.get("stranger") or auditors.create("stranger")
    alice_project.sign(stranger, "left-pad", "1.3.0")
    code, report = check_json(capsys)
    assert code == 1
    assert any("not in the ledger's keys/" in p for p in only(report)["problems"])


def test_expired_key(alice_project: Project, keys: dict[str, Key], auditors: Auditors,
                     capsys) -> None:
    # erin's key was valid in 2020, when she signed; it has expired since.
    data = auditors.statement(keys["erin"], "left-pad", "1.3.0", past=True)
    alice_project.add_statement("left-pad", "1.3.0", data)
    code, report = check_json(capsys)
    assert code == 1
    assert any("expired key" in p for p in only(report)["problems"])


def test_revoked_key(project: Project, auditors: Auditors, capsys) -> None:
    frank = auditors.create("frank2")
    project.sign(frank, "left-pad", "1.3.0")
    auditors.revoke(frank)  # the ledger's copy of the key now carries the revocation
    project.add_key(frank)
    project.policy([frank])
    project.lockfile({"left-pad": "1.3.0"})
    code, report = check_json(capsys)
    assert code == 1
    assert any("revoked key" in p for p in only(report)["problems"])


def test_expired_signature(alice_project: Project, keys: dict[str, Key], auditors: Auditors,
                           capsys) -> None:
    data = auditors.statement(keys["grace"], "left-pad", "1.3.0", past=True, sig_expire="1d")
    alice_project.add_statement("left-pad", "1.3.0", data)
    code, report = check_json(capsys)
    assert code == 1
    assert any("signature has expired" in p for p in only(report)["problems"])


def test_subkey_counts_for_primary(alice_project: Project, keys: dict[str, Key], capsys) -> None:
    dave = keys["dave"]
    assert dave.signing != dave.fingerprint
    alice_project.sign(dave, "left-pad", "1.3.0")
    code, report = check_json(capsys)
    assert code == 0
    assert only(report)["statements"][0]["fingerprint"] == dave.fingerprint


def test_subkey_fingerprint_is_not_trusted_on_its_own(project: Project, keys: dict[str, Key],
                                                      capsys) -> None:
    dave = keys["dave"]
    project.add_key(dave)
    project.add_key(keys["alice"])
    policy = project.policy([keys["alice"]])
    policy.write_text(policy.read_text() + f"  - fingerprint: {dave.signing}\n")
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(dave, "left-pad", "1.3.0")
    code = main(["check"])
    # The subkey is not a primary key in keys/: the policy names a key that is not there.
    assert code == 2
    assert "not in any ledger's keys/" in capsys.readouterr().err


def test_tampered_statement(alice_project: Project, keys: dict[str, Key], capsys) -> None:
    path = alice_project.sign(keys["alice"], "left-pad", "1.3.0")
    text = path.read_text()
    path.write_text(text.replace('"time": 1700000000000', '"time": 1700000000001'))
    code, report = check_json(capsys)
    assert code == 1
    assert any("bad signature" in p for p in only(report)["problems"])


def test_text_outside_the_signature_is_not_trusted(alice_project: Project, keys: dict[str, Key],
                                                   auditors: Auditors, capsys) -> None:
    # A valid statement for another version, with this version's JSON put before it.
    other = auditors.statement(keys["alice"], "left-pad", "1.2.0")
    forged = json.dumps({"package": "left-pad", "version": "1.3.0",
                         "hash": {"sha512": fake_integrity("left-pad", "1.3.0")[7:]}})
    alice_project.add_statement("left-pad", "1.3.0", forged.encode() + b"\n" + other)
    code, report = check_json(capsys)
    assert code == 1
    assert only(report)["status"] == "unaudited"


def test_statement_copied_from_another_version(alice_project: Project, keys: dict[str, Key],
                                               auditors: Auditors, capsys) -> None:
    data = auditors.statement(keys["alice"], "left-pad", "1.2.0")
    alice_project.add_statement("left-pad", "1.3.0", data)
    code, report = check_json(capsys)
    assert code == 1
    assert any("signed for left-pad@1.2.0, not this package" in p
               for p in only(report)["problems"])


def test_statement_copied_from_another_package(alice_project: Project, keys: dict[str, Key],
                                               auditors: Auditors, capsys) -> None:
    data = auditors.statement(keys["alice"], "right-pad", "1.3.0",
                              fake_integrity("left-pad", "1.3.0"))
    alice_project.add_statement("left-pad", "1.3.0", data)
    code, report = check_json(capsys)
    assert code == 1
    assert any("signed for right-pad@1.3.0" in p for p in only(report)["problems"])


def test_integrity_mismatch(alice_project: Project, keys: dict[str, Key], capsys) -> None:
    alice_project.sign(keys["alice"], "left-pad", "1.3.0", fake_integrity("evil", "1"))
    code, report = check_json(capsys)
    assert code == 1
    assert any("integrity mismatch" in p for p in only(report)["problems"])


def test_same_key_twice_counts_once(project: Project, keys: dict[str, Key], auditors: Auditors,
                                    capsys) -> None:
    project.add_key(keys["alice"])
    project.add_key(keys["bob"])
    project.policy([keys["alice"], keys["bob"]], minimum=2)
    project.lockfile({"left-pad": "1.3.0"})
    for file in ("one.sig", "two.sig"):
        project.add_statement("left-pad", "1.3.0",
                              auditors.statement(keys["alice"], "left-pad", "1.3.0"), file)
    code, report = check_json(capsys)
    assert code == 1
    pkg = only(report)
    assert (pkg["signatures"], pkg["required"]) == (1, 2)
    project.sign(keys["bob"], "left-pad", "1.3.0")
    code, report = check_json(capsys)
    assert code == 0
    assert only(report)["signatures"] == 2


def test_rejected_verdict_fails_whatever_else(project: Project, keys: dict[str, Key],
                                              capsys) -> None:
    for k in ("alice", "bob"):
        project.add_key(keys[k])
    project.policy([keys["alice"], keys["bob"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    project.sign(keys["bob"], "left-pad", "1.3.0", verdict="rejected", notes="exfiltrates env")
    code, report = check_json(capsys)
    assert code == 1
    pkg = only(report)
    assert pkg["status"] == "rejected"
    assert pkg["rejected_by"] == ["Bob"]
    assert main(["check"]) == 1
    assert "left-pad@1.3.0: rejected: rejected by Bob" in capsys.readouterr().out


def test_rejection_by_untrusted_key_does_not_count(alice_project: Project,
                                                   keys: dict[str, Key], capsys) -> None:
    alice_project.sign(keys["alice"], "left-pad", "1.3.0")
    alice_project.sign(keys["carol"], "left-pad", "1.3.0", verdict="rejected")
    code, report = check_json(capsys)
    assert code == 0
    assert only(report)["status"] == "audited"


@pytest.mark.parametrize("content", [
    b"not a statement",
    b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\ngarbage\n",
    b"",
])
def test_malformed_statement_is_reported_and_others_still_count(
    project: Project, keys: dict[str, Key], content: bytes, capsys
) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0", "right-pad": "1.0.0"})
    project.add_statement("left-pad", "1.3.0", content, "broken.sig")
    project.sign(keys["alice"], "left-pad", "1.3.0")
    project.sign(keys["alice"], "right-pad", "1.0.0")
    code, report = check_json(capsys)
    assert code == 0
    left = next(p for p in report["packages"] if p["name"] == "left-pad")
    assert left["status"] == "audited"
    broken = [s for s in left["statements"] if s["origin"].endswith("broken.sig")]
    assert broken and not broken[0]["counted"]


def test_signed_non_json_is_malformed(alice_project: Project, keys: dict[str, Key],
                                      auditors: Auditors, capsys) -> None:
    data = auditors.clearsign(keys["alice"], b"I looked at it, it is fine")
    alice_project.add_statement("left-pad", "1.3.0", data)
    code, report = check_json(capsys)
    assert code == 1
    assert any("malformed statement" in p for p in only(report)["problems"])


def test_users_keyring_and_gpg_conf_are_never_used(alice_project: Project, keys: dict[str, Key],
                                                   auditors: Auditors, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys) -> None:
    # carol's key is in the user's keyring, with a gpg.conf that would trust everything
    # and pull in that keyring: none of it may matter.
    Path(auditors.home, "gpg.conf").write_text("trust-model always\n")
    monkeypatch.setenv("GNUPGHOME", auditors.home)
    try:
        stranger = auditors.keys.get("stranger") or auditors.create("stranger")
        alice_project.sign(stranger, "left-pad", "1.3.0")
        code, report = check_json(capsys)
    finally:
        Path(auditors.home, "gpg.conf").unlink()
    assert code == 1
    assert any("not in the ledger's keys/" in p for p in only(report)["problems"])


def test_seed_ledger_reads_unchanged(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The original proof of concept's ledger, as bundled at the top of this repository."""
    from support import REPO

    monkeypatch.chdir(REPO)
    code, report = check_json(capsys, "examples/left-pad/package-lock.json")
    assert code == 0
    pkg = only(report)
    assert (pkg["name"], pkg["version"], pkg["status"], pkg["signatures"]) == (
        "left-pad", "1.3.0", "audited", 1)
    assert pkg["statements"][0]["fingerprint"] == "17935F3D5F718537ADFFD86E0D69DA94A12EB985"


def test_two_different_sha512_in_integrity_is_unverifiable(
    alice_project: Project, keys: dict[str, Key], capsys
) -> None:
    """npm installs a tarball matching any listed sha512: an audit of one covers nothing."""
    alice_project.sign(keys["alice"], "left-pad", "1.3.0")
    lock = alice_project.root / "package-lock.json"
    data = json.loads(lock.read_text())
    entry = data["packages"]["node_modules/left-pad"]
    entry["integrity"] += " " + fake_integrity("evil", "1.0.0")
    lock.write_text(json.dumps(data))
    code, report = check_json(capsys)
    assert code == 1
    assert only(report)["status"] == "unverifiable"


def test_rejection_by_a_since_expired_key_still_rejects(
    alice_project: Project, keys: dict[str, Key], auditors: Auditors, capsys
) -> None:
    """erin rejected it in 2020 and her key has expired since: fail closed."""
    alice_project.sign(keys["alice"], "left-pad", "1.3.0")
    data = auditors.statement(keys["erin"], "left-pad", "1.3.0", past=True, verdict="rejected")
    alice_project.add_statement("left-pad", "1.3.0", data, "erin.sig")
    code, report = check_json(capsys)
    assert code == 1
    pkg = only(report)
    assert (pkg["status"], pkg["rejected_by"]) == ("rejected", ["Erin"])


def test_expired_key_audit_does_not_count_but_is_reported(
    alice_project: Project, keys: dict[str, Key], auditors: Auditors, capsys
) -> None:
    alice_project.sign(keys["alice"], "left-pad", "1.3.0")
    data = auditors.statement(keys["erin"], "left-pad", "1.3.0", past=True)
    alice_project.add_statement("left-pad", "1.3.0", data, "erin.sig")
    code, report = check_json(capsys)
    assert code == 0
    erin = next(s for s in only(report)["statements"] if s["origin"].endswith("erin.sig"))
    assert (erin["counted"], erin["rejects"]) == (False, False)
    assert "expired key" in erin["problem"]


def test_sha1_signature_does_not_count(alice_project: Project, keys: dict[str, Key],
                                       auditors: Auditors, capsys) -> None:
    body = json.dumps({"package": "left-pad", "version": "1.3.0",
                       "hash": {"sha512": fake_integrity("left-pad", "1.3.0")[7:]}})
    try:
        data = auditors.gpg("--digest-algo", "SHA1", "--local-user",
                            keys["bob"].fingerprint + "!", "--clearsign", data=body.encode())
    except RuntimeError:
        pytest.skip("this gpg will not make SHA-1 signatures with this key")
    alice_project.add_statement("left-pad", "1.3.0", data)
    code, report = check_json(capsys)
    assert code == 1
    assert any("weak hash algorithm (SHA-1)" in p for p in only(report)["problems"])


def test_scratch_files_go_to_memory_and_are_removed(
    alice_project: Project, keys: dict[str, Key], tmp_path: Path, gpg_log: GpgLog,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The throw-away keyring and the statements given to gpg go to $XDG_RUNTIME_DIR (a
    memory file system) unless $TMPDIR names a folder, and none is left behind."""
    from package_trust.check.gpg import scratch

    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    assert scratch() == str(run)
    alice_project.sign(keys["alice"], "left-pad", "1.3.0")
    assert check_json(capsys, "--no-cache")[0] == 0
    used = [line for line in gpg_log.take() if "--homedir" in line]
    assert used and all(f"--homedir {run}/package-trust-gpg-" in line for line in used)
    assert list(run.iterdir()) == []
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert scratch() is None  # tempfile's choice: $TMPDIR


def test_a_scratch_folder_others_can_write_to_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$XDG_RUNTIME_DIR inherited from another user (sudo -E) or open to others: whoever
    can rename files there could swap gpg's answers, so it is not used."""
    from package_trust.check.gpg import scratch

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky: anyone may rename what is in it
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    assert scratch() != str(shared)
    shared.chmod(0o1777)  # sticky, as /tmp and /dev/shm are: only owners rename
    assert scratch() == str(shared)


def test_gpg_gone_after_the_keyring_was_made_is_an_error(
    auditors: Auditors, keys: dict[str, Key], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gpg removed (an upgrade) between making the keyring and verifying: a clear error,
    and nothing left behind in the scratch folder."""
    from package_trust.check.gpg import Keyring
    from package_trust.check.ledger import LedgerFile
    from package_trust.errors import GpgError

    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    with Keyring([LedgerFile("alice.asc", auditors.export(keys["alice"]))]) as ring:
        monkeypatch.setattr(ring, "_binary", str(tmp_path / "no-such-gpg"))
        with pytest.raises(GpgError, match="cannot run gpg"):
            ring.verify_many([auditors.statement(keys["alice"], "left-pad", "1.3.0")])
    assert list(run.iterdir()) == []
