"""Which gpg to run: $PACKAGE_TRUST_GPG, else ``gpg``, found on $PATH as a shell finds it.

A module of its own, with no import beyond ``os``: a check answered from the cache asks
only this of gpg (``cache/folder.py``), and starts in a few milliseconds less without
shutil and the rest of ``gpg.py``.
"""

from __future__ import annotations

import os

from package_trust.errors import GpgError


def gpg_binary() -> str:
    """The gpg executable, or an error saying how to get one."""
    found = _which(os.environ.get("PACKAGE_TRUST_GPG", "gpg"))
    if found is None:
        raise GpgError("gpg (GnuPG) is not installed: install it, e.g. apt-get install gnupg")
    return found


def _which(name: str) -> str | None:
    """``shutil.which(name)`` on POSIX: a name with a slash as it is, else the first
    executable file of that name in a folder of $PATH."""
    if os.path.dirname(name):
        return name if _runnable(name) else None
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if _runnable(path := os.path.join(folder, name)):
            return path
    return None


def _runnable(path: str) -> bool:
    return os.access(path, os.X_OK) and not os.path.isdir(path)
