"""What a developer whose commit is blocked sees, and the JSON a workflow reads."""

from __future__ import annotations

import json

import pytest

from package_trust.cli import main
from support import Key, Project


def test_trusted_signature_passes(
    project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]
) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    assert main(["check"]) == 0
    assert "All 1 package is audited" in capsys.readouterr().out


def test_blocked_report(project: Project, keys: dict[str, Key],
                        capsys: pytest.CaptureFixture[str]) -> None:
    for k in ("alice", "bob", "carol"):
        project.add_key(keys[k])
    project.policy([keys["alice"], keys["bob"]], minimum=2)
    project.lockfile({"left-pad": "1.3.0", "right-pad": "1.0.0", "up-pad": "2.0.0",
                      "@scope/pad": "3.0.0"})
    for k in ("alice", "bob"):
        project.sign(keys[k], "left-pad", "1.3.0")
    project.sign(keys["alice"], "right-pad", "1.0.0")
    project.sign(keys["carol"], "right-pad", "1.0.0")
    assert main(["check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("3 of 4 packages are not audited "
                      "(trust-policy.yml: 2 signatures from trusted keys)")
    text = "\n".join(out)
    assert "left-pad" not in text  # packages that passed are never listed
    assert ("  right-pad@1.0.0: unaudited: 1 of 2 required signatures (Alice); "
            f"{keys['carol'].fingerprint}.sig: signed by untrusted key "
            f"{keys['carol'].fingerprint} (Carol <carol@example.org>)") in out
    assert ("  up-pad@2.0.0: unaudited: 0 of 2 required signatures; "
            "no signed statement in the ledger") in out
    assert "      via @scope/pad, a direct dependency (package-lock.json:26)" in out
    assert ("    package-trust sign right-pad@1.0.0 up-pad@2.0.0 @scope/pad@3.0.0 "
            "--key YOUR-FINGERPRINT") in out
    assert '      - package: "right-pad@1.0.0"' in out


def test_json_output(project: Project, keys: dict[str, Key],
                     capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0", "right-pad": "1.0.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    assert main(["check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"packages": 2, "failing": 1, "passed": False}
    assert report["ledgers"] == [{"description": ".", "revision": None}]
    by_name = {p["name"]: p for p in report["packages"]}
    assert {k: by_name["left-pad"][k] for k in
            ("version", "status", "signatures", "required", "problems")} == {
        "version": "1.3.0", "status": "audited", "signatures": 1, "required": 1,
        "problems": []}
    assert by_name["right-pad"]["status"] == "unaudited"
    assert by_name["right-pad"]["line"] == 16


def test_gpg_missing_is_an_error(project: Project, keys: dict[str, Key],
                                 monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["check"]) == 2
    assert "gpg (GnuPG) is not installed" in capsys.readouterr().err


def test_hook_passing_only_policy_files_checks_the_lockfile(
    project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]
) -> None:
    """pre-commit passes what changed: the policy or its lock alone re-check the lockfile."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    for changed in (["trust-policy.yml"], ["trust-policy.lock"]):
        assert main(["check", *changed]) == 1
        assert "left-pad@1.3.0: unaudited" in capsys.readouterr().out
    (project.root / "package-lock.json").unlink()
    assert main(["check", "trust-policy.yml"]) == 2
    assert "no lockfile found" in capsys.readouterr().err


def test_hostile_names_are_shown_escaped(project: Project, keys: dict[str, Key],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"evil\x1b]0;owned\x07\u202egnp.exe": "1.0.0\r\n  ok"})
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert all(line.isprintable() for line in out.splitlines())
    assert "  evil\\x1b]0;owned\\x07\\u202egnp.exe@1.0.0\\r\\n  ok: " in out
    assert "      via evil\\x1b]0;owned\\x07\\u202egnp.exe, a direct dependency (" in out
