"""Lockfiles the real npm client writes, for the tests of what a blocked developer reads:
a small world of packages (express, send, debug, two versions of ms, left-pad) served by
a local registry, and ``npm install --package-lock-only`` run against it, reaching
nothing but 127.0.0.1. Also: a git repository to commit to.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import npm_harness
from npm_registry import NpmRegistry, package_tgz

needs_npm = pytest.mark.skipif(npm_harness.NPM is None, reason="npm is not installed")


def require_npm() -> None:
    if npm_harness.NPM is None:
        pytest.skip("npm is not installed")

# name -> version -> dependencies: express brings in send and debug, which need two
# versions of ms (npm nests one of them under send).
WORLD: dict[str, dict[str, dict[str, str]]] = {
    "express": {"4.0.0": {"send": "0.1.0", "debug": "1.0.0"}},
    "send": {"0.1.0": {"ms": "0.7.0"}},
    "debug": {"1.0.0": {"ms": "2.0.0"}, "0.9.0": {}},
    "ms": {"0.7.0": {}, "2.0.0": {}},
    "left-pad": {"1.3.0": {}},
    "is-number": {"7.0.0": {}},
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.org",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
}


def publish_world(registry: NpmRegistry) -> None:
    for name, versions in WORLD.items():
        for version, deps in versions.items():
            manifest: dict[str, Any] = {"name": name, "version": version}
            if deps:
                manifest["dependencies"] = deps
            body = {"index.js": f"module.exports = '{name}@{version}'\n".encode()}
            registry.publish_package(package_tgz(manifest, body), manifest)


def npm_lock(project: Path, registry: NpmRegistry, scratch: Path,
             dependencies: dict[str, str]) -> Path:
    """Write package.json declaring ``dependencies`` and let npm write the lockfile."""
    manifest = {"name": "app", "version": "1.0.0", "dependencies": dependencies}
    (project / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    trap = npm_harness.Trap()
    try:
        code, output = npm_harness.npm(project, scratch, registry.client_url("npm"),
                                       ["install", "--package-lock-only"], trap)
    finally:
        trap.close()
    assert code == 0, output
    return project / "package-lock.json"


def entry(lockfile: Path, path: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(lockfile.read_text())["packages"][path]
    return found


def line_of(lockfile: Path, path: str) -> int:
    """The line of the lockfile entry at ``path``."""
    lines = lockfile.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith(f'"{path}"'))


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def commit_all(cwd: Path, message: str) -> str:
    """Commit everything in ``cwd`` (a repository made if need be); the commit id."""
    if not (cwd / ".git").exists():
        git(cwd, "init", "-q", "-b", "main")
    git(cwd, "add", "-A")
    git(cwd, "commit", "-qm", message)
    return git(cwd, "rev-parse", "HEAD")
