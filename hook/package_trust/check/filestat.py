"""What identifies a file's state, as a string: a change of content, a rename over it or a
replacement changes the ctime, which no ordinary tool can set back. A folder ledger notes
these as it reads (``ledger/folder.py``); a cache compares them later (``cache/``)."""

from __future__ import annotations

import os

Stats = dict[str, str | None]  # path -> stat signature; None: absent


def stat_signature(st: os.stat_result, whole: bool = True) -> str:
    """Which file it is, and (``whole``) its content's state."""
    ident = f"{st.st_dev}:{st.st_ino}:{st.st_mode}"
    return f"{ident}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}" if whole else ident


def changed_since(signature: str, ns: int) -> bool:
    """Whether a file's stat signature (``whole``) says it changed at ``ns`` or later."""
    return int(signature.rsplit(":", 1)[1]) >= ns


def stat_of(path: str, whole: bool, follow: bool = False) -> str | None:
    """The path's stat signature (of the link itself, unless ``follow``); None if absent."""
    try:
        return stat_signature(os.stat(path) if follow else os.lstat(path), whole)
    except FileNotFoundError:
        return None
