"""``package-trust ledger lock`` and ``ledger update``, and checks against pinned commits."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from git_support import LedgerRepo, git, git_policy
from package_trust.cli import main
from support import Key, Project


@pytest.fixture
def repo(tmp_path: Path, auditors) -> LedgerRepo:  # type: ignore[no-untyped-def]
    return LedgerRepo(tmp_path / "server", auditors)


def ledger(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["ledger", *args])
    out, err = capsys.readouterr()
    return code, out, err


def check(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check"])
    out, err = capsys.readouterr()
    return code, out, err


def setup(project: Project, repo: LedgerRepo, alice: Key, **entry: str) -> str:
    repo.add_key(alice)
    repo.sign(alice, "left-pad", "1.3.0")
    commit = repo.commit()
    git_policy(project, [alice], [{"git": repo.url, **entry}])
    project.lockfile({"left-pad": "1.3.0", "is-even": "1.0.0"})
    return commit


def test_lock_writes_the_commit_of_every_source(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    commit = setup(project, repo, keys["alice"], ref="main")
    code, out, _ = ledger(capsys, "lock")
    assert code == 0
    assert out == f"{repo.url}: main at {commit}\nwrote trust-policy.lock\n"
    path = project.root / "trust-policy.lock"
    assert yaml.safe_load(path.read_text()) == {
        "ledgers": [{"git": repo.url, "ref": "main", "commit": commit}]
    }
    assert path.read_text().startswith("# Written by `package-trust ledger lock`")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in project.root.iterdir() if "trust" in p.name) == [
        "trust-policy.lock", "trust-policy.yml"]


def test_checks_read_the_pinned_commit_until_the_lock_moves(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    pinned = setup(project, repo, alice)
    assert ledger(capsys, "lock")[0] == 0
    repo.sign(alice, "is-even", "1.0.0")
    newer = repo.commit()
    monkeypatch.setenv("PACKAGE_TRUST_LEDGER_MAX_AGE", "0")  # no fetch moves a pin
    code, out, _ = check(capsys)
    assert code == 1 and f"at {pinned}" in out
    code, out, _ = ledger(capsys, "update")
    assert out == (
        f"{repo.url}: the default branch moved from {pinned} to {newer}\n"
        f"  trust-policy.lock still pins {pinned}: run `package-trust ledger lock` to read "
        f"{newer}\n"
    )
    assert check(capsys)[0] == 1
    assert ledger(capsys, "lock")[0] == 0
    code, out, _ = check(capsys)
    assert code == 0 and f"at {newer}" in out
    code, out, _ = ledger(capsys, "update")
    assert code == 0 and out == f"{repo.url}: the default branch is up to date at {newer}\n"


def test_update_without_a_cache_and_without_a_lock(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    commit = setup(project, repo, keys["alice"], ref="main")
    code, out, _ = ledger(capsys, "update")
    assert code == 0 and out == f"{repo.url}: fetched main at {commit}\n"


def test_a_pinned_commit_is_fetched_into_a_fresh_cache(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Even when no branch holds it any more, as long as the server still has it."""
    alice = keys["alice"]
    repo.add_key(alice)
    repo.commit()
    git(repo.work, "checkout", "--quiet", "-b", "review")
    repo.sign(alice, "left-pad", "1.3.0")
    pinned = repo.commit(push=False)
    repo.push("review")
    git_policy(project, [alice], [{"git": repo.url, "ref": "review"}])
    project.lockfile({"left-pad": "1.3.0", "is-even": "1.0.0"})
    assert ledger(capsys, "lock")[0] == 0
    git(repo.bare, "update-ref", "-d", "refs/heads/review")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh-cache"))
    code, out, _ = check(capsys)
    assert code == 1 and "left-pad" not in out and f"at {pinned}" in out


