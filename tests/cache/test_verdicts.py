"""Package verdicts (verdicts.py): a check judges again only the packages whose statements
changed, and never passes where a fresh check would fail.

Every check here first removes the whole-result cache (``check`` from test_cache.py), so
that what answers a repeated check is the verdict layer beneath it. Which statements gpg
really verified is seen through the logging wrapper around the real gpg (``gpg_log``).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from test_cache import check, key

from git_support import LedgerRepo, git_policy
from package_trust.cli import main
from support import Auditors, GpgLog, Key, Project, integrity_of

PACKAGES = {"left-pad": "1.3.0", "@scope/pad": "2.0.0", "is-odd": "3.0.1"}


def sql(tmp_path: Path, statement: str, *params: object) -> list[tuple[Any, ...]]:
    """Run one statement on the cache's database; its rows."""
    path = tmp_path / "cache" / "package-trust" / "verifications.sqlite3"
    db = sqlite3.connect(path)
    try:
        with db:
            return db.execute(statement, params).fetchall()
    finally:
        db.close()


def forget_verifications(tmp_path: Path) -> None:
    """Leave only the verdicts: a statement no verdict covers must go through gpg."""
    sql(tmp_path, "DELETE FROM verification")


def verdict_bodies(tmp_path: Path) -> list[str]:
    return [body for (body,) in sql(tmp_path, "SELECT body FROM verdict")]


@pytest.fixture
def audited(project: Project, keys: dict[str, Key]) -> Project:
    """Three packages (one scoped), each signed by alice; alice and bob trusted, one
    signature needed."""
    for k in ("alice", "bob"):
        project.add_key(keys[k])
    project.policy([keys["alice"], keys["bob"]])
    project.lockfile(PACKAGES)
    for name, version in PACKAGES.items():
        project.sign(keys["alice"], name, version)
    return project


# -- what verdicts spare ---------------------------------------------------------------------


