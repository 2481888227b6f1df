"""Where package-trust caches live, and whether caching is on: cheap to import."""

from __future__ import annotations

import os
from pathlib import Path

NO_CACHE_ENV = "PACKAGE_TRUST_NO_CACHE"

__all__ = ["NO_CACHE_ENV", "directory", "enabled", "folder"]


def enabled() -> bool:
    """False when $PACKAGE_TRUST_NO_CACHE is set (to anything but 0, false or no)."""
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() in ("", "0", "false", "no")


def directory() -> Path:
    """$XDG_CACHE_HOME/package-trust, else ~/.cache/package-trust."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "package-trust"


def folder(name: str) -> Path | None:
    """``directory()/name`` when caching is on and there is a home folder, else None."""
    try:
        return directory() / name if enabled() else None
    except RuntimeError:  # no home folder
        return None