def test_a_commit_id_as_ref_is_a_pin(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    first = setup(project, repo, alice)
    repo.sign(alice, "is-even", "1.0.0")
    repo.commit()
    git_policy(project, [alice], [{"git": repo.url, "ref": first}])
    code, out, _ = check(capsys)
    assert code == 1 and f"at {first}" in out
    code, out, _ = ledger(capsys, "lock")
    assert code == 0 and f"{repo.url}: {first} at {first}" in out


def test_a_source_missing_from_the_lock_is_exit_2(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    setup(project, repo, keys["alice"])
    assert ledger(capsys, "lock")[0] == 0
    git_policy(project, [keys["alice"]], [{"git": repo.url, "ref": "main"}])
    code, _, err = check(capsys)
    assert code == 2
    assert f"trust-policy.yml:6: ledger {repo.url} (ref main, path .) is not pinned in " \
           "trust-policy.lock: run `package-trust ledger lock`" in err


def test_lock_fails_without_writing_when_a_source_is_unreachable(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup(project, repo, keys["alice"])
    assert ledger(capsys, "lock")[0] == 0
    before = (project.root / "trust-policy.lock").read_bytes()
    url = (tmp_path / "nowhere.git").as_uri()
    git_policy(project, [keys["alice"]], [{"git": repo.url}, {"git": url}])
    code, out, err = ledger(capsys, "lock")
    assert code == 2 and "wrote" not in out
    assert f"trust-policy.yml:7: ledger {url}: cannot fetch: " in err
    assert (project.root / "trust-policy.lock").read_bytes() == before


def test_update_reports_each_source(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    commit = setup(project, repo, keys["alice"])
    url = (tmp_path / "nowhere.git").as_uri()
    git_policy(project, [keys["alice"]], [{"git": url}, {"git": repo.url}])
    code, out, err = ledger(capsys, "update")
    assert code == 2
    assert out == f"{repo.url}: fetched the default branch at {commit}\n"
    assert f"ledger {url}: cannot fetch: " in err


def test_lock_refuses_a_repository_that_is_not_a_ledger(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    repo.file("README.md", b"hello\n")
    repo.commit()
    git_policy(project, [keys["alice"]], [{"git": repo.url}])
    code, _, err = ledger(capsys, "lock")
    assert code == 2 and "not a ledger: it has no keys/ folder" in err
    assert not (project.root / "trust-policy.lock").exists()


def test_no_git_ledgers(project: Project, keys: dict[str, Key],
                        capsys: pytest.CaptureFixture[str]) -> None:
    project.policy([keys["alice"]])
    code, out, _ = ledger(capsys, "lock")
    assert code == 0 and out == "trust-policy.yml names no git ledgers: nothing to lock\n"
    assert not (project.root / "trust-policy.lock").exists()


@pytest.mark.parametrize(("text", "message"), [
    ("ledgers: [\n", "trust-policy.lock:2: not valid YAML"),
    ("ledgers:\n  - git: x\n", "trust-policy.lock:2: a pinned ledger is missing commit"),
    ("ledgers:\n  - git: x\n    commit: abc\n",
     "trust-policy.lock:3: commit 'abc' is not a full commit id"),
    ("pins: []\n", "trust-policy.lock:1: unknown key 'pins' in the lock file"),
])
def test_a_bad_lock_file_names_the_line(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
    text: str, message: str,
) -> None:
    setup(project, repo, keys["alice"])
    (project.root / "trust-policy.lock").write_text(text)
    code, _, err = check(capsys)
    assert code == 2 and message in err


def test_the_lock_sits_next_to_the_policy_named(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    setup(project, repo, keys["alice"])
    policy = project.root / "config" / "audit-policy.yml"
    policy.parent.mkdir()
    (project.root / "trust-policy.yml").rename(policy)
    code, out, _ = ledger(capsys, "lock", "--policy", str(policy))
    assert code == 0 and out.endswith(f"wrote {policy.with_suffix('.lock')}\n")
    assert main(["check", "--policy", str(policy)]) == 1  # is-even is not audited
