"""Test support for git ledgers: a bare repository served by a file:// URL, filled from a
working copy with the real git, and policies that name it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support import Auditors, Key, Project

IDENTITY = {
    "GIT_AUTHOR_NAME": "Ledger Maintainer",
    "GIT_AUTHOR_EMAIL": "ledger@example.org",
    "GIT_COMMITTER_NAME": "Ledger Maintainer",
    "GIT_COMMITTER_EMAIL": "ledger@example.org",
}


def git(cwd: Path, *args: str, data: bytes | None = None) -> str:
    """Run git in ``cwd`` with a fixed identity (CI has no global one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(IDENTITY, GIT_CONFIG_NOSYSTEM="1")
    proc = subprocess.run(["git", *args], cwd=cwd, input=data, env=env, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {args}: {proc.stderr.decode()}")
    return proc.stdout.decode().strip()


class LedgerRepo:
    """An audit repository: ``url`` serves ``bare``; commits are made in ``work``."""

    def __init__(self, root: Path, auditors: Auditors, name: str = "audits", prefix: str = ""):
        self.auditors = auditors
        self.prefix = prefix  # the ledger's folder inside the repository ("" for its root)
        self.bare = root / f"{name}.git"
        self.work = root / f"{name}-work"
        self.work.mkdir(parents=True)
        git(root, "init", "--quiet", "--bare", str(self.bare))
        git(self.bare, "symbolic-ref", "HEAD", "refs/heads/main")
        git(self.work, "init", "--quiet")
        git(self.work, "checkout", "--quiet", "-b", "main")
        self.url = self.bare.as_uri()

    def file(self, path: str, data: bytes) -> Path:
        target = self.work / self.prefix / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def add_key(self, key: Key) -> None:
        self.file(f"keys/{key.fingerprint}.asc", self.auditors.export(key))

    def sign(self, key: Key, name: str, version: str, integrity: str | None = None) -> None:
        data = self.auditors.statement(key, name, version, integrity)
        self.file(f"signatures/{name}/{version}/{key.fingerprint}.sig", data)

    def commit(self, message: str = "audit", *, push: bool = True) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "--quiet", "--allow-empty", "-m", message)
        if push:
            self.push()
        return self.head()

    def push(self, ref: str = "main", force: bool = False) -> None:
        git(self.work, "push", "--quiet", *(["--force"] if force else []), str(self.bare),
            f"{ref}:{ref}")

    def head(self) -> str:
        return git(self.work, "rev-parse", "HEAD")

    def remote(self, ref: str) -> str:
        return git(self.bare, "rev-parse", ref)

    def forget_unreachable(self) -> None:
        """What a server does in time after a force push: drop unreachable commits."""
        git(self.bare, "reflog", "expire", "--expire=now", "--all")
        git(self.bare, "gc", "--quiet", "--prune=now")


def git_policy(project: Project, keys: list[Key], ledgers: list[dict[str, str]],
               minimum: int = 1) -> Path:
    """A policy trusting ``keys`` whose ledgers are ``ledgers`` (git:, ref:, path:)."""
    lines = ["ledgers:"]
    for entry in ledgers:
        first = True
        for k, v in entry.items():
            lines.append(f"  {'- ' if first else '  '}{k}: {v!r}")
            first = False
    return project.policy(keys, minimum, "\n".join(lines) + "\n")
