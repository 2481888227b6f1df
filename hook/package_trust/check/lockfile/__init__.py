"""Lockfile parsers: one module per format, each implementing ``interface.LockfileParser``."""

from __future__ import annotations

from pathlib import Path

from package_trust import filenames
from package_trust.check.lockfile import npmrc
from package_trust.check.lockfile.interface import (
    Dependency,
    Lockfile,
    LockfileParser,
    OutOfSync,
    Source,
)
from package_trust.check.lockfile.npm import NpmLockfileParser
from package_trust.errors import LockfileError

PARSERS: list[LockfileParser] = [NpmLockfileParser()]
SHRINKWRAP, PACKAGE_LOCK = "npm-shrinkwrap.json", "package-lock.json"
NPM_ORDER = (SHRINKWRAP, PACKAGE_LOCK)  # arborist's shrinkwrap.js: `sw || lock`

__all__ = [
    "Dependency",
    "Lockfile",
    "LockfileParser",
    "OutOfSync",
    "Source",
    "find_default",
    "load",
    "lockfile_for",
]


def npm_lockfile(folder: Path, probed: list[Path] | None = None) -> Path | None:
    """The lockfile npm installs a folder from: npm-shrinkwrap.json, unless it is empty
    (or absent), else package-lock.json. One that cannot be read is still the one npm
    tries (it then installs from no lockfile at all): loading it fails. ``probed``: where
    the paths looked at are noted (what the choice rests on, for a kept result)."""
    shrinkwrap = folder / SHRINKWRAP
    if probed is not None:
        probed += [shrinkwrap, folder / PACKAGE_LOCK]
    try:
        if shrinkwrap.stat().st_size or not shrinkwrap.is_file():
            return shrinkwrap
    except FileNotFoundError:  # absent, or a link to nothing: npm reads it as absent
        pass
    except OSError:
        return shrinkwrap
    lock = folder / PACKAGE_LOCK
    return lock if lock.exists() else None


def find_default(directory: Path) -> Path:
    """The lockfile a project has, as npm chooses it."""
    found = npm_lockfile(directory)
    if found is None:
        raise LockfileError(
            f"no lockfile found (looked for {' and '.join(NPM_ORDER)}); "
            "name one: package-trust check path/to/package-lock.json",
            directory,
        )
    return found


def lockfile_for(path: Path, probed: list[Path] | None = None) -> Path | None:
    """The lockfile to check for a file named to the check (the pre-commit hook names
    what changed): for a lockfile, the one npm installs its folder from; for a
    package.json, that of its folder or the nearest folder above (its workspace root).
    None for a package.json that declares no dependency and has no lockfile.
    ``probed``: as for npm_lockfile, every path the choice looked at."""
    if path.name != filenames.MANIFEST:
        return (npm_lockfile(path.parent, probed) or path) if path.name in NPM_ORDER \
            else path
    from package_trust.check.lockfile import manifest

    found = npm_lockfile(path.parent, probed)
    for folder in path.parent.parents if found is None else ():
        above = npm_lockfile(folder, probed)
        if above is not None:  # the workspace root's, or another project's
            if probed is not None:
                probed.append(folder / filenames.MANIFEST)
            root = manifest.read(folder / filenames.MANIFEST, "")
            found = above if root is not None and root.data.get("workspaces") else None
            break
    if found is not None:
        return found
    declared = manifest.read(path, "")
    if declared is None or not any(declared.declared.values()):
        return None
    return path.parent / PACKAGE_LOCK  # not there: loading it says so


def load(path: Path) -> Lockfile:
    """Read and parse the lockfile npm would install from in place of ``path`` (itself,
    or an npm-shrinkwrap.json beside it), with the parser that accepts its name."""
    probed: list[Path] = []
    used = (lockfile_for(path, probed) or path) \
        if path.name in (*NPM_ORDER, filenames.MANIFEST) else path
    parser = next((p for p in PARSERS if p.accepts(used)), PARSERS[0])
    try:
        text = used.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockfileError("lockfile not found", used) from None
    except (OSError, UnicodeDecodeError) as e:
        raise LockfileError(f"cannot read lockfile: {e}", used) from None
    lf = parser.parse(used, text)
    looked_for = [used.parent / name for name in (*NPM_ORDER, npmrc.NPMRC)]
    notices = list(lf.notices)
    if used != path and path.name in NPM_ORDER:
        notices.append(f"{path}: npm installs this project from {used}, which was "
                       "checked in its place")
    return lf._replace(read=list(dict.fromkeys([*lf.read, *looked_for, *probed])),
                       notices=notices,
                       registries=npmrc.registries(used.parent))
