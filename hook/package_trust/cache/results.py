"""The whole-check cache: a check that repeats the last one reads no statement and
starts no gpg, so the pre-commit hook stays fast when nothing it depends on changed.

An entry is found by everything the command was given: its arguments, the working
folder, and the bytes of the lockfiles and the policy (and its lock). It holds the report
and exit code, and the stat signature of every ledger file and folder the check read
(``FolderLedger.observed``): a changed, added, removed or replaced statement or key
(content changes move the ctime, which no ordinary tool can set back), a folder that
appears where none was, or a folder replaced by a link, and the entry no longer holds.
It also holds today's date (exemptions expire by date), the first moment a key or a
signature involved expires, and the gpg binary's own stat. Checks that read a git
ledger (which a fetch may move) are not cached. Like the verification cache it lives in
the user's private cache folder (0700): one who can write there can already change the
user's hook or gpg. Any doubt is a miss.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from package_trust import __version__

FOLDER = "results"
MAX_ENTRIES = 64
_SCHEMA = 1


def gpg_path() -> str | None:
    return shutil.which(os.environ.get("PACKAGE_TRUST_GPG", "gpg"))


def entry_key(args: Iterable[str], files: Iterable[Path]) -> str:
    """The key for a command: its arguments, the working folder, its input files' bytes."""
    # Names from the system may hold surrogates (bytes not in UTF-8): surrogatepass.
    head = f"{_SCHEMA}\0{__version__}\0{os.getcwd()}\0"
    h = hashlib.sha256(head.encode("utf-8", "surrogatepass"))
    for arg in args:
        h.update(b"a%d\0%s" % (len(arg), arg.encode("utf-8", "surrogatepass")))
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            h.update(b"-")
            continue
        name = str(path).encode("utf-8", "surrogatepass")
        h.update(b"f%d\0%s%d\0" % (len(str(path)), name, len(data)) + data)
    return h.hexdigest()


def stat_signature(st: os.stat_result, whole: bool = True) -> str:
    """What identifies a file's state: which file it is, and (``whole``) its content's.

    A change of content, a rename over it or a replacement changes the ctime, which no
    ordinary tool can set back.
    """
    ident = f"{st.st_dev}:{st.st_ino}:{st.st_mode}"
    return f"{ident}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}" if whole else ident


def stat_of(path: str, whole: bool, follow: bool = False) -> str | None:
    """The path's stat signature (of the link itself, unless ``follow``); None if absent."""
    try:
        return stat_signature(os.stat(path) if follow else os.lstat(path), whole)
    except FileNotFoundError:
        return None


Seen = dict[str, str | None]  # path -> stat signature, None: absent


def stamp(seen: Seen, extra: str = "") -> tuple[str, str]:
    """What ``unchanged`` checks: the paths (NUL-separated, each marked ``=`` when its
    content counts, ``~`` when only which file it is) and a digest of their signatures
    (and of ``extra``, text stored with them that must come back unaltered)."""
    paths = "\0".join([("=" if s is None or s.count(":") > 2 else "~") + p
                        for p, s in seen.items()])
    return paths, _digest(list(seen.values()), extra)


def unchanged(paths: str, digest: str, extra: str = "", stats: Seen | None = None) -> bool:
    """Whether every path of a ``stamp`` still has the stat signature it had. ``stats``
    remembers each path's signature across calls (one check: each path is stat'ed once)."""
    stats = {} if stats is None else stats
    signatures = []
    for marked in paths.split("\0") if paths else ():
        path = marked[1:]
        signature = stats.get(path, _UNSEEN)
        if signature is _UNSEEN:
            signature = stats[path] = stat_of(path, marked[0] == "=")
        signatures.append(signature)
    return _digest(signatures, extra) == digest


_UNSEEN = "?"  # no stat signature is this


def _digest(signatures: list[str | None], extra: str) -> str:
    text = "\0".join([s or "-" for s in signatures])
    return hashlib.sha256(f"{text}\0\0{extra}".encode()).hexdigest()


def lookup(folder: Path, key: str) -> tuple[int, str] | None:
    """The stored exit code and report, when everything they depend on is unchanged."""
    try:
        entry = json.loads((folder / FOLDER / f"{key}.json").read_bytes())
        if entry["date"] != dt.date.today().isoformat():
            return None
        until = entry["until"]
        if until is not None and time.time() >= until:
            return None
        gpg = gpg_path()
        if gpg is None or [gpg, stat_of(gpg, True, follow=True)] != entry["gpg"]:
            return None
        if not unchanged(entry["paths"], entry["digest"]):
            return None
        code, out = entry["code"], entry["out"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (code, out) if isinstance(code, int) and isinstance(out, str) else None


def store(folder: Path, key: str, code: int, out: str, inputs: Seen,
          valid_until: float | None, today: dt.date) -> None:
    """Remember a report; a cache that cannot be written is no error."""
    from package_trust.atomic import write_atomic
    from package_trust.cache.folder import private_folder

    gpg = gpg_path()
    if gpg is None:
        return
    paths, digest = stamp(inputs)
    entry: dict[str, Any] = {
        "date": today.isoformat(),
        "until": valid_until,
        "gpg": [gpg, stat_of(gpg, True, follow=True)],
        "paths": paths,
        "digest": digest,
        "code": code,
        "out": out,
    }
    results = folder / FOLDER
    try:
        private_folder(folder)
        private_folder(results)
        write_atomic(results / f"{key}.json", json.dumps(entry).encode(), mode=0o600,
                     durable=False)
        entries = sorted(results.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-MAX_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
