"""Where package-trust caches live, and whether caching is on: cheap to import."""

from __future__ import annotations

import os
import stat
from pathlib import Path

NO_CACHE_ENV = "PACKAGE_TRUST_NO_CACHE"

__all__ = ["NO_CACHE_ENV", "directory", "enabled", "folder", "private_folder"]


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


def private_folder(folder: Path) -> None:
    """Create ``folder`` (mode 0700); refuse a link or another user's folder."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise OSError(f"{folder} is not a folder of this user")
    if st.st_mode & 0o077:
        os.chmod(folder, 0o700)
