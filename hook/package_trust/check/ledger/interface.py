"""A ledger: keys/ with reviewers' public keys, signatures/<name>/<version>/*.sig with
their signed statements. Where a ledger lives (a folder, a git repository) is hidden
behind ``Ledger``.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


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
    def location(self) -> str:
        """Where it is read from: a resolved folder, a repository at a commit. Unlike the
        description, it tells two clones of one ledger apart (verdicts.py)."""

    @property
    def notices(self) -> list[str]:
        """What a report should say about how the ledger was read (e.g. an old copy)."""

    @property
    def observed(self) -> dict[str, str | None] | None:
        """The files and folders read so far with their stat signatures, or None when the
        ledger cannot tell what would change its answers (resultcache.py)."""

    def key_files(self) -> list[LedgerFile]:
        """Every public key file under keys/."""

    def statements(self, name: str, version: str) -> list[LedgerFile]:
        """The statements filed for ``name@version``; both already validated."""

    def seen(self, name: str, version: str) -> dict[str, str | None] | None:
        """What ``statements(name, version)`` read, as in ``observed``; None when the
        ledger cannot tell (verdicts.py)."""
