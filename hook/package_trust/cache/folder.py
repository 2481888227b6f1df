"""Where package-trust keeps what it remembers, and which gpg it is kept for: cheap to
import (the commit-time path)."""

from __future__ import annotations

import os
from pathlib import Path

NO_CACHE_ENV = "PACKAGE_TRUST_NO_CACHE"

__all__ = ["NO_CACHE_ENV", "clones", "directory", "enabled", "gpg_identity"]


def enabled() -> bool:
    """False when $PACKAGE_TRUST_NO_CACHE is set (to anything but 0, false or no)."""
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() in ("", "0", "false", "no")


def directory() -> Path:
    """$XDG_CACHE_HOME/package-trust, else ~/.cache/package-trust."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "package-trust"


def clones() -> Path | None:
    """The folder of the user's clones of git ledgers (``ledger/gitcache.py``), used with
    or without the cache, as git ledgers are read from there; None with no home folder."""
    try:
        return directory() / "ledgers"
    except RuntimeError:
        return None


def gpg_identity() -> str:
    """The gpg a check runs (``gpgbin.gpg_binary``: a GpgError when there is none) and the
    state of its file: what is kept is reused only with the same gpg."""
    from package_trust.check.filestat import stat_signature
    from package_trust.check.gpgbin import gpg_binary

    binary = gpg_binary()
    return f"{binary}:{stat_signature(os.stat(binary))}"
