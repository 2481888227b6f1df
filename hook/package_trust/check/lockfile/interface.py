"""What every lockfile parser produces: the dependencies a project installs."""

import enum
from pathlib import Path
from typing import NamedTuple, Protocol


class Source(enum.Enum):
    """Where a lockfile entry comes from, which decides how it is checked."""

    REGISTRY = "registry"  # name, version, integrity: checked against the ledger
    LINK = "link"  # a link or workspace: first party, skipped
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
    # The lockfile says the entry ships inside the tarball of the package installed at this
    # path (``inBundle``, ``bundled``). Only a counted statement of that package listing the
    # entry makes it so (engine.py); until then it is judged as a package of its own.
    bundled_in: str | None = None
    # The lockfile says the package's tarball holds an npm-shrinkwrap.json (``hasShrinkwrap``)
    # from which npm installs its dependencies.
    has_shrinkwrap: bool = False
    # Development scope: the lockfile marks the entry ``"dev": true`` (not ``devOptional``)
    # and no production dependency reaches it (npm_scope.py).
    dev: bool = False
    # The names the entry depends on (graph.py: why a package is installed)
    requires: tuple[str, ...] = ()


class OutOfSync(NamedTuple):
    """A dependency a package.json declares that the lockfile does not satisfy: ``npm ci``
    refuses the project, and ``npm install`` would install what the check never saw."""

    name: str
    spec: str  # what package.json asks for
    manifest: Path  # the package.json (the root's or a workspace's)
    line: int | None
    problem: str  # one line, with the fix


class Lockfile(NamedTuple):
    """A parsed lockfile."""

    path: Path
    dependencies: list[Dependency] = []  # noqa: RUF012 (a default shared, never changed)
    out_of_sync: list[OutOfSync] = []  # noqa: RUF012
    # Every file the loader read or looked for (package.json files, a shrinkwrap beside the
    # lockfile, whether there or not): a cached result holds only while they are unchanged.
    read: list[Path] = []  # noqa: RUF012
    # Said of the lockfile to whoever runs the check, e.g. that npm installs from another
    # file than the one named (an npm-shrinkwrap.json beside a package-lock.json).
    notices: list[str] = []  # noqa: RUF012
    # The registries npm fetches the project's packages from (npmrc.py)
    registries: tuple[str, ...] = ()
    # The names the project depends on (graph.py); None when the lockfile does not say
    root_requires: tuple[str, ...] | None = None


class LockfileParser(Protocol):
    """A parser for one family of lockfiles."""

    def accepts(self, path: Path) -> bool:
        """Whether this parser reads files named like ``path``."""

    def parse(self, path: Path, text: str) -> Lockfile:
        """Parse ``text`` read from ``path``; raise LockfileError when it is malformed."""
