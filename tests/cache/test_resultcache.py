"""The whole-check cache: a repeated check starts no gpg and reads no statement, and
nothing it depends on can change without it noticing."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from package_trust.cli import main
from support import Auditors, GpgLog, Key, Project


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().out


KEPT = "SELECT id, gpg, since, paths, digest, result, valid_until FROM result"


def results(tmp_path: Path, sql: str = KEPT, *params: object) -> list[tuple[Any, ...]]:
    """Run ``sql`` (by default: list the kept results) on the cache's database."""
    path = tmp_path / "cache" / "package-trust" / "verifications.sqlite3"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        return db.execute(sql, params).fetchall()


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


BROKEN = (  # what is done to a kept result -> SQL
    "UPDATE result SET result = '{not json'",
    "UPDATE result SET valid_until = 1",  # lapsed
    "UPDATE result SET since = since + 86400",  # kept tomorrow: the clock went back
    "UPDATE result SET since = '0'",  # not of its type
    "UPDATE result SET paths = '=/nonexistent'",
    "UPDATE result SET digest = '" + "0" * 64 + "'",
    "UPDATE result SET result = replace(result, 'audited', 'exempt')",
)


def test_corrupt_or_lapsed_entries_are_ignored(audited: Project, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    first = check(capsys)
    assert first[0] == 0
    [kept] = results(tmp_path)
    for broken in BROKEN:
        results(tmp_path, broken)
        [damaged] = results(tmp_path)
        assert check(capsys) == first, broken
        [again] = results(tmp_path)  # checked afresh, stored again (resting on what the
        assert again != damaged, broken  # kept verdicts rest on, now: its paths change)
        assert again[:3] + again[5:] == kept[:3] + kept[5:], broken


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


def test_a_lockfile_that_is_a_link_is_answered_from_the_kept_result(
        audited: Project, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The kept result rests on the link and on the file it leads to (through a second
    link): unchanged, the check is answered from it; the file changed, or a link pointed
    at another file, and it is judged afresh."""
    import package_trust.commands.check as command

    judged: list[object] = []
    judge = command.run_check
    monkeypatch.setattr(command, "run_check", lambda *a: judged.append(a) or judge(*a))
    locks = audited.root / "locks"
    locks.mkdir()
    (audited.root / "package-lock.json").rename(locks / "real.json")
    shutil.copy(locks / "real.json", locks / "copy.json")
    (locks / "current.json").symlink_to("real.json")
    (audited.root / "package-lock.json").symlink_to("locks/current.json")
    first = check(capsys)
    assert first[0] == 0 and len(judged) == 1
    assert check(capsys) == first and len(judged) == 1  # answered from the kept result
    (locks / "real.json").write_text((locks / "real.json").read_text() + "\n")
    assert check(capsys)[0] == 0 and len(judged) == 2  # the file changed
    assert check(capsys)[0] == 0 and len(judged) == 2
    (locks / "current.json").unlink()
    (locks / "current.json").symlink_to("copy.json")
    assert check(capsys)[0] == 0 and len(judged) == 3  # the second link pointed elsewhere


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown", "html"])
def test_a_kept_result_reads_as_a_fresh_one(audited: Project, gpg_log: GpgLog, fmt: str,
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """What is kept is the report each command printed, as a check with no cache at all
    prints it."""
    first = check(capsys, "--format", fmt)
    assert first[0] == 0 and gpg_log.take()
    assert len(results(tmp_path)) == 1
    assert check(capsys, "--format", fmt) == first
    assert gpg_log.take() == []
    assert check(capsys, "--format", fmt, "--no-cache") == first


def test_a_pinned_git_ledger_is_kept_by_its_commit(
    project: Project, keys: dict[str, Key], auditors: Auditors, gpg_log: GpgLog,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A git ledger at the commit the lock file pins never changes: a repeated check
    starts neither gpg nor git. Pinned elsewhere, the check is judged afresh; a ledger that
    follows a branch (a fetch may move it) keeps no result."""
    from git_support import LedgerRepo, git_policy

    repo = LedgerRepo(tmp_path / "server", auditors)
    repo.add_key(keys["alice"])
    repo.add_key(keys["bob"])
    repo.sign(keys["alice"], "left-pad", "1.3.0")
    repo.commit()
    git_policy(project, [keys["alice"], keys["bob"]], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    assert check(capsys)[0] == 0
    assert results(tmp_path) == []  # not pinned: nothing kept
    assert main(["ledger", "lock"]) == 0
    capsys.readouterr()
    first = check(capsys)
    assert first[0] == 0 and gpg_log.take()
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", "/nonexistent")  # no git, and gpg only by its full path
    assert check(capsys) == first
    assert gpg_log.take() == []
    monkeypatch.setenv("PATH", path)
    repo.file("signatures/left-pad/1.3.0/bob.sig", auditors.statement(
        keys["bob"], "left-pad", "1.3.0", verdict="rejected"))
    repo.commit("rejected")
    assert main(["ledger", "lock"]) == 0
    capsys.readouterr()
    code, out = check(capsys)
    assert code == 1 and "rejected by Bob" in out
    assert check(capsys, "--no-cache") == (code, out)


def test_a_check_that_needs_no_gpg_keeps_nothing_without_one(
    project: Project, keys: dict[str, Key], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No package to verify: the check passes without gpg, and no result is kept without
    the gpg it would be reused with."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({})
    monkeypatch.setenv("PATH", "/nonexistent")
    for _ in range(2):
        code, out = check(capsys)
        assert code == 0 and "No packages to check" in out, out
    assert results(tmp_path) == []


# -- what the printed report rests on beside the files: a kept one is what a fresh check prints


@pytest.mark.parametrize("var", ["NPM_CONFIG_REGISTRY", "npm_config_registry",
                                 "Npm_Config_Registry"])
def test_the_registry_in_the_environment_is_part_of_the_key(
    project: Project, keys: dict[str, Key], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], var: str,
) -> None:
    """An exemption pinned to no integrity covers what the registries serve, and
    $NPM_CONFIG_REGISTRY (in any case, as npm reads it) names one: a check with another
    one is not answered from it."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]], extra='exemptions:\n  - package: "evil"\n'
                                         "    reason: ours\n")
    path = project.lockfile({"left-pad": "1.3.0", "evil": "1.0.0"})
    data = json.loads(path.read_text())
    data["packages"]["node_modules/evil"]["resolved"] = (
        "https://evil.example/evil/-/evil-1.0.0.tgz")
    path.write_text(json.dumps(data))
    project.sign(keys["alice"], "left-pad", "1.3.0")
    monkeypatch.setenv(var, "https://evil.example/")
    assert check(capsys)[0] == 0
    monkeypatch.delenv(var)
    assert check(capsys)[0] == 1
    assert check(capsys, "--no-cache")[0] == 1


def test_fail_on_is_part_of_the_key(audited: Project, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    """--fail-on new changes a passing Markdown report's text."""
    check(capsys, "--format", "markdown")
    fresh = check(capsys, "--format", "markdown", "--fail-on", "new", "--no-cache")
    assert check(capsys, "--format", "markdown", "--fail-on", "new") == fresh


def test_a_lockfile_appearing_above_a_named_package_json_is_seen(
    project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]
) -> None:
    """Named a package.json, the check looks for its lockfile there and in each folder
    above (its workspace root's): one appearing there is a miss."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    (project.root / "a" / "b").mkdir(parents=True)
    (project.root / "a" / "b" / "package.json").write_text('{"name": "b"}\n')
    (project.root / "a" / "package.json").write_text('{"name": "a", "workspaces": ["b"]}\n')
    assert check(capsys, "a/b/package.json")[0] == 0  # nothing to check yet
    project.lockfile({"left-pad": "1.3.0"}, name="a/package-lock.json")
    fresh = check(capsys, "a/b/package.json", "--no-cache")
    assert fresh[0] == 1
    assert check(capsys, "a/b/package.json") == fresh


def _evil_exempted(project: Project, keys: dict[str, Key], exemption: str,
                   registry: str | None = None) -> None:
    """left-pad audited; evil (from ``registry``, else npm's) covered by nothing but
    ``exemption``."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]], extra=exemption)
    path = project.lockfile({"left-pad": "1.3.0", "evil": "1.0.0"})
    if registry is not None:
        data = json.loads(path.read_text())
        data["packages"]["node_modules/evil"]["resolved"] = f"{registry}evil/-/evil-1.0.0.tgz"
        path.write_text(json.dumps(data))
    project.sign(keys["alice"], "left-pad", "1.3.0")


def test_another_time_zone_where_it_is_another_day_is_not_answered(
    project: Project, keys: dict[str, Key], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An exemption that ends today where the check ran has ended where it is already
    tomorrow: a check there is not answered from the report kept here."""
    import datetime as dt
    import time

    behind, ahead = "Etc/GMT+12", "Etc/GMT-14"  # 26 hours apart: never the same day
    monkeypatch.setenv("TZ", behind)
    time.tzset()
    try:
        today = dt.date.today().isoformat()
        _evil_exempted(project, keys, 'exemptions:\n  - package: "evil@1.0.0"\n'
                                      f"    reason: ours\n    expires: {today}\n")
        code, out = check(capsys)
        assert code == 0, out
        monkeypatch.setenv("TZ", ahead)
        time.tzset()
        assert check(capsys)[0] == 1
        assert check(capsys, "--no-cache")[0] == 1
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_file_changed_while_the_check_reads_is_not_kept(
    project: Project, keys: dict[str, Key], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The project's .npmrc names the registry an exemption covers; edited just after
    the check read it, what the check judged is not what is on disk: nothing is kept,
    and the next check judges the file as it is."""
    from package_trust.check.lockfile import npmrc

    _evil_exempted(project, keys, 'exemptions:\n  - package: "evil"\n    reason: ours\n',
                   "https://evil.example/")
    (project.root / ".npmrc").write_text("registry=https://evil.example/\n")
    read = npmrc.registries

    def edited_meanwhile(folder: Path) -> tuple[str, ...]:
        found = read(folder)
        (folder / ".npmrc").write_text("# the registry line, removed\n")
        return found

    monkeypatch.setattr(npmrc, "registries", edited_meanwhile)
    assert check(capsys)[0] == 0  # what it read said evil.example
    monkeypatch.setattr(npmrc, "registries", read)
    assert check(capsys)[0] == 1
    assert check(capsys, "--no-cache")[0] == 1
