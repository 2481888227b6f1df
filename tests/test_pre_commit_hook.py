"""The shipped hook definition, end to end: real git, the real pre-commit framework."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support import REPO, Key, Project

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
}
PRE_COMMIT = str(Path(sys.executable).with_name("pre-commit"))


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """This repository as it is now (committed or not), as a git repo a user would list."""
    dest = tmp_path_factory.mktemp("package-trust-repo")
    env = {**os.environ, **GIT_ENV, "HOME": str(dest)}
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
        capture_output=True, text=True,
    ).stdout.split("\0")
    for f in filter(None, files):
        if (REPO / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dest / f)
    run("git", "init", "-q", "-b", "main", cwd=dest, env=env)
    run("git", "add", "-A", cwd=dest, env=env)
    run("git", "commit", "-qm", "snapshot", cwd=dest, env=env)
    rev = run("git", "rev-parse", "HEAD", cwd=dest, env=env).stdout.strip()
    yield dest, rev


def developer_env(tmp_path: Path) -> dict[str, str]:
    """A developer's own environment: their git identity, their GnuPG; hook installs shared."""
    env = {**os.environ, **GIT_ENV, "HOME": str(tmp_path),
           "PRE_COMMIT_HOME": str(tmp_path.parent.parent / "pre-commit-home")}
    env.pop("GNUPGHOME")
    return env


def test_hook_definition_is_valid() -> None:
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "package-trust"
    assert hook["require_serial"] is True
    assert set(hook["stages"]) <= {"pre-commit", "pre-merge-commit", "pre-push", "manual"}


def test_commit_blocked_until_audited(hook_repo: tuple[Path, str], project: Project,
                                      keys: dict[str, Key], tmp_path: Path) -> None:
    repo, rev = hook_repo
    app = project.root
    env = developer_env(tmp_path)
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({})  # no dependency yet
    (app / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo}\n    rev: {rev}\n    hooks:\n      - id: package-trust\n"
    )
    assert run("git", "init", "-q", "-b", "main", cwd=app, env=env).returncode == 0
    install = run(PRE_COMMIT, "install", cwd=app, env=env)
    assert install.returncode == 0, install.stderr
    run("git", "add", "-A", cwd=app, env=env)
    assert run("git", "commit", "-qm", "ledger and policy", cwd=app, env=env).returncode == 0

    # npm install brought in left-pad: nobody has audited it, the commit is blocked.
    project.lockfile({"left-pad": "1.3.0"})
    run("git", "add", "package-lock.json", cwd=app, env=env)
    blocked = run("git", "commit", "-m", "add left-pad", cwd=app, env=env)
    shown = blocked.stdout + blocked.stderr  # git passes on what the hook printed
    assert blocked.returncode != 0, shown
    assert "1 of 1 package is not audited" in shown
    assert "left-pad@1.3.0: unaudited" in shown
    assert "package-trust sign left-pad@1.3.0" in shown
    assert run("git", "log", "--oneline", cwd=app, env=env).stdout.count("\n") == 1

    # An auditor signs it; the same commit now passes.
    project.sign(keys["alice"], "left-pad", "1.3.0")
    run("git", "add", "-A", cwd=app, env=env)
    passed = run("git", "commit", "-m", "add left-pad", cwd=app, env=env)
    shown = passed.stdout + passed.stderr
    assert passed.returncode == 0, shown
    assert "Passed" in shown


def test_try_repo_runs_on_policy_change(hook_repo: tuple[Path, str], project: Project,
                                        keys: dict[str, Key], tmp_path: Path) -> None:
    """Changing trust-policy.yml alone re-checks the lockfile (pre-commit try-repo)."""
    repo, _ = hook_repo
    app = project.root
    env = developer_env(tmp_path)
    project.add_key(keys["alice"])
    project.add_key(keys["bob"])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    project.policy([keys["alice"]])
    run("git", "init", "-q", "-b", "main", cwd=app, env=env)
    run("git", "add", "-A", cwd=app, env=env)
    ok = run(PRE_COMMIT, "try-repo", str(repo), "package-trust", cwd=app, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # Stricter policy: bob must sign too. Only the policy is staged.
    project.policy([keys["alice"], keys["bob"]], minimum=2)
    run("git", "add", "trust-policy.yml", cwd=app, env=env)
    stricter = run(PRE_COMMIT, "try-repo", str(repo), "package-trust", cwd=app, env=env)
    assert stricter.returncode == 1, stricter.stdout + stricter.stderr
    assert "left-pad@1.3.0: unaudited: 1 of 2 required signatures (Alice)" in stricter.stdout
