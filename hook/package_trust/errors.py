"""Exit codes and the errors that end a command before it could check anything."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


class PackageTrustError(Exception):
    """The command could not do its job (bad input, missing tool): exit code 2.

    ``path`` and ``line`` point the user at the file to fix.
    """

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class LockfileError(PackageTrustError):
    """A lockfile is missing or malformed."""


class PolicyError(PackageTrustError):
    """trust-policy.yml is missing or invalid."""


class LedgerError(PackageTrustError):
    """A ledger (keys/, signatures/) could not be read."""


class GpgError(PackageTrustError):
    """GnuPG is missing or failed in a way that stops the whole check."""
