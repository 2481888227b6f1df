"""Ledger sources, each implementing ``interface.Ledger``."""

from __future__ import annotations

from pathlib import Path

from package_trust.check.ledger.folder import FolderLedger
from package_trust.check.ledger.interface import Ledger, LedgerFile, Traced, traced
from package_trust.check.policy import Policy
from package_trust.errors import LedgerError

__all__ = ["FolderLedger", "Ledger", "LedgerFile", "Traced", "open_ledgers", "traced"]


def open_ledgers(policy: Policy, clones: Path | None) -> list[Ledger]:
    """The ledgers a policy names, opened; folders are relative to the policy file, git
    ledgers read from the user's clones in ``clones``."""
    base = policy.path.parent
    ledgers: list[Ledger] = []
    for spec in policy.ledgers:
        if spec.git is not None:
            from package_trust.check.ledger.git import open_git  # git and subprocess only if needed

            ledgers.append(open_git(spec, policy.path, clones))
            continue
        path = base / spec.path
        if not path.is_dir():
            raise LedgerError(f"ledger folder {spec.path!r} does not exist", policy.path, spec.line)
        try:
            ledgers.append(FolderLedger(path, description=_shown(path.resolve())))
        except LedgerError as e:
            message = f"ledger {spec.path!r}: {e.message}"
            raise LedgerError(message, policy.path, spec.line) from None
    return ledgers


def _shown(root: Path) -> str:
    try:
        rel = root.relative_to(Path.cwd())
        return str(rel) if str(rel) != "." else "."
    except ValueError:
        return str(root)
