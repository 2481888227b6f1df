"""The whole-check cache: a repeated check starts no gpg and reads no statement, and
nothing it depends on can change without it noticing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from package_trust.cli import main
from support import Auditors, GpgLog, Key, Project


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().out


def results(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "package-trust" / "results").glob("*.json"))


@pytest.fixture
def audited(project: Project, keys: dict[str, Key]) -> Project:
    for k in ("alice", "bob"):
        project.add_key(keys[k])
    project.policy([keys["alice"], keys["bob"]])
    project.lockfile({"left-pad": "1.3.0", "@scope/pad": "2.0.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    project.sign(keys["alice"], "@scope/pad", "2.0.0")
    return project


def test_repeated_check_starts_no_gpg(audited: Project, gpg_log: GpgLog, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    first = check(capsys)
    assert first[0] == 0 and gpg_log.take()
    assert len(results(tmp_path)) == 1
    assert check(capsys) == first
    assert gpg_log.take() == []
    assert check(capsys, "--format", "json")[0] == 0  # another format: its own entry
    assert len(results(tmp_path)) == 2


@pytest.mark.parametrize("change", [
    "tamper", "rejection", "remove", "link", "revoke", "lockfile", "policy", "new-version",
])
def test_any_change_is_seen(audited: Project, keys: dict[str, Key], auditors: Auditors,
                            change: str, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert check(capsys)[0] == 0
    root = audited.root
    sig = root / "signatures/left-pad/1.3.0" / f"{keys['alice'].fingerprint}.sig"
    if change == "tamper":  # same size, new content
        sig.write_text(sig.read_text().replace('"time": 1700000000000', '"time": 1700000000001'))
    elif change == "rejection":
        audited.add_statement("left-pad", "1.3.0", auditors.statement(
            keys["bob"], "left-pad", "1.3.0", verdict="rejected"), "bob.sig")
    elif change == "remove":
        sig.unlink()
    elif change == "link":  # the same statements, behind a link the check refuses
        shutil.move(root / "signatures/left-pad", root / "elsewhere")
        os.symlink(root / "elsewhere", root / "signatures/left-pad")
    elif change == "revoke":
        frank = auditors.create(f"frank-{tmp_path.name[-8:]}")
        audited.add_key(frank)
        audited.policy([keys["alice"], frank])
        audited.sign(frank, "left-pad", "1.3.0")
        audited.sign(frank, "@scope/pad", "2.0.0")
        audited.policy([frank])
        assert check(capsys)[0] == 0
        auditors.revoke(frank)
        audited.add_key(frank)
    elif change == "lockfile":
        audited.lockfile({"left-pad": "1.3.0", "@scope/pad": "2.0.1"})
    elif change == "policy":
        audited.policy([keys["alice"], keys["bob"]], minimum=2)
    elif change == "new-version":  # the lockfile moves to a version signed only later
        audited.lockfile({"left-pad": "1.3.1", "@scope/pad": "2.0.0"})
        assert check(capsys)[0] == 1
        audited.sign(keys["alice"], "left-pad", "1.3.1")
        assert check(capsys)[0] == 0
        (root / "signatures/left-pad/1.3.1" / f"{keys['alice'].fingerprint}.sig").unlink()
    code, out = check(capsys)
    assert code == 1, out


def test_failing_checks_are_not_cached(project: Project, keys: dict[str, Key], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    assert check(capsys)[0] == 1
    assert results(tmp_path) == []


def test_corrupt_or_lapsed_entries_are_ignored(audited: Project, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert check(capsys)[0] == 0
    [entry] = results(tmp_path)
    data = json.loads(entry.read_text())
    for broken in ("{not json", json.dumps({**data, "until": 1.0}),
                   json.dumps({**data, "date": "2000-01-01"}), json.dumps({**data, "code": "0"}),
                   json.dumps({**data, "paths": "=/nonexistent"}),
                   json.dumps({**data, "digest": "0" * 64})):
        entry.write_text(broken)
        assert check(capsys)[0] == 0
        assert json.loads(entry.read_text())["code"] == 0, broken  # checked afresh, stored again


@pytest.mark.parametrize("how", [["--no-cache"], "env"])
def test_can_be_turned_off(audited: Project, gpg_log: GpgLog, how: object, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    args = how if isinstance(how, list) else []
    if how == "env":
        monkeypatch.setenv("PACKAGE_TRUST_NO_CACHE", "1")
    for _ in range(2):
        assert check(capsys, *args)[0] == 0
        assert gpg_log.take()
    assert results(tmp_path) == []


def test_gpg_gone_is_still_an_error(audited: Project, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert check(capsys)[0] == 0
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["check"]) == 2
    assert "gpg (GnuPG) is not installed" in capsys.readouterr().err


def test_a_ledger_link_pointed_elsewhere_is_seen(audited: Project, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """--ledger names a link to a ledger; pointed at another ledger, without the
    statements, the next check is judged afresh (as `--no-cache` would), not from a cache."""
    other = tmp_path / "other-ledger"
    shutil.copytree(audited.root / "keys", other / "keys")
    (other / "signatures").mkdir()
    link = tmp_path / "ledger-link"
    link.symlink_to(audited.root)
    assert check(capsys, "--ledger", str(link))[0] == 0
    link.unlink()
    link.symlink_to(other)
    code, out = check(capsys, "--ledger", str(link))
    assert code == 1, out
    assert check(capsys, "--ledger", str(link), "--no-cache")[0] == 1
