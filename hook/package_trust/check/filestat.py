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


def stat_of(path: str, whole: bool) -> str | None:
    """The path's stat signature (of a link itself); None if absent."""
    try:
        return stat_signature(os.lstat(path), whole)
    except FileNotFoundError:
        return None


def followed(path: str, hops: int = 40) -> list[str]:
    """``path``, then each path its symbolic links lead to, up to the first that is not a
    link (at most ``hops``, the kernel's limit): the paths a read of it rests on, each to
    be stat'ed without following it. (A link on the way to it is followed by that stat.)"""
    found = [path]
    for _ in range(hops):
        try:
            target = os.readlink(found[-1])
        except OSError:  # not a link, or absent
            break
        found.append(os.path.join(os.path.dirname(found[-1]), target))
    return found
