"""A commit that changes only the policy is checked against every lockfile git tracks
(package-lock.json and npm-shrinkwrap.json at any depth outside node_modules), through the
real pre-commit framework; with none tracked, the hook cannot check and says so (exit 2).
The Action's new-since input fails only on what a pull request brings in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from npm_world import commit_all, git
from package_trust.cli import main
from support import Key, Project
from test_action import run_action, workspace  # noqa: F401 (a fixture)
from test_pre_commit_hook import PRE_COMMIT, developer_env, hook_repo, run  # noqa: F401

CapSys = pytest.CaptureFixture[str]


def web_project(project: Project, keys: dict[str, Key]) -> Path:
    """A repository whose lockfile is web/package-lock.json, left-pad signed by Alice."""
    project.add_key(keys["alice"])
    project.add_key(keys["bob"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    web = project.root / "web"
    web.mkdir()
    (project.root / "package-lock.json").rename(web / "package-lock.json")
    project.sign(keys["alice"], "left-pad", "1.3.0")
    return web / "package-lock.json"


def test_policy_only_checks_each_tracked_lockfile(project: Project, keys: dict[str, Key],
                                                  capsys: CapSys) -> None:
    web = web_project(project, keys)
    stray = project.root / "node_modules/dep/package-lock.json"  # never checked
    stray.parent.mkdir(parents=True)
    stray.write_text("not JSON")
    other = project.root / "tools/lint/npm-shrinkwrap.json"
    other.parent.mkdir(parents=True)
    shutil.copy(web, other)
    commit_all(project.root, "two projects")
    project.policy([keys["alice"], keys["bob"]], minimum=2)
    assert main(["check", "--format", "json", "trust-policy.yml"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["lockfiles"] == ["tools/lint/npm-shrinkwrap.json", "web/package-lock.json"]
    assert report["summary"]["failing"] == 2

    git(project.root, "rm", "-q", "--cached", str(web), str(other))
    assert main(["check", "trust-policy.lock"]) == 2
    assert "no lockfile to check: git tracks no package-lock.json or npm-shrinkwrap.json " \
           "here (outside node_modules)" in capsys.readouterr().err


def test_policy_only_commit_with_the_lockfile_in_a_subfolder(
        hook_repo: tuple[Path, str], project: Project,  # noqa: F811
        keys: dict[str, Key], tmp_path: Path) -> None:
    repo, _ = hook_repo
    app = project.root
    env = developer_env(tmp_path)
    web_project(project, keys)
    run("git", "init", "-q", "-b", "main", cwd=app, env=env)
    run("git", "add", "-A", cwd=app, env=env)
    run("git", "commit", "-qm", "web app, ledger, policy", cwd=app, env=env)
    ok = run(PRE_COMMIT, "try-repo", str(repo), "package-trust", "--all-files", cwd=app, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # A stricter policy, alone in the commit: web/'s packages fail it.
    project.policy([keys["alice"], keys["bob"]], minimum=2)
    run("git", "add", "trust-policy.yml", cwd=app, env=env)
    stricter = run(PRE_COMMIT, "try-repo", str(repo), "package-trust", cwd=app, env=env)
    assert stricter.returncode == 1, stricter.stdout + stricter.stderr
    assert "left-pad@1.3.0: unaudited: 1 of 2 required signatures (Alice)" in stricter.stdout
    assert "(web/package-lock.json:" in stricter.stdout

    # No lockfile tracked at all: the hook cannot check, and says why.
    run("git", "rm", "-q", "--cached", "web/package-lock.json", cwd=app, env=env)
    none = run(PRE_COMMIT, "try-repo", str(repo), "package-trust", cwd=app, env=env)
    assert none.returncode == 1, none.stdout + none.stderr  # pre-commit: the hook failed
    assert "no lockfile to check: git tracks no package-lock.json" in none.stdout


def test_action_new_since_fails_only_on_new_packages(tmp_path: Path,
                                                     workspace: Path) -> None:  # noqa: F811
    """The fixture's is-number is not audited: already there at the base commit it is a
    warning; brought in by the pull request it fails the job."""
    lockfile = workspace / "project" / "package-lock.json"
    base = commit_all(workspace, "is-number already there")
    job = run_action(tmp_path, **{"working-directory": "project", "new-since": base})
    assert job.ok, job.stdout + job.stderr
    assert ("::warning file=project/package-lock.json,line=15,title=is-number@7.0.0 is not "
            "audited::") in job.stdout
    assert "already there before this change" in job.stdout
    assert job.outputs["unaudited"] == "1"

    data = json.loads(lockfile.read_text())
    del data["packages"]["node_modules/is-number"]
    lockfile.write_text(json.dumps(data, indent=2))
    base = commit_all(workspace, "before the pull request")
    git(workspace, "revert", "--no-edit", "HEAD")  # the pull request brings it back
    job = run_action(tmp_path, **{"working-directory": "project", "new-since": base})
    assert not job.ok
    assert "::error file=project/package-lock.json,line=15,title=is-number@7.0.0 " in job.stdout
    report = json.loads(Path(job.outputs["report"]).read_text())
    assert [p["new"] for p in report["packages"] if p["name"] == "is-number"] == [True]

    bad = run_action(tmp_path, **{"working-directory": "project", "new-since": "$(touch pwned)"})
    assert not bad.ok and not list(tmp_path.rglob("pwned"))
