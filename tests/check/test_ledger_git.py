"""Ledgers in git repositories, served by file:// URLs: clone, refresh, moved refs, rewritten
history, offline use, several sources, and hostile repositories."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from git_support import LedgerRepo, git, git_policy
from package_trust.check.gpg import MAX_STATEMENT_BYTES
from package_trust.cli import main
from package_trust.formats import FORMATS
from support import Key, Project


@pytest.fixture
def repo(tmp_path: Path, auditors) -> LedgerRepo:  # type: ignore[no-untyped-def]
    return LedgerRepo(tmp_path / "server", auditors)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def cache_of(tmp_path: Path, url: str) -> Path:
    digest = hashlib.sha256(url.encode()).hexdigest()
    return tmp_path / "cache" / "package-trust" / "ledgers" / digest


def audited_repo(repo: LedgerRepo, key: Key, *packages: tuple[str, str]) -> str:
    repo.add_key(key)
    for name, version in packages:
        repo.sign(key, name, version)
    return repo.commit()


def test_first_clone_reads_the_commit_and_names_it(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    commit = audited_repo(repo, alice, ("left-pad", "1.3.0"), ("@scope/pkg", "2.0.0"))
    git_policy(project, [alice], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0", "@scope/pkg": "2.0.0"})
    code, out, _ = run(capsys)
    assert code == 0, out
    assert "All 2 packages are audited" in out
    assert f"ledgers: {repo.url} at {commit}" in out
    cache = cache_of(tmp_path, repo.url)
    assert (cache / "repo.git" / "HEAD").is_file()
    assert not (cache / "repo.git" / "signatures").exists()  # no working tree, ever
    assert sorted(p.name for p in cache.iterdir()) == ["fetched", "lock", "repo.git"]
    for folder in (cache, cache.parent, cache.parent.parent):  # its refs are trusted: private
        assert folder.stat().st_mode & 0o777 == 0o700
    code, out, _ = run(capsys, "--format", "json")
    assert json.loads(out)["ledgers"] == [{"description": repo.url, "revision": commit}]


def test_a_folder_inside_the_repository(
    project: Project, keys: dict[str, Key], tmp_path: Path, auditors,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    repo = LedgerRepo(tmp_path / "server", auditors, prefix="npm/ledger")
    repo.file("README.md", b"audits\n")
    commit = audited_repo(repo, alice, ("left-pad", "1.3.0"))
    git_policy(project, [alice], [{"git": repo.url, "ref": "main", "path": "npm/ledger"}])
    project.lockfile({"left-pad": "1.3.0"})
    code, out, _ = run(capsys)
    assert code == 0, out
    assert f"ledgers: {repo.url}//npm/ledger at {commit}" in out


def test_refreshes_only_when_the_cache_is_old(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    first = audited_repo(repo, alice, ("left-pad", "1.3.0"))
    git_policy(project, [alice], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0", "is-even": "1.0.0"})
    assert run(capsys)[0] == 1
    repo.sign(alice, "is-even", "1.0.0")
    second = repo.commit()
    code, out, _ = run(capsys)  # fetched moments ago: the cache is fresh
    assert code == 1 and f"at {first}" in out
    monkeypatch.setenv("PACKAGE_TRUST_LEDGER_MAX_AGE", "0")
    code, out, _ = run(capsys)
    assert code == 0 and f"at {second}" in out


def test_max_age_must_be_a_duration(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    audited_repo(repo, keys["alice"], ("left-pad", "1.3.0"))
    git_policy(project, [keys["alice"]], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    monkeypatch.setenv("PACKAGE_TRUST_LEDGER_MAX_AGE", "soon")
    code, _, err = run(capsys)
    assert code == 2 and "PACKAGE_TRUST_LEDGER_MAX_AGE='soon' is not a duration" in err


@pytest.mark.parametrize("kind", ["branch", "tag"])
def test_a_ref_that_moved(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], kind: str,
) -> None:
    alice = keys["alice"]
    first = audited_repo(repo, alice, ("left-pad", "1.3.0"))
    ref = "stable" if kind == "branch" else "v1"
    target = "refs/heads/stable" if kind == "branch" else "refs/tags/v1"
    git(repo.work, "update-ref", target, first)
    repo.push(target)
    repo.sign(alice, "is-even", "1.0.0")
    repo.commit()  # main moves on; the ref stays
    git_policy(project, [alice], [{"git": repo.url, "ref": ref}])
    project.lockfile({"left-pad": "1.3.0", "is-even": "1.0.0"})
    code, out, _ = run(capsys)
    assert code == 1 and f"at {first}" in out
    second = repo.head()
    git(repo.work, "update-ref", target, second)
    repo.push(target, force=True)
    monkeypatch.setenv("PACKAGE_TRUST_LEDGER_MAX_AGE", "0")
    code, out, _ = run(capsys)
    assert code == 0 and f"at {second}" in out


def test_a_missing_ref_is_a_clear_error(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    audited_repo(repo, keys["alice"], ("left-pad", "1.3.0"))
    git_policy(project, [keys["alice"]], [{"git": repo.url, "ref": "no-such-branch"}])
    project.lockfile({"left-pad": "1.3.0"})
    code, _, err = run(capsys)
    assert code == 2
    assert f"trust-policy.yml:6: ledger {repo.url}: the repository has no branch or tag " \
           "'no-such-branch'" in err


def test_a_remote_without_a_default_branch_needs_a_ref(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    audited_repo(repo, keys["alice"], ("left-pad", "1.3.0"))
    git(repo.bare, "symbolic-ref", "HEAD", "refs/heads/no-such-branch")
    git_policy(project, [keys["alice"]], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    code, _, err = run(capsys)
    assert code == 2 and "no default branch (HEAD): name one with ref:" in err
    git_policy(project, [keys["alice"]], [{"git": repo.url, "ref": "main"}])
    assert run(capsys)[0] == 0


def test_force_pushed_history_is_followed(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    audited_repo(repo, alice, ("left-pad", "1.3.0"))
    git_policy(project, [alice], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    assert run(capsys)[0] == 0
    # The maintainers rewrite history: the audit of left-pad is gone.
    git(repo.work, "checkout", "--quiet", "--orphan", "rewritten")
    git(repo.work, "rm", "--quiet", "-r", "-f", "signatures")
    rewritten = repo.commit("rewritten", push=False)
    git(repo.work, "push", "--quiet", "--force", str(repo.bare), "rewritten:main")
    monkeypatch.setenv("PACKAGE_TRUST_LEDGER_MAX_AGE", "0")
    code, out, _ = run(capsys)
    assert code == 1, out
    assert f"at {rewritten}" in out and "no signed statement in the ledger" in out


def test_a_pinned_commit_that_no_longer_exists_upstream(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    pinned = audited_repo(repo, alice, ("left-pad", "1.3.0"))
    git_policy(project, [alice], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    assert main(["ledger", "lock"]) == 0
    git(repo.work, "commit", "--quiet", "--amend", "-m", "rewritten")
    repo.push(force=True)
    repo.forget_unreachable()
    code, out, _ = run(capsys)  # still in this cache: a commit id names its content
    assert code == 0 and f"at {pinned}" in out
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-cache"))  # a fresh CI machine
    code, out, err = run(capsys)
    assert code == 2 and out == ""
    assert f"ledger {repo.url}: commit {pinned} no longer exists in the repository " \
           "(was its history rewritten?): run `package-trust ledger lock`" in err


def test_unreachable_with_a_cache_uses_it_and_says_how_old(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    commit = audited_repo(repo, alice, ("left-pad", "1.3.0"))
    git_policy(project, [alice], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    assert run(capsys)[0] == 0
    stamp = cache_of(tmp_path, repo.url) / "fetched"
    three_hours_ago = time.time() - 3 * 3600 - 60
    os.utime(stamp, (three_hours_ago, three_hours_ago))
    repo.bare.rename(repo.bare.with_name("gone.git"))  # the network is down
    code, out, _ = run(capsys)
    assert code == 0, out
    assert f"note: ledger {repo.url}: cannot fetch (" in out
    assert f"using the copy fetched 3 hours ago, at {commit}" in out
    code, out, _ = run(capsys, "--format", "json")
    assert "using the copy fetched 3 hours ago" in json.loads(out)["notices"][0]


def test_unreachable_without_a_cache_is_exit_2(
    project: Project, keys: dict[str, Key], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    url = (tmp_path / "nowhere.git").as_uri()
    git_policy(project, [keys["alice"]], [{"git": url}])
    project.lockfile({"left-pad": "1.3.0"})
    code, out, err = run(capsys)
    assert code == 2 and out == ""
    assert f"trust-policy.yml:6: ledger {url}: cannot fetch: " in err
    assert "and there is no cached copy" in err
    assert not list((tmp_path / "cache" / "package-trust" / "ledgers").glob("*/repo*"))


def test_unreachable_with_a_cache_that_lacks_the_ref_is_exit_2(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    audited_repo(repo, keys["alice"], ("left-pad", "1.3.0"))
    git_policy(project, [keys["alice"]], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    assert run(capsys)[0] == 0
    repo.bare.rename(repo.bare.with_name("gone.git"))
    git_policy(project, [keys["alice"]], [{"git": repo.url, "ref": "v2"}])
    code, _, err = run(capsys)
    assert code == 2 and "cannot fetch: " in err and "and the cached copy has no v2" in err


def test_two_folders_of_one_repository_share_its_cache(
    project: Project, keys: dict[str, Key], tmp_path: Path, auditors,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice, bob = keys["alice"], keys["bob"]
    repo = LedgerRepo(tmp_path / "server", auditors, prefix="a")
    audited_repo(repo, alice, ("left-pad", "1.3.0"))
    repo.prefix = "b"
    commit = audited_repo(repo, bob, ("left-pad", "1.3.0"))
    git_policy(project, [alice, bob], [{"git": repo.url, "path": "a"},
                                       {"git": repo.url, "path": "b"}], minimum=2)
    project.lockfile({"left-pad": "1.3.0"})
    code, out, _ = run(capsys)
    assert code == 0, out
    assert f"ledgers: {repo.url}//a at {commit}; {repo.url}//b at {commit}" in out
    assert len(list((tmp_path / "cache" / "package-trust" / "ledgers").iterdir())) == 1


def test_two_sources_with_statements_by_the_same_key_count_it_once(
    project: Project, keys: dict[str, Key], tmp_path: Path, auditors,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    alice, bob = keys["alice"], keys["bob"]
    one = LedgerRepo(tmp_path / "one", auditors, "one")
    two = LedgerRepo(tmp_path / "two", auditors, "two")
    first = audited_repo(one, alice, ("left-pad", "1.3.0"))
    two.add_key(bob)
    second = audited_repo(two, alice, ("left-pad", "1.3.0"))
    git_policy(project, [alice, bob], [{"git": one.url}, {"git": two.url}], minimum=2)
    project.lockfile({"left-pad": "1.3.0"})
    code, out, _ = run(capsys)
    assert code == 1
    assert "left-pad@1.3.0: unaudited: 1 of 2 required signatures (Alice)" in out
    assert f"ledgers: {one.url} at {first}; {two.url} at {second}" in out
    two.sign(bob, "left-pad", "1.3.0")
    two.commit()
    monkeypatch.setenv("PACKAGE_TRUST_LEDGER_MAX_AGE", "0")
    code, out, _ = run(capsys)
    assert code == 0, out


def test_a_git_source_and_a_folder_together(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    alice, bob = keys["alice"], keys["bob"]
    audited_repo(repo, alice, ("left-pad", "1.3.0"))
    project.add_key(bob)
    project.sign(bob, "left-pad", "1.3.0")
    git_policy(project, [alice, bob], [{"git": repo.url}, {"path": "."}], minimum=2)
    project.lockfile({"left-pad": "1.3.0"})
    code, out, _ = run(capsys)
    assert code == 0, out
    assert f"ledgers: {repo.url} at {repo.head()}; ." in out


def _tree(repo: LedgerRepo, lines: list[str]) -> str:
    return git(repo.work, "mktree", data="".join(f"{x}\n" for x in lines).encode())


def _replace(repo: LedgerRepo, tree: str, path: list[str], new: str) -> str:
    """``tree`` with the entry at ``path`` replaced by the tree ``new`` (git plumbing)."""
    lines = [x for x in git(repo.work, "ls-tree", tree).splitlines()
             if x.split("\t", 1)[1] != path[0]]
    if len(path) > 1:
        new = _replace(repo, git(repo.work, "rev-parse", f"{tree}:{path[0]}"), path[1:], new)
    return _tree(repo, [*lines, f"040000 tree {new}\t{path[0]}"])


def _raw_tree(repo: LedgerRepo, entries: list[tuple[str, str, str]]) -> str:
    """A tree written byte by byte, names git itself would refuse included."""
    data = b"".join(f"{mode} {name}".encode() + b"\0" + bytes.fromhex(oid)
                    for mode, name, oid in entries)
    return git(repo.work, "hash-object", "-t", "tree", "--literally", "-w", "--stdin", data=data)


def test_a_hostile_repository_cannot_reach_outside_its_files(
    project: Project, keys: dict[str, Key], tmp_path: Path, auditors,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    repo = LedgerRepo(tmp_path / "server", auditors, prefix="ledger")
    repo.add_key(alice)
    # Valid statements by a trusted key, planted outside the ledger's folder ...
    outside = repo.work / "outside"
    for name in ("left-pad", "is-even", "dotdot"):
        data = auditors.statement(alice, name, "1.0.0")
        (outside / name / "1.0.0").mkdir(parents=True)
        (outside / name / "1.0.0" / "alice.sig").write_bytes(data)
    secret = tmp_path / "secret.sig"
    secret.write_bytes(auditors.statement(alice, "is-odd", "1.0.0"))
    # ... and links that a checkout would follow to them, or out of the repository.
    sigs = repo.work / "ledger" / "signatures"
    (sigs / "is-even" / "1.0.0").mkdir(parents=True)
    (sigs / "left-pad").symlink_to("../../outside/left-pad")
    (sigs / "is-even" / "1.0.0" / "alice.sig").symlink_to(outside / "is-even/1.0.0/alice.sig")
    (sigs / "is-even" / "1.0.0" / "passwd.sig").symlink_to("/etc/passwd")
    (repo.work / "ledger" / "keys" / "passwd.asc").symlink_to("/etc/passwd")
    repo.file("keys/huge.asc", b"-" * (2 * 1024 * 1024))
    repo.file("signatures/is-odd/1.0.0/huge.sig", b"A" * (MAX_STATEMENT_BYTES + 1))
    (sigs / "is-odd" / "1.0.0" / "secret.sig").symlink_to(secret)
    base = repo.commit(push=False)
    # With plumbing: names no checkout allows, and a submodule.
    good = git(repo.work, "rev-parse", f"{base}:outside/dotdot/1.0.0/alice.sig")
    ledger_tree = git(repo.work, "rev-parse", f"{base}:ledger")
    version = _raw_tree(repo, [
        ("100644", "../../../../outside/dotdot/1.0.0/alice.sig", good),
        ("100644", "../alice.sig", good),
        ("40000", "..", ledger_tree),
        ("160000", "sub.sig", base),
    ])
    package = _tree(repo, [f"040000 tree {version}\t1.0.0"])
    root = _replace(repo, git(repo.work, "rev-parse", f"{base}^{{tree}}"),
                    ["ledger", "signatures", "dotdot"], package)
    commit = git(repo.work, "commit-tree", "-p", base, "-m", "hostile", root)
    git(repo.work, "push", "--quiet", str(repo.bare), f"{commit}:refs/heads/main")

    git_policy(project, [alice], [{"git": repo.url, "path": "ledger"}])
    project.lockfile({n: "1.0.0" for n in ("left-pad", "is-even", "is-odd", "dotdot")})
    code, out, _ = run(capsys, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["ledgers"] == [{"description": f"{repo.url}//ledger", "revision": commit}]
    problems = {p["name"]: p for p in report["packages"]}
    assert all(p["status"] == "unaudited" and p["signatures"] == 0 for p in problems.values())
    assert problems["left-pad"]["problems"] == ["left-pad: is a link; not followed"]
    assert sorted(problems["is-even"]["problems"]) == [
        "alice.sig: is a link; not followed", "passwd.sig: is a link; not followed"]
    assert sorted(problems["is-odd"]["problems"]) == [
        f"huge.sig: is larger than {MAX_STATEMENT_BYTES} bytes",
        "secret.sig: is a link; not followed"]
    assert sorted(problems["dotdot"]["problems"]) == [
        "alice.sig: has an unsafe name; not read",  # shown by its last part
        "alice.sig: has an unsafe name; not read",
        "sub.sig: is a submodule; not followed"]
    assert "root:" not in out


def test_a_keys_folder_that_is_a_link_is_refused(
    project: Project, keys: dict[str, Key], tmp_path: Path, auditors,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    repo = LedgerRepo(tmp_path / "server", auditors, prefix="ledger")
    repo.file("../trusted-keys/alice.asc", auditors.export(alice))
    (repo.work / "ledger" / "keys").symlink_to("../trusted-keys")
    repo.sign(alice, "left-pad", "1.0.0")
    repo.commit()
    git_policy(project, [alice], [{"git": repo.url, "path": "ledger"}])
    project.lockfile({"left-pad": "1.0.0"})
    code, _, err = run(capsys)
    assert code == 2
    assert f"{repo.url}//ledger/keys is a link; not followed" in err


def test_not_a_ledger(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
) -> None:
    repo.file("README.md", b"no keys here\n")
    commit = repo.commit()
    git_policy(project, [keys["alice"]], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    code, _, err = run(capsys)
    assert code == 2
    assert f"ledger {repo.url} at {commit}: not a ledger: it has no keys/ folder" in err


@pytest.mark.parametrize(("entry", "message"), [
    ({"ref": "main..evil"}, "ref 'main..evil' is not a branch, tag or full commit id"),
    ({"ref": "--upload-pack=touch"},
     "ref '--upload-pack=touch' is not a branch, tag or full commit id"),
    ({"path": "../elsewhere"}, "path '../elsewhere' must be a folder inside the repository"),
    ({"path": "/etc"}, "path '/etc' must be a folder inside the repository"),
])
def test_unsafe_policy_entries_name_the_line(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
    entry: dict[str, str], message: str,
) -> None:
    git_policy(project, [keys["alice"]], [{"git": repo.url, **entry}])
    project.lockfile({"left-pad": "1.3.0"})
    code, _, err = run(capsys)
    assert code == 2 and f"trust-policy.yml:6: {message}" in err


def test_a_url_cannot_run_commands(
    project: Project, keys: dict[str, Key], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    marker = tmp_path / "ran"
    git_policy(project, [keys["alice"]], [{"git": f"ext::sh -c touch% {marker}"}])
    project.lockfile({"left-pad": "1.3.0"})
    code, _, err = run(capsys)
    assert code == 2 and "cannot fetch" in err
    assert not marker.exists()


def test_works_inside_a_git_hook(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """pre-commit runs with GIT_DIR and GIT_INDEX_FILE set: they must not leak into the cache."""
    audited_repo(repo, keys["alice"], ("left-pad", "1.3.0"))
    git_policy(project, [keys["alice"]], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere" / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "elsewhere" / "index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(tmp_path / "elsewhere"))
    code, out, _ = run(capsys)
    assert code == 0, out


def test_concurrent_checks_share_one_cache(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, tmp_path: Path,
) -> None:
    alice = keys["alice"]
    audited_repo(repo, alice, ("left-pad", "1.3.0"))
    git_policy(project, [alice], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0"})
    env = {**os.environ, "PACKAGE_TRUST_LEDGER_MAX_AGE": "0"}
    procs = [subprocess.Popen([sys.executable, "-m", "package_trust", "check"], env=env,
                              cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(6)]
    results = [(p.wait(timeout=120), p.communicate()) for p in procs]
    assert [code for code, _ in results] == [0] * 6, results
    cache = cache_of(tmp_path, repo.url)
    assert sorted(p.name for p in cache.iterdir()) == ["fetched", "lock", "repo.git"]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_names_the_source_and_its_commit(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    alice = keys["alice"]
    commit = audited_repo(repo, alice, ("left-pad", "1.3.0"))
    git_policy(project, [alice], [{"git": repo.url}])
    project.lockfile({"left-pad": "1.3.0", "is-even": "1.0.0"})
    code, out, _ = run(capsys, "--format", fmt)
    assert code == 1
    assert repo.url in out and commit in out


def test_what_a_cache_may_keep_of_each_ledger(
    project: Project, keys: dict[str, Key], repo: LedgerRepo, tmp_path: Path,
) -> None:
    """The ledger interface's optional part (``Traced``), which a cache needs to keep a
    ledger's answers: a folder tells what it read; a git ledger at a pinned commit can read
    nothing that changes; one that follows a branch cannot tell, and is not traced."""
    from package_trust.check.ledger import FolderLedger, traced
    from package_trust.check.ledger.git import open_git
    from package_trust.check.policy import load

    alice = keys["alice"]
    commit = audited_repo(repo, alice, ("left-pad", "1.3.0"))
    policy = git_policy(project, [alice], [{"git": repo.url}, {"git": repo.url, "ref": commit}])
    clones = tmp_path / "clones"
    branch, pinned = (open_git(spec, policy, clones) for spec in load(policy).ledgers)
    assert traced(branch) is None
    watched = traced(pinned)
    assert watched is not None and watched.location.endswith(f"@{commit}")
    assert [f.origin for f in pinned.statements("left-pad", "1.3.0")] == [
        f"{repo.url}//signatures/left-pad/1.3.0/{alice.fingerprint}.sig"]
    assert watched.observed == {} and watched.seen("left-pad", "1.3.0") == {}
    folder = traced(FolderLedger(project.root))
    assert folder is not None and folder.location == str(project.root.resolve())
    folder.statements("left-pad", "1.3.0")
    seen = folder.seen("left-pad", "1.3.0")
    assert str(project.root / "signatures" / "left-pad") in seen
    assert seen.items() <= folder.observed.items()
    for ledger in (branch, pinned):
        ledger.close()
