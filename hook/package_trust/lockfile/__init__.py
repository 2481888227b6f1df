"""Lockfile parsers: one module per format, each implementing ``interface.LockfileParser``."""

from __future__ import annotations

from pathlib import Path

from package_trust.errors import LockfileError
from package_trust.lockfile.interface import Dependency, Lockfile, LockfileParser, Source
from package_trust.lockfile.npm import NAMES as NPM_NAMES
from package_trust.lockfile.npm import NpmLockfileParser

PARSERS: list[LockfileParser] = [NpmLockfileParser()]
DEFAULT_NAMES = NPM_NAMES

__all__ = [
    "DEFAULT_NAMES",
    "Dependency",
    "Lockfile",
    "LockfileParser",
    "Source",
    "find_default",
    "load",
]


def find_default(directory: Path) -> Path:
    """The lockfile a project has: package-lock.json, else npm-shrinkwrap.json."""
    for name in DEFAULT_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise LockfileError(
        f"no lockfile found (looked for {' and '.join(DEFAULT_NAMES)}); "
        "name one: package-trust check path/to/package-lock.json",
        directory,
    )


def load(path: Path) -> Lockfile:
    """Read and parse one lockfile with the parser that accepts its name."""
    parser = next((p for p in PARSERS if p.accepts(path)), PARSERS[0])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockfileError("lockfile not found", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise LockfileError(f"cannot read lockfile: {e}", path) from None
    return parser.parse(path, text)
