"""Stamps: what a kept verdict or result rests on, as the stat signatures of the files and
folders read for it (``check/filestat.py``), bound to the row that keeps it."""

from __future__ import annotations

import hashlib
import os

from package_trust.check.filestat import Stats, stat_signature

_UNSEEN = "?"  # no stat signature is this


def stamp(seen: Stats, extra: str = "") -> tuple[str, str]:
    """What ``unchanged`` checks: the paths (NUL-separated, each marked ``=`` when its
    content counts, ``~`` when only which file it is) and a digest of their signatures
    (and of ``extra``, text stored with them that must come back unaltered)."""
    paths = "\0".join([("=" if s is None or s.count(":") > 2 else "~") + p
                        for p, s in seen.items()])
    return paths, _digest(list(seen.values()), extra)


def unchanged(paths: str, digest: str, extra: str = "", stats: Stats | None = None) -> bool:
    """Whether every path of a ``stamp`` still has the stat signature it had. ``stats``
    remembers each path's signature across calls (one check: each path is stat'ed once)."""
    known: Stats = {} if stats is None else stats
    lstat, signatures = os.lstat, []
    for marked in paths.split("\0") if paths else ():
        path = marked[1:]
        signature = known.get(path, _UNSEEN)
        if signature is _UNSEEN:
            try:
                signature = stat_signature(lstat(path), marked[0] == "=")
            except FileNotFoundError:
                signature = None
            except OSError:  # e.g. a folder on the way is a file now: no stamp holds
                return False
            known[path] = signature
        signatures.append(signature)
    return _digest(signatures, extra) == digest


def _digest(signatures: list[str | None], extra: str) -> str:
    text = "\0".join([s or "-" for s in signatures])
    return hashlib.sha256(f"{text}\0\0{extra}".encode("utf-8", "surrogatepass")).hexdigest()
