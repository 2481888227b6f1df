"""What every lockfile parser produces: the dependencies a project installs."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import NamedTuple, Protocol


class Source(enum.Enum):
    """Where a lockfile entry comes from, which decides how it is checked."""

    REGISTRY = "registry"  # name, version, integrity: checked against the ledger
    LINK = "link"  # a link or workspace: first party, skipped
    BUNDLED = "bundled"  # ships inside its parent's tarball, covered by its audit
    OTHER = "other"  # git, file:, a tarball off the registry: cannot be checked


class Dependency(NamedTuple):
    """One entry of a lockfile."""

    name: str  # the real package name (an alias resolves to it)
    version: str
    source: Source
    path: str  # where the lockfile puts it, e.g. node_modules/a/node_modules/b
    integrity: str | None = None
    resolved: str | None = None
    line: int | None = None  # line of the entry in the lockfile, when known


class Lockfile(NamedTuple):
    """A parsed lockfile."""

    path: Path
    dependencies: list[Dependency] = []  # noqa: RUF012 (a default shared, never changed)


class LockfileParser(Protocol):
    """A parser for one family of lockfiles."""

    def accepts(self, path: Path) -> bool:
        """Whether this parser reads files named like ``path``."""

    def parse(self, path: Path, text: str) -> Lockfile:
        """Parse ``text`` read from ``path``; raise LockfileError when it is malformed."""
