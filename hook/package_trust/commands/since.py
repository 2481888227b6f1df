"""What git says for ``check``: the lockfile as it was before the change (``HEAD``, or
``--since REF``), so that each failing package is marked new or already present
(graph.py compares), and the lockfiles git tracks, for a commit that changes only the
policy. Git is read here, in the face; the core never runs it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from package_trust import filenames
from package_trust.check.graph import Identity, identity
from package_trust.errors import LockfileError, PackageTrustError

DEFAULT_REF = "HEAD"


class NotGit(Exception):
    """No git, or no repository here: nothing to compare with."""


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                              check=False, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise NotGit(f"git cannot run: {e.strerror}") from None


def commit_of(folder: Path, ref: str) -> str | None:
    """The commit ``ref`` names in the repository holding ``folder``; None when it names
    none (no commit yet, or an unknown ref). NotGit outside a repository."""
    if ref.startswith("-"):
        raise PackageTrustError(f"--since {ref!r}: a revision does not start with '-'")
    proc = _git(folder, "rev-parse", "--verify", "--quiet", "--end-of-options",
                f"{ref}^{{commit}}")
    if proc.returncode == 0:
        return proc.stdout.decode().strip()
    inside = _git(folder, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != b"true":
        raise NotGit("not in a git work tree")
    return None


def before(lockfile: Path, ref: str | None) -> tuple[frozenset[Identity] | None, str | None]:
    """The entries ``lockfile`` held at ``ref`` (default HEAD): empty when it was not
    there but git tracks it now (the change adds it, or there is no commit yet), None
    when there is nothing to compare with (no git, a lockfile git does not track); and a
    notice when that needs saying. A ``ref`` named but unknown is an error: the
    comparison asked for cannot be made."""
    from package_trust.check.lockfile.npm import NpmLockfileParser

    folder = lockfile.parent
    try:
        commit = commit_of(folder, ref or DEFAULT_REF)
    except NotGit as e:
        if ref is not None:
            raise PackageTrustError(f"--since {ref}: {e}", lockfile) from None
        return None, None
    if commit is None:
        if ref is not None:
            raise PackageTrustError(f"--since {ref}: no such commit in this repository (a "
                                    "shallow clone may lack it: fetch it first)", lockfile)
        return _added(lockfile), None
    blob = _git(folder, "cat-file", "blob", f"{commit}:./{lockfile.name}")
    if blob.returncode != 0:
        return _added(lockfile), None
    try:
        text = blob.stdout.decode("utf-8")
        old = NpmLockfileParser().parse(lockfile, text)
    except (UnicodeDecodeError, LockfileError):
        return None, (f"{lockfile} at {ref or DEFAULT_REF} cannot be read: nothing to tell "
                      "new packages from those already there")
    return frozenset(identity(d) for d in old.dependencies), None


def _added(lockfile: Path) -> frozenset[Identity] | None:
    """Nothing was there before a lockfile git tracks now; one it does not track has no
    history to compare with."""
    tracked = _git(lockfile.parent, "ls-files", "--error-unmatch", "--", lockfile.name)
    return frozenset() if tracked.returncode == 0 else None


def tracked_lockfiles() -> list[Path] | None:
    """The lockfiles git tracks below the current folder (package-lock.json and
    npm-shrinkwrap.json at any depth outside node_modules); None outside a repository."""
    specs = [f":(glob)**/{name}" for name in filenames.LOCKFILES]
    try:
        proc = _git(Path("."), "ls-files", "-z", "--cached", "--", *specs)
    except NotGit:
        return None
    if proc.returncode != 0:
        return None
    paths = [os.fsdecode(p) for p in proc.stdout.split(b"\0") if p]
    return [Path(p) for p in sorted(set(paths)) if "node_modules" not in Path(p).parts]
