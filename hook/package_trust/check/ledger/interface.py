"""A ledger: keys/ with reviewers' public keys, signatures/<name>/<version>/*.sig with
their signed statements. Where a ledger lives (a folder, a git repository) is hidden
behind ``Ledger``; what a cache needs to keep its answers, behind ``Traced``.
"""

from typing import NamedTuple, Protocol, cast

from package_trust.check.filestat import Stats


class LedgerFile(NamedTuple):
    """A file read from a ledger; ``problem`` says why it could not be read."""

    origin: str  # shown to users: where the file is
    data: bytes = b""
    problem: str | None = None


class Ledger(Protocol):
    """A source of keys and statements."""

    @property
    def description(self) -> str:
        """What the ledger is, for reports (a folder, a URL)."""

    @property
    def revision(self) -> str | None:
        """The commit it was read at, when it has one."""

    @property
    def notices(self) -> list[str]:
        """What a report should say about how the ledger was read (e.g. an old copy)."""

    def key_files(self) -> list[LedgerFile]:
        """Every public key file under keys/."""

    def statements(self, name: str, version: str) -> list[LedgerFile]:
        """The statements filed for ``name@version``; both already validated."""


class Traced(Ledger, Protocol):
    """A ledger that can tell what would change its answers, so that a cache may keep
    them: a folder (the stat signatures of what it read), or a git ledger at the commit
    the policy pins (nothing: a commit never changes). A ledger that cannot tell (a
    branch, which any fetch may move) is not one, and nothing read from it is kept."""

    @property
    def location(self) -> str:
        """Where it is read from: a resolved folder, a repository at a commit. Unlike the
        description, it tells two clones of one ledger apart."""

    @property
    def observed(self) -> Stats:
        """Every file and folder read so far, with its stat signature."""

    def seen(self, name: str, version: str) -> Stats:
        """What the last ``statements(name, version)`` read, as in ``observed``."""


_TRACED = ("location", "observed", "seen")


def traced(ledger: Ledger) -> Traced | None:
    """The ledger as a ``Traced`` one, when it is one (a structural check)."""
    return cast(Traced, ledger) if all(hasattr(ledger, m) for m in _TRACED) else None
