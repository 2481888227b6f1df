"""The whole-check cache: a check that repeats a passing one of the same command on the
same inputs reads no statement and starts no gpg, so the pre-commit hook stays fast when
nothing it depends on changed.

What is kept (store.py's ``result`` table) is the passing check's report as that command
printed it (its format, and whatever else changes its text: ``explain.variant``), found
by the command (its arguments and the working folder) and the bytes of its input files:
one row for each state of them (the newest 64 are kept). Its exit code is 0: only
passing checks are kept. A hit prints it again, reading a few hundred bytes (a whole result, which
each format would render again, is a thousand times that, and its decoding and rendering
cost a warm check a third of its time). It holds only while everything it depends on is
as it was:

- the bytes of the input files (the lockfiles named and looked for, package.json, the
  policy and its lock file);
- the stat signature of every file and folder the check read: the lockfiles and the files
  beside them, and what each ledger read (``Traced.observed``; a changed, added, removed
  or replaced statement or key, a folder that appears where none was, or a folder
  replaced by a link, and the entry no longer holds), and what the kept verdicts it
  reused rest on. A git ledger at a pinned commit reads nothing that can change;
- the day (exemptions expire by date), the first moment a key or a signature involved
  expires, and the gpg binary (``folder.gpg_identity``).

Only passing results are kept, of checks whose every ledger can tell what would change
its answers (not a git branch, which a fetch may move). A row's digest covers the whole
row, so a result comes back exactly as it was kept or not at all. Like the verification
cache it lives in the user's private cache folder (0700): one who can write there can
already change the user's hook or gpg. Any doubt is a miss.
"""

import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

from package_trust import __version__
from package_trust.cache.stamp import stamp, unchanged
from package_trust.cache.store import RESULTS, Result, Store
from package_trust.check.filestat import Stats

_SCHEMA = 3  # 2 kept results, each rendered again: never read as a report


def key(args: Iterable[str], files: Iterable[Path]) -> bytes:
    """The key for a command (a row's id): its arguments and working folder, and its input
    files' bytes: one row for each state of them (a lockfile changed back finds its
    report, a changed one no row at all)."""
    # Names from the system may hold surrogates (bytes not in UTF-8): surrogatepass.
    head = f"{_SCHEMA}\0{__version__}\0{os.getcwd()}\0"
    command = hashlib.sha256(head.encode("utf-8", "surrogatepass"))
    for arg in args:
        command.update(b"a%d\0%s" % (len(arg), arg.encode("utf-8", "surrogatepass")))
    inputs = hashlib.sha256()
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            inputs.update(b"-")
            continue
        name = str(path).encode("utf-8", "surrogatepass")
        inputs.update(b"f%d\0%s%d\0" % (len(name), name, len(data)) + data)
    command.update(b"i" + inputs.digest())
    return command.digest()


def lookup(store: Store, key: bytes, gpg: str) -> str | None:
    """The report kept for the command, when everything it depends on is unchanged."""
    now = time.time()
    row = store.get(RESULTS, [key], now).get(key)
    if row is None or row.gpg != gpg:
        return None
    if now < row.since or not unchanged(row.paths, row.digest, _bound(row)):
        return None  # the clock went back, or something changed
    return row.result


def keep(store: Store, key: bytes, report: str, rests_on: Stats, gpg: str,
         since: float, until: float) -> None:
    """Keep a passing check's report with what it rests on, from ``since`` until
    ``until``."""
    row = Result(key, gpg, int(since), "", "", report, int(until))
    paths, digest = stamp(rests_on, _bound(row))
    store.put(RESULTS, [row._replace(paths=paths, digest=digest)], time.time())


def _bound(row: Result) -> str:
    """What a result row's digest covers besides the stat signatures: all of the row."""
    text = hashlib.sha256(row.result.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{row.id.hex()}\0{row.gpg}\0{row.since}\0{row.valid_until}\0{text}"
