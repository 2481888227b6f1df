"""The seed's whole workflow, end to end: fetch, inspect, sign, verify, publish the key,
and the check then passes a lockfile that holds the package."""

from __future__ import annotations

import json

import pytest

from package_trust.cli import main
from registry_server import FakeRegistry, left_pad
from support import Auditors, Key, Project, integrity_of


def test_fetch_sign_verify_then_check_passes(project: Project, registry: FakeRegistry,
                                             auditors: Auditors, keys: dict[str, Key],
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    tarball = left_pad("1.3.0")
    registry.publish("left-pad", "1.3.0", tarball)
    alice = keys["alice"]
    monkeypatch.setenv("GNUPGHOME", auditors.home)  # the auditor's own GnuPG
    project.policy([alice])

    assert main(["fetch", "left-pad@1.3.0"]) == 0
    out = capsys.readouterr().out
    assert "sha512 and sha1 match the registry's" in out
    assert "lifecycle scripts: none" in out
    # in the user's cache folder ($XDG_CACHE_HOME), not in the project
    assert (project.fetched / "left-pad/1.3.0/index.js").is_file()
    assert not (project.root / "packages").exists()

    assert main(["keys", "export", alice.fingerprint]) == 0
    assert (project.root / "keys" / f"{alice.fingerprint}.asc").is_file()

    assert main(["sign", "left-pad@1.3.0", "--key", alice.fingerprint,
                 "--notes", "read every line"]) == 0
    out = capsys.readouterr().out
    assert "it verifies in an isolated keyring" in out
    sig = project.root / "signatures/left-pad/1.3.0" / f"{alice.fingerprint}.sig"
    assert sig.read_bytes().startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")

    monkeypatch.setenv("GNUPGHOME", str(project.root / "no-such-gnupghome"))
    assert main(["verify", "left-pad@1.3.0"]) == 0
    out = capsys.readouterr().out
    assert f"good: {alice.fingerprint} Alice <alice@example.org> (trusted)" in out
    assert "verdict: audited" in out and "hash: matches" in out
    assert "notes: read every line" in out

    lock = project.lockfile({"left-pad": "1.3.0"})
    data = json.loads(lock.read_text())
    data["packages"]["node_modules/left-pad"]["integrity"] = integrity_of(tarball)
    lock.write_text(json.dumps(data))
    assert main(["check"]) == 0
    assert "All 1 package is audited" in capsys.readouterr().out