def test_only_changed_packages_are_read_and_verified(
    audited: Project, keys: dict[str, Key], gpg_log: GpgLog, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With the verification cache emptied, the packages already audited come from their
    verdicts: gpg verifies only the statement of the package added to the lockfile."""
    assert check(capsys)[0] == 0
    assert gpg_log.verified() == [3]
    assert len(verdict_bodies(tmp_path)) == 3
    forget_verifications(tmp_path)
    audited.lockfile({**PACKAGES, "is-even": "1.0.0"})
    audited.sign(keys["alice"], "is-even", "1.0.0")
    code, out = check(capsys)
    assert code == 0, out
    assert "All 4 packages are audited" in out
    assert gpg_log.verified() == [1]
    assert len(verdict_bodies(tmp_path)) == 4


def test_verdicts_are_recalled_as_gpg_starts(
    audited: Project, keys: dict[str, Key], gpg_log: GpgLog, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The memo is asked a few packages at a time while gpg verifies (engine.py): kept
    verdicts found in any of those steps spare their packages, and one that no longer
    holds, in a later step, is judged afresh."""
    from package_trust.check import engine

    monkeypatch.setattr(engine, "FIRST_RECALL", 1)
    monkeypatch.setattr(engine, "MAX_RECALL", 2)
    assert check(capsys)[0] == 0
    forget_verifications(tmp_path)
    audited.lockfile({"is-even": "1.0.0", **PACKAGES})
    audited.sign(keys["alice"], "is-even", "1.0.0")
    _sig(audited, keys["alice"], "is-odd", "3.0.1").write_text("altered")
    code, out = check(capsys)
    assert code == 1, out
    assert "1 of 4 packages is not audited" in out
    assert "is-odd@3.0.1: unaudited" in out and "not a clearsigned statement" in out
    assert gpg_log.verified() == [3, 1]  # is-even; is-odd's statement is refused before gpg


# -- never a pass that a fresh check would fail ----------------------------------------------


def _sig(project: Project, k: Key, name: str = "left-pad", version: str = "1.3.0") -> Path:
    return project.root / "signatures" / name / version / f"{k.fingerprint}.sig"


def _behind_a_link(project: Project, folder: str) -> None:
    """The same statements, moved elsewhere and put behind a link the check refuses."""
    path = project.root / "signatures" / folder
    moved = project.root / "elsewhere" / folder.replace("/", "-")
    moved.parent.mkdir(exist_ok=True)
    shutil.move(path, moved)
    os.symlink(moved, path)


CHANGES = {  # change -> (the package that fails, what the report says)
    "altered": ("left-pad@1.3.0", "bad signature"),
    "rejection": ("left-pad@1.3.0", "rejected by Bob"),
    "removed": ("left-pad@1.3.0", "no signed statement in the ledger"),
    "name-link": ("left-pad@1.3.0", "is a link; not followed"),
    "version-link": ("left-pad@1.3.0", "is a link; not followed"),
    "scope-link": ("@scope/pad@2.0.0", "is a link; not followed"),
    "revoked": ("left-pad@1.3.0", "revoked"),
    "two-required": ("left-pad@1.3.0", "1 of 2 required signatures (Alice)"),
    "other-key": ("left-pad@1.3.0", "signed by untrusted key"),
    "integrity": ("left-pad@1.3.0", "integrity mismatch"),
    "second-ledger": ("left-pad@1.3.0", "rejected by Bob"),  # added to the second ledger
    "added-ledger": ("left-pad@1.3.0", "rejected by Bob"),  # by a ledger not read before
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_after_a_pass_is_judged_afresh(
    audited: Project, auditors: Auditors, keys: dict[str, Key], tmp_path: Path, change: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A change to anything a verdict rests on fails the check, with the same report that
    ``check --no-cache`` gives."""
    alice, bob = keys["alice"], keys["bob"]
    second = Project(tmp_path / "second", auditors)  # a second ledger, for the last two
    both = ["--ledger", str(audited.root), "--ledger", str(second.root)]
    args = {"second-ledger": both, "added-ledger": both[:2]}.get(change, [])
    if change == "revoked":  # left-pad signed only by a key about to be revoked
        revoked = key(auditors, "verdict-revoked")
        audited.add_key(revoked)
        audited.policy([alice, bob, revoked])
        _sig(audited, alice).unlink()
        audited.sign(revoked, "left-pad", "1.3.0")
    code, out = check(capsys, *args)
    assert code == 0, out

    rejection = auditors.statement(bob, "left-pad", "1.3.0", verdict="rejected")
    if change == "altered":  # same size, new content
        sig = _sig(audited, alice)
        sig.write_text(sig.read_text().replace('"time": 1700000000000', '"time": 1700000000001'))
    elif change == "rejection":
        audited.add_statement("left-pad", "1.3.0", rejection, "bob.sig")
    elif change == "removed":
        _sig(audited, alice).unlink()
    elif change == "name-link":
        _behind_a_link(audited, "left-pad")
    elif change == "version-link":
        _behind_a_link(audited, "left-pad/1.3.0")
    elif change == "scope-link":
        _behind_a_link(audited, "@scope")
    elif change == "revoked":
        auditors.revoke(revoked)
        audited.add_key(revoked)
    elif change == "two-required":
        audited.policy([alice, bob], minimum=2)
    elif change == "other-key":
        audited.policy([bob])
    elif change == "integrity":
        lock = json.loads((audited.root / "package-lock.json").read_text())
        lock["packages"]["node_modules/left-pad"]["integrity"] = integrity_of(b"another")
        (audited.root / "package-lock.json").write_text(json.dumps(lock))
    elif change in ("second-ledger", "added-ledger"):
        second.add_statement("left-pad", "1.3.0", rejection, "bob.sig")
        args = both

    code, out = check(capsys, *args)
    spec, reason = CHANGES[change]
    assert code == 1, out
    failing = [line for line in out.splitlines() if line.startswith(f"  {spec}: ")]
    assert len(failing) == 1 and reason in failing[0], out
    assert check(capsys, *args, "--no-cache") == (code, out)


# -- verdicts that lapse, or are not as stored -----------------------------------------------


def test_a_lapsed_verdict_is_verified_again(
    audited: Project, keys: dict[str, Key], gpg_log: GpgLog, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A verdict counting a signature that expires in a year holds until then only; a year
    later (its row and the verification's set to have lapsed) gpg verifies it again."""
    audited.sign(keys["alice"], "is-odd", "3.0.1", sig_expire="1y")
    assert check(capsys)[0] == 0
    gpg_log.take()
    now, year = int(time.time()), 366 * 86400
    lapsing = "WHERE valid_until < ?"
    [(until,)] = sql(tmp_path, f"SELECT valid_until FROM verdict {lapsing}", now + year)
    assert now < until  # the other verdicts last until alice's key expires, in two years
    for table in ("verdict", "verification"):
        sql(tmp_path, f"UPDATE {table} SET valid_until = ? {lapsing}", now - 1, now + year)
    code, out = check(capsys)
    assert code == 0, out
    assert gpg_log.verified() == [1]


DAMAGE = {  # what is done to the verdict rows -> SQL
    "body": "UPDATE verdict SET body = replace(body, 'Alice', 'Mallory')",
    "signers": """UPDATE verdict SET signers = '["Mallory"]'""",
    "digest": "UPDATE verdict SET digest = 12345",
    "paths": "UPDATE verdict SET paths = x'00ff'",
    "no-paths": "UPDATE verdict SET paths = ''",
    "signed-in-future": "UPDATE verdict SET signed_at = signed_at + 86400",
    "signed-at-text": "UPDATE verdict SET signed_at = 'yesterday'",
    "until-text": "UPDATE verdict SET valid_until = 'never'",
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_an_altered_verdict_is_not_used(
    audited: Project, gpg_log: GpgLog, tmp_path: Path, damage: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A verdict row altered or malformed is ignored: the package is verified again, the
    report says nothing the row was made to say, and the verdict is stored afresh."""
    assert check(capsys)[0] == 0
    forget_verifications(tmp_path)
    sql(tmp_path, DAMAGE[damage])
    gpg_log.take()
    assert main(["verify", "left-pad@1.3.0", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "Mallory" not in out and "(Alice)" in out
    assert gpg_log.verified() == [1]
    code, out = check(capsys)
    assert code == 0, out
    assert gpg_log.verified() == [2]  # the two other packages
    assert "Mallory" not in "".join(verdict_bodies(tmp_path))
    forget_verifications(tmp_path)
    assert check(capsys)[0] == 0
    assert gpg_log.take() == []  # every verdict was stored again


def test_a_database_of_garbage_is_rebuilt(
    audited: Project, gpg_log: GpgLog, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A cache file that is no database: the check verifies everything, then keeps the
    verdicts again."""
    assert check(capsys)[0] == 0
    gpg_log.take()
    (tmp_path / "cache" / "package-trust" / "verifications.sqlite3").write_bytes(b"garbage" * 99)
    assert check(capsys)[0] == 0
    assert gpg_log.verified() == [3]
    assert len(verdict_bodies(tmp_path)) == 3


# -- what a report from verdicts says --------------------------------------------------------


def test_a_report_from_verdicts_is_a_fresh_one(
    audited: Project, keys: dict[str, Key], gpg_log: GpgLog, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The JSON report (every package, every statement's details) and ``verify`` read the
    same from verdicts as from a check with no cache at all."""
    audited.sign(keys["bob"], "left-pad", "1.3.0", verdict="audited", notes="looked fine")
    assert check(capsys)[0] == 0
    forget_verifications(tmp_path)
    gpg_log.take()
    code, reused = check(capsys, "--format", "json")
    assert code == 0
    assert gpg_log.take() == []  # every package from its verdict
    fresh = check(capsys, "--format", "json", "--no-cache")
    assert fresh[0] == 0 and gpg_log.verified() == [4]
    assert json.loads(reused) == json.loads(fresh[1])
    left_pad = next(p for p in json.loads(reused)["packages"] if p["name"] == "left-pad")
    assert sorted(left_pad["signers"]) == ["Alice", "Bob"]
    assert sorted(str(s["notes"]) for s in left_pad["statements"]) == ["None", "looked fine"]

    assert main(["verify", "left-pad@1.3.0", "--offline"]) == 0
    from_verdict = capsys.readouterr().out
    assert gpg_log.take() == []
    assert "notes: looked fine" in from_verdict and "2 of 1 required signatures" in from_verdict
    monkeypatch.setenv("PACKAGE_TRUST_NO_CACHE", "1")
    assert main(["verify", "left-pad@1.3.0", "--offline"]) == 0
    assert capsys.readouterr().out == from_verdict


# -- what is never kept ----------------------------------------------------------------------


def test_a_failing_package_is_not_kept(
    project: Project, keys: dict[str, Key], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Two signatures required: left-pad has both and is kept; is-odd, with one, is not."""
    alice, bob = keys["alice"], keys["bob"]
    for k in (alice, bob):
        project.add_key(k)
    project.policy([alice, bob], minimum=2)
    project.lockfile({"left-pad": "1.3.0", "is-odd": "3.0.1"})
    for k in (alice, bob):
        project.sign(k, "left-pad", "1.3.0")
    project.sign(alice, "is-odd", "3.0.1")
    for _ in range(2):
        code, out = check(capsys)
        assert code == 1 and "is-odd@3.0.1: unaudited: 1 of 2" in out, out
        [body] = verdict_bodies(tmp_path)
        assert "left-pad" in body and "is-odd" not in body


def test_a_git_ledger_keeps_no_verdicts(
    project: Project, auditors: Auditors, keys: dict[str, Key], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A git ledger may move with a fetch: its checks keep no verdict."""
    repo = LedgerRepo(tmp_path / "server", auditors)
    repo.add_key(keys["alice"])
    repo.sign(keys["alice"], "left-pad", "1.3.0")
    repo.commit()
    git_policy(project, [keys["alice"]], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    for _ in range(2):
        code, out = check(capsys)
        assert code == 0, out
    assert verdict_bodies(tmp_path) == []


def _rejection(auditors: Auditors, keys: dict[str, Key]) -> bytes:
    return auditors.statement(keys["bob"], "left-pad", "1.3.0", verdict="rejected")


def test_a_verdict_is_kept_for_its_own_clone(
    project: Project, tmp_path: Path, auditors: Auditors, keys: dict[str, Key],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Two clones of one project (same policy and keys/, both ledgers shown as "."): what
    was kept in clone A never answers for clone B, whose ledger rejects the package."""
    clones = [project, Project(tmp_path / "b", auditors)]
    for clone in clones:
        for k in ("alice", "bob"):
            clone.add_key(keys[k])
        clone.policy([keys["alice"], keys["bob"]])
        clone.lockfile({"left-pad": "1.3.0"})
        clone.sign(keys["alice"], "left-pad", "1.3.0")
    clones[1].add_statement("left-pad", "1.3.0", _rejection(auditors, keys), "bob.sig")
    assert check(capsys)[0] == 0
    monkeypatch.chdir(clones[1].root)
    code, out = check(capsys)
    assert code == 1 and "rejected by Bob" in out
    assert check(capsys, "--no-cache") == (code, out)


def test_a_package_read_twice_is_kept_with_what_its_judgement_read(
    project: Project, auditors: Auditors, keys: dict[str, Key],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """One package in two lockfiles is read twice by one check. A rejection lands in the
    ledger between the two reads (a `git pull` running meanwhile): what is kept must not
    vouch for the ledger with the rejection, so later checks fail, as fresh ones do."""
    from package_trust.check.ledger.folder import FolderLedger

    for k in ("alice", "bob"):
        project.add_key(keys[k])
    project.policy([keys["alice"], keys["bob"]])
    project.lockfile({"left-pad": "1.3.0"})
    (project.root / "sub").mkdir()
    project.lockfile({"left-pad": "1.3.0"}, name="sub/package-lock.json")
    project.sign(keys["alice"], "left-pad", "1.3.0")
    read = FolderLedger.statements
    calls: list[str] = []

    def meanwhile(self: FolderLedger, name: str, version: str) -> Any:
        calls.append(name)
        if len(calls) == 2:
            project.add_statement("left-pad", "1.3.0", _rejection(auditors, keys), "bob.sig")
        return read(self, name, version)

    files = ["package-lock.json", "sub/package-lock.json"]
    monkeypatch.setattr(FolderLedger, "statements", meanwhile)
    check(capsys, *files)
    monkeypatch.setattr(FolderLedger, "statements", read)
    code, out = check(capsys, *files)
    assert code == 1 and "rejected by Bob" in out
    assert check(capsys, *files, "--no-cache") == (code, out)


def test_a_verdict_row_answers_only_for_its_package(
    audited: Project, auditors: Auditors, keys: dict[str, Key], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A damaged row (here: is-odd's verdict under left-pad's key, as a damaged page might
    leave it) is not taken for left-pad's, which a rejection now fails."""
    assert check(capsys)[0] == 0
    rows = sql(tmp_path, "SELECT k, id, body FROM verdict")
    [(k, package, _)] = [r for r in rows if "left-pad" in r[2]]
    [(other, _, _)] = [r for r in rows if "is-odd" in r[2]]
    sql(tmp_path, "DELETE FROM verdict WHERE k = ?", k)
    sql(tmp_path, "UPDATE verdict SET k = ?, id = ? WHERE k = ?", k, package, other)
    audited.add_statement("left-pad", "1.3.0", _rejection(auditors, keys), "bob.sig")
    code, out = check(capsys)
    assert code == 1 and "rejected by Bob" in out


def test_a_pinned_git_ledger_keeps_verdicts_by_its_commit(
    project: Project, auditors: Auditors, keys: dict[str, Key], gpg_log: GpgLog,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """At the commit its lock file pins, a git ledger never changes: its verdicts are kept
    by the commit, and only a package new to the lockfile is verified. Pinned to another
    commit, every package is judged afresh."""
    alice, bob = keys["alice"], keys["bob"]
    repo = LedgerRepo(tmp_path / "server", auditors)
    for k in (alice, bob):
        repo.add_key(k)
    for name, version in {**PACKAGES, "is-even": "1.0.0"}.items():
        repo.sign(alice, name, version)
    repo.commit()
    git_policy(project, [alice, bob], [{"git": repo.url}])
    project.lockfile(PACKAGES)
    assert main(["ledger", "lock"]) == 0
    capsys.readouterr()
    assert check(capsys)[0] == 0
    assert gpg_log.verified() == [3]
    assert len(verdict_bodies(tmp_path)) == 3
    forget_verifications(tmp_path)
    project.lockfile({**PACKAGES, "is-even": "1.0.0"})
    code, out = check(capsys)
    assert code == 0 and "All 4 packages are audited" in out, out
    assert gpg_log.verified() == [1]
    repo.file("signatures/left-pad/1.3.0/bob.sig", _rejection(auditors, keys))
    repo.commit("rejected")
    assert main(["ledger", "lock"]) == 0
    capsys.readouterr()
    code, out = check(capsys)
    assert code == 1 and "rejected by Bob" in out
    assert check(capsys, "--no-cache") == (code, out)


def test_a_verdict_holds_only_for_the_signatures_it_was_judged_by(
    project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]
) -> None:
    """Audited as a development package (one signature needed), left-pad is not audited
    once production needs it (two): its kept verdict is not reused."""
    for k in ("alice", "bob"):
        project.add_key(keys[k])
    path = project.policy([keys["alice"], keys["bob"]])
    path.write_text(path.read_text().replace(
        "minimum-signatures: 1", "minimum-signatures:\n  production: 2\n  development: 1"))
    project.sign(keys["alice"], "left-pad", "1.3.0")
    lock = project.lockfile({"left-pad": "1.3.0"})
    data = json.loads(lock.read_text())
    for scope, dev in (("devDependencies", True), ("dependencies", False)):
        data["packages"][""] = {"name": "demo", scope: {"left-pad": "1.3.0"}}
        data["packages"]["node_modules/left-pad"]["dev"] = dev
        lock.write_text(json.dumps(data))
        (project.root / "package.json").write_text(
            json.dumps({"name": "demo", scope: {"left-pad": "1.3.0"}}))
        code, out = check(capsys)
        assert (code, dev) in ((0, True), (1, False)), out
    assert "left-pad@1.3.0: unaudited: 1 of 2 required signatures" in out
