"""``keys export|list|add``: public keys in a ledger's keys/, checked before they are kept."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from package_trust.check.gpg import Keyring
from package_trust.check.ledger import LedgerFile
from package_trust.cli import main
from support import Auditors, Key, Project


def key_file(project: Project, key: Key) -> Path:
    return project.root / "keys" / f"{key.fingerprint}.asc"


def holds(path: Path) -> list[str]:
    """The fingerprints in a key file, as an isolated keyring reads it."""
    with Keyring([LedgerFile(str(path), path.read_bytes())]) as keyring:
        return list(keyring.keys)


def test_export_writes_the_users_public_key(project: Project, auditors: Auditors,
                                            keys: dict[str, Key],
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    project.policy([keys["bob"]])
    monkeypatch.setenv("GNUPGHOME", auditors.home)
    assert main(["keys", "export", "alice@example.org"]) == 0
    out = capsys.readouterr().out
    assert f"wrote keys/{alice.fingerprint}.asc: {alice.fingerprint} Alice" in out
    assert "does not trust this key yet: add it under trusted-keys:" in out
    assert f"\n  - fingerprint: {alice.fingerprint}" in out
    data = key_file(project, alice).read_bytes()
    assert data.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert b"PRIVATE" not in data
    assert holds(key_file(project, alice)) == [alice.fingerprint]


def test_export_of_an_unknown_key(project: Project, auditors: Auditors,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GNUPGHOME", auditors.home)
    assert main(["keys", "export", "nobody@example.org"]) == 2
    assert "no key nobody@example.org in your GnuPG keyring" in capsys.readouterr().err
    assert list((project.root / "keys").iterdir()) == []
    assert main(["keys", "export", "example.org"]) == 2  # matches every auditor
    assert "keys match 'example.org'" in capsys.readouterr().err


def test_list_shows_expiry_revocation_and_trust(project: Project, auditors: Auditors,
                                                keys: dict[str, Key],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    revoked = auditors.keys.get("krevoked") or auditors.create("krevoked")
    auditors.revoke(revoked)
    for k in (keys["alice"], keys["carol"], keys["erin"], revoked):
        project.add_key(k)
    project.policy([keys["alice"], keys["bob"]])
    assert main(["keys", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    alice = next(x for x in lines if x.startswith(keys["alice"].fingerprint))
    assert "valid, expires 20" in alice and "trusted as Alice" in alice
    assert "    Alice <alice@example.org>" in lines
    carol = next(x for x in lines if x.startswith(keys["carol"].fingerprint))
    assert "not trusted by the policy" in carol
    erin = next(x for x in lines if x.startswith(keys["erin"].fingerprint))
    assert "expired on 2020-01-02" in erin
    assert "is revoked" in next(x for x in lines if x.startswith(revoked.fingerprint))
    assert f"!! {keys['bob'].fingerprint} (Bob) is trusted by the policy but not in keys/" in out


def test_add_a_key_file(project: Project, auditors: Auditors, keys: dict[str, Key],
                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bob = keys["bob"]
    (tmp_path / "bob.asc").write_bytes(auditors.export(bob))
    assert main(["keys", "add", str(tmp_path / "bob.asc")]) == 0
    assert f"wrote keys/{bob.fingerprint}.asc" in capsys.readouterr().out
    assert holds(key_file(project, bob)) == [bob.fingerprint]


@pytest.mark.parametrize("case", ["two keys", "expired", "revoked", "secret", "garbage"])
def test_add_refuses(case: str, project: Project, auditors: Auditors, keys: dict[str, Key],
                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alice, bob = keys["alice"], keys["bob"]
    if case == "two keys":
        data, message = auditors.export(alice) + auditors.export(bob), "found 2"
    elif case == "expired":
        data, message = auditors.export(keys["erin"]), "expired on 2020-01-02; not added"
    elif case == "revoked":
        revoked = auditors.keys.get("krevoked") or auditors.create("krevoked")
        auditors.revoke(revoked)
        data, message = auditors.export(revoked), "is revoked; not added"
    elif case == "secret":
        data = auditors.gpg("--armor", "--export-secret-keys", alice.fingerprint)
        message = "holds a SECRET key"
    else:
        data, message = b"not a key", "expected exactly one public key, found 0"
    (tmp_path / "key.asc").write_bytes(data)
    assert main(["keys", "add", str(tmp_path / "key.asc")]) == 2
    assert message in capsys.readouterr().err
    assert list((project.root / "keys").iterdir()) == []


def test_add_never_drops_a_revocation_the_ledger_holds(project: Project, auditors: Auditors,
                                                       tmp_path: Path, capsys) -> None:
    key = auditors.create("krevoked2")
    (tmp_path / "before.asc").write_bytes(auditors.export(key))  # exported before revocation
    auditors.revoke(key)
    project.add_key(key)
    before = key_file(project, key).read_bytes()
    assert main(["keys", "add", str(tmp_path / "before.asc")]) == 2
    assert "is revoked; not added" in capsys.readouterr().err
    assert key_file(project, key).read_bytes() == before


def test_missing_file(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "add", "nope.asc"]) == 2
    assert "nope.asc: cannot read the key file" in capsys.readouterr().err


def test_list_shows_hostile_user_ids_escaped(project: Project, auditors: Auditors,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    if "mallory" not in auditors.keys:
        auditors.gpg("--quick-gen-key", "Mallory\x1b[8m\x07 evil <mallory@example.org>",
                     "ed25519", "sign", "2y")
        listing = auditors.gpg("--with-colons", "--list-keys", "<mallory@example.org>")
        fpr = next(x.split(":")[9] for x in listing.decode().splitlines() if x.startswith("fpr:"))
        auditors.keys["mallory"] = Key("mallory", fpr, fpr)
    project.add_key(auditors.keys["mallory"])
    assert main(["keys", "list"]) == 0
    out = capsys.readouterr().out
    assert all(line.isprintable() for line in out.splitlines())
    assert "    Mallory\\x1b[8m\\x07 evil <mallory@example.org>\n" in out


def test_add_writes_no_empty_key_file(project: Project, auditors: Auditors, keys: dict[str, Key],
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A gpg whose export gives nothing (the real gpg, but --export answers empty)."""
    real = shutil.which("gpg")
    assert real is not None
    wrapper = tmp_path / "bin" / "gpg"
    wrapper.parent.mkdir()
    wrapper.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = --export ] && exit 0; done\n'
                       f'exec {shlex.quote(real)} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PACKAGE_TRUST_GPG", str(wrapper))
    (tmp_path / "bob.asc").write_bytes(auditors.export(keys["bob"]))
    assert main(["keys", "add", str(tmp_path / "bob.asc")]) == 2
    assert f"gpg exported nothing for key {keys['bob'].fingerprint}; nothing written" \
        in capsys.readouterr().err
    assert list((project.root / "keys").iterdir()) == []


def test_add_refuses_to_write_through_a_link(project: Project, auditors: Auditors,
                                             keys: dict[str, Key], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """keys/ that is a link elsewhere: nothing is written there."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = project.root / "keys"
    if folder.exists():
        folder.rename(tmp_path / "old-keys")
    folder.symlink_to(elsewhere)
    (tmp_path / "bob.asc").write_bytes(auditors.export(keys["bob"]))
    assert main(["keys", "add", str(tmp_path / "bob.asc")]) == 2
    assert "is a link; refusing to write a key through it" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []
