"""``sign``: the statement, signed with the auditor's own GnuPG, verified before it is kept."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from package_trust.cli import main
from registry_server import FakeRegistry, left_pad, sha512_b64
from support import Auditors, GpgLog, Key, Project


@pytest.fixture
def signer(project: Project, registry: FakeRegistry, auditors: Auditors,
           monkeypatch: pytest.MonkeyPatch) -> bytes:
    """left-pad@1.3.0 in the registry, the auditors' GnuPG as the user's; the tarball."""
    tarball = left_pad()
    registry.publish("left-pad", "1.3.0", tarball)
    monkeypatch.setenv("GNUPGHOME", auditors.home)
    return tarball


@pytest.fixture(scope="module")
def locked() -> Iterator[tuple[str, str]]:
    """A GnuPG home whose key has a passphrase and whose agent has no pinentry to ask it."""
    home = Auditors()
    agent_conf = Path(home.home, "gpg-agent.conf")
    agent_conf.write_text("s2k-count 65536\n")  # no slow calibration of the passphrase hash
    subprocess.run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "secret",
                    "--quick-gen-key", "Locked <locked@example.org>", "ed25519", "sign", "1y"],
                   env=home.env, check=True, capture_output=True)
    listing = home.gpg("--with-colons", "--list-keys").decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines()
                       if line.startswith("fpr:"))
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=home.env, check=False)
    agent_conf.write_text("pinentry-program /nonexistent/pinentry\n")
    yield home.home, fingerprint
    home.close()


def signed_json(path: Path) -> dict[str, Any]:
    line = next(x for x in path.read_text().splitlines() if x.startswith("{"))
    data: dict[str, Any] = json.loads(line)
    return data


def sig_path(project: Project, key: Key, root: Path | None = None) -> Path:
    return (root or project.root) / "signatures/left-pad/1.3.0" / f"{key.fingerprint}.sig"


def no_statement_files(project: Project) -> bool:
    return not [p for p in (project.root / "signatures").rglob("*") if p.is_file()]


def test_sign_fetches_signs_and_verifies(project: Project, signer: bytes, keys: dict[str, Key],
                                         gpg_log: GpgLog,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    project.add_key(alice)
    before = int(time.time() * 1000)
    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint,
                 "--notes", "no install scripts; index.js read in full"]) == 0
    out = capsys.readouterr().out
    assert "left-pad@1.3.0 is not fetched yet: fetching it" in out
    assert f"signed left-pad@1.3.0 (audited) as Alice <alice@example.org> ({alice.fingerprint})" \
        in out
    assert "it verifies in an isolated keyring" in out
    assert "keys export" not in out  # the key is already in keys/
    # one isolated keyring, built once, checks the new statement
    assert len([line for line in gpg_log.take()
                if " --import " in f" {line} " and "show-only" not in line]) == 1
    body = signed_json(sig_path(project, alice))
    assert body["package"] == "left-pad" and body["version"] == "1.3.0"
    assert body["hash"]["sha512"] == sha512_b64(signer)
    assert len(body["hash"]["sha1"]) == 40
    assert body["verdict"] == "audited"
    assert body["notes"] == "no install scripts; index.js read in full"
    assert before <= body["time"] <= int(time.time() * 1000)
    assert (project.fetched / "left-pad/1.3.0.tgz").read_bytes() == signer


def test_a_key_missing_from_keys_is_named_with_the_command_to_add_it(
    project: Project, signer: bytes, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]
) -> None:
    bob = keys["bob"]
    assert main(["sign", "left-pad@1.3.0", "--key", bob.fingerprint]) == 0
    out = capsys.readouterr().out
    assert f"add it with: package-trust keys export {bob.fingerprint}" in out
    assert sig_path(project, bob).is_file()


def test_refuses_to_overwrite_without_force(project: Project, signer: bytes,
                                            keys: dict[str, Key],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint, "--notes", "one"]) == 0
    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint, "--notes", "two"]) == 2
    assert "already signed left-pad@1.3.0 (use --force to replace it)" in capsys.readouterr().err
    assert signed_json(sig_path(project, alice))["notes"] == "one"
    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint, "--notes", "two",
                 "--force"]) == 0
    assert signed_json(sig_path(project, alice))["notes"] == "two"


def test_a_failed_replacement_keeps_the_old_statement(project: Project, signer: bytes,
                                                     keys: dict[str, Key],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint, "--notes", "one"]) == 0

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint, "--notes", "two",
                 "--force"]) == 2
    assert "cannot write the statement: No space left on device" in capsys.readouterr().err
    assert signed_json(sig_path(project, alice))["notes"] == "one"
    assert [p.name for p in sig_path(project, alice).parent.iterdir()] == [
        f"{alice.fingerprint}.sig"]  # nothing half-written beside it


def test_rejected_verdict(project: Project, signer: bytes, keys: dict[str, Key],
                          capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    project.add_key(alice)
    project.policy([alice])
    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint, "--verdict", "rejected",
                 "--notes", "postinstall downloads a binary"]) == 0
    assert signed_json(sig_path(project, alice))["verdict"] == "rejected"
    assert main(["verify", "left-pad@1.3.0"]) == 1
    assert "rejected by Alice" in capsys.readouterr().out


def test_subkey_fingerprint_names_the_primary(project: Project, signer: bytes,
                                              keys: dict[str, Key]) -> None:
    dave = keys["dave"]
    assert main(["sign", "left-pad@1.3.0", "--key", dave.signing]) == 0
    assert sig_path(project, dave).is_file()


def test_ledger_defaults_to_the_policys_first_folder(project: Project, signer: bytes,
                                                     keys: dict[str, Key]) -> None:
    alice = keys["alice"]
    project.policy([alice], extra="ledgers:\n  - path: audits\n")
    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint]) == 0
    assert sig_path(project, alice, project.root / "audits").is_file()
    other = project.root.parent / "elsewhere"
    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint, "--ledger", str(other)]) == 0
    assert sig_path(project, alice, other).is_file()


def test_short_key_id_is_refused(project: Project, signer: bytes, keys: dict[str, Key],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", "left-pad@1.3.0", "--key", keys["alice"].fingerprint[-16:]]) == 2
    assert "is not a full key fingerprint" in capsys.readouterr().err
    assert no_statement_files(project)


def test_no_secret_key(project: Project, signer: bytes, auditors: Auditors, keys: dict[str, Key],
                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    public_only = Auditors()  # a keyring that holds alice's public key, not her secret key
    try:
        public_only.gpg("--import", data=auditors.export(keys["alice"]))
        monkeypatch.setenv("GNUPGHOME", public_only.home)
        assert main(["sign", "left-pad@1.3.0", "--key", keys["alice"].fingerprint]) == 2
    finally:
        public_only.close()
    err = capsys.readouterr().err
    assert f"no secret key {keys['alice'].fingerprint} in your GnuPG keyring" in err
    assert no_statement_files(project)


def test_expired_key_cannot_sign(project: Project, signer: bytes, keys: dict[str, Key],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", "left-pad@1.3.0", "--key", keys["erin"].fingerprint]) == 2
    err = capsys.readouterr().err
    assert "gpg could not sign with" in err and "Unusable secret key" in err, err
    assert no_statement_files(project)


def test_agent_that_cannot_get_the_passphrase(project: Project, signer: bytes,
                                              locked: tuple[str, str],
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    home, fingerprint = locked
    monkeypatch.setenv("GNUPGHOME", home)
    assert main(["sign", "left-pad@1.3.0", "--key", fingerprint]) == 2
    err = capsys.readouterr().err
    assert f"gpg could not sign with {fingerprint}" in err
    assert "No pinentry" in err and "check its pinentry" in err
    assert no_statement_files(project)
    assert not list((project.root / "signatures").rglob(".*"))


def test_a_tarball_changed_since_the_fetch_is_not_signed(
    project: Project, signer: bytes, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    (project.fetched / "left-pad/1.3.0.tgz").write_bytes(left_pad("6.6.6"))
    assert main(["sign", "left-pad@1.3.0", "--key", keys["alice"].fingerprint]) == 2
    err = capsys.readouterr().err
    assert "does not match the registry's integrity" in err and "fetch again" in err
    assert no_statement_files(project)


def test_never_writes_through_a_link(project: Project, signer: bytes, keys: dict[str, Key],
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (project.root / "signatures/left-pad").symlink_to(outside)
    assert main(["sign", "left-pad@1.3.0", "--key", keys["alice"].fingerprint]) == 2
    assert "is a link; refusing to write a statement through it" in capsys.readouterr().err
    assert list(outside.iterdir()) == []


def test_sign_records_what_the_tarball_ships(
    project: Project, registry: FakeRegistry, auditors: Auditors, keys: dict[str, Key],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The bundled packages and the shrinkwrap's pins are signed with the tarball, and a
    check then covers a lockfile's bundled entry only as the statement lists it."""
    from registry_server import manifest, tgz

    shrinkwrap = {"lockfileVersion": 3, "packages": {"": {}, "node_modules/pinned": {
        "version": "3.0.0", "resolved": "https://registry.npmjs.org/pinned/-/pinned-3.0.0.tgz",
        "integrity": "sha512-" + "A" * 86 + "=="}}}
    tarball = tgz({"package.json": manifest("parent", "1.0.0"),
                   "npm-shrinkwrap.json": json.dumps(shrinkwrap).encode(),
                   "node_modules/child/package.json": manifest("child", "2.0.0"),
                   "node_modules/@s/x/package.json": manifest("@s/x", "1.0.0"),
                   "node_modules/child/node_modules/deep/package.json": manifest("deep", "4.0.0")})
    registry.publish("parent", "1.0.0", tarball)
    monkeypatch.setenv("GNUPGHOME", auditors.home)
    alice = keys["alice"]
    project.add_key(alice)
    assert main(["sign", "parent@1.0.0", "--key", alice.fingerprint]) == 0
    body = signed_json(project.root / "signatures/parent/1.0.0" / f"{alice.fingerprint}.sig")
    assert body["bundled"] == [
        {"path": "node_modules/@s/x", "name": "@s/x", "version": "1.0.0"},
        {"path": "node_modules/child", "name": "child", "version": "2.0.0"},
        {"path": "node_modules/child/node_modules/deep", "name": "deep", "version": "4.0.0"},
    ]
    assert [(p["path"], p["name"], p["version"]) for p in body["shrinkwrap"]] == [
        ("node_modules/pinned", "pinned", "3.0.0")]
