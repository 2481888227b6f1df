"""A ledger in a local folder. Links are never followed below the ledger's root.

It notes the stat signature of every folder and file it reads (``interface.Traced``),
as it reads them, so that a cache can tell later whether anything it rests on changed.
"""

from __future__ import annotations

import errno
import os
import stat
import weakref
from pathlib import Path

from package_trust.check.filestat import Stats, stat_of, stat_signature
from package_trust.check.gpg import MAX_STATEMENT_BYTES
from package_trust.check.ledger.interface import LedgerFile
from package_trust.check.names import package_parts
from package_trust.errors import LedgerError

MAX_KEY_BYTES = 1024 * 1024
KEY_SUFFIXES = (".asc", ".gpg", ".pgp", ".key")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class FolderLedger:
    """keys/ and signatures/ in a folder on disk; an ``interface.Traced`` ledger."""

    def __init__(self, path: Path, description: str | None = None, revision: str | None = None):
        """``path`` as given: links on the way to the ledger are followed, and noted."""
        self.root = path.resolve()
        self._description = description or str(path)
        self._revision = revision
        self.notices: list[str] = []
        # What was read, as stat signatures. First, each step of the path as given: a
        # folder by identity, a link whole (a link pointed elsewhere has a new ctime).
        given = path.absolute()
        self.observed: Stats = {
            str(p): stat_of(str(p), whole=p.is_symlink())
            for p in (*reversed(given.parents), given)
        }
        self._seen: dict[tuple[str, str], Stats] = {}
        if not (self.root / "keys").is_dir():
            raise LedgerError("not a ledger: it has no keys/ folder", self.root)
        # signatures/, open: read for every package, it is opened once (``_top``)
        self._tops: dict[str, tuple[int, Stats] | None] = {}

    @property
    def description(self) -> str:
        return self._description

    @property
    def revision(self) -> str | None:
        return self._revision

    @property
    def location(self) -> str:
        return str(self.root)

    def key_files(self) -> list[LedgerFile]:
        return self._files(["keys"], KEY_SUFFIXES, MAX_KEY_BYTES, self.observed)

    def statements(self, name: str, version: str) -> list[LedgerFile]:
        parts = ["signatures", *package_parts(name, version)]
        seen = self._seen[(name, version)] = {}
        try:
            return self._files(parts, (".sig",), MAX_STATEMENT_BYTES, seen)
        finally:
            self.observed.update(seen)

    def seen(self, name: str, version: str) -> Stats:
        return self._seen[(name, version)]

    def _files(
        self, parts: list[str], suffixes: tuple[str, ...], limit: int,
        seen: Stats,
    ) -> list[LedgerFile]:
        """Read the files in root/parts..., refusing links at every step; note in ``seen``
        the stat signature of each folder and file on the way."""
        shown = "/".join(parts)
        top = self._top(parts[0]) if len(parts) > 1 else None
        path = str(self.root)
        if top is not None:
            seen.update(top[1])
            fd, path, start = os.dup(top[0]), f"{path}/{parts[0]}", 1
        else:
            try:
                fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            except OSError as e:
                raise LedgerError(f"cannot open ledger: {e.strerror}", self.root) from None
            _observe(seen, path, fd, whole=False)
            start = 0
        try:
            for n, part in enumerate(parts[start:], start + 1):
                path = f"{path}/{part}"
                try:
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    _observe(seen, path, None, whole=True)
                    # A link: ELOOP, or (Linux, with O_DIRECTORY) ENOTDIR
                    link = e.errno == errno.ELOOP or (
                        e.errno == errno.ENOTDIR and os.path.islink(path))
                    if e.errno in (errno.ENOENT, errno.ENOTDIR) and not link:
                        return []
                    if link:
                        origin = f"{self._description}/{shown}"
                        return [LedgerFile(origin, problem="is a link; not followed")]
                    raise LedgerError(f"cannot read {shown}: {e.strerror}", self.root) from None
                os.close(fd)
                fd = nfd
                # a folder on the way counts as itself; the last one with what it lists
                _observe(seen, path, fd, whole=n == len(parts))
            names = sorted(n for n in os.listdir(fd) if n.endswith(suffixes))
            origin = f"{self._description}/{shown}"
            return [_read(fd, n, f"{path}/{n}", f"{origin}/{n}", limit, seen) for n in names]
        finally:
            os.close(fd)

    def _top(self, part: str) -> tuple[int, Stats] | None:
        """root/part open, as a folder on the way, with what opening it noted (opened
        once); None when it is not a folder there: then each read finds out why."""
        if part not in self._tops:
            self._tops[part] = None
            seen: Stats = {}
            try:
                fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                return None
            try:
                _observe(seen, str(self.root), fd, whole=False)
                top = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                return None
            finally:
                os.close(fd)
            _observe(seen, f"{self.root}/{part}", top, whole=False)
            self._tops[part] = top, seen
            weakref.finalize(self, os.close, top)
        return self._tops[part]


def _observe(seen: Stats, path: str, fd: int | None, whole: bool) -> None:
    """Note what was read: the open file's own stat, else the path's (no link)."""
    try:
        st = os.fstat(fd) if fd is not None else os.lstat(path)
    except FileNotFoundError:
        seen[path] = None
        return
    seen[path] = stat_signature(st, whole)


def _read(dir_fd: int, name: str, path: str, origin: str, limit: int,
          seen: Stats) -> LedgerFile:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as e:
        _observe(seen, path, None, whole=True)
        reason = "is a link; not followed" if e.errno == errno.ELOOP else e.strerror
        return LedgerFile(origin, problem=reason)
    try:
        st = os.fstat(fd)
        seen[path] = stat_signature(st, whole=True)
        if not stat.S_ISREG(st.st_mode):
            return LedgerFile(origin, problem="is not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if 0 < st.st_size <= size:  # all it held when looked at: no read to find the end
                break
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > limit:
        return LedgerFile(origin, problem=f"is larger than {limit} bytes")
    return LedgerFile(origin, data)
