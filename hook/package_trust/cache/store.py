"""The cache's one database: SQLite in WAL mode, safe for checks running at once.

Five tables, each of one typed row (below), all kept alike. A row is found by its id, the
SHA-256 of what it answers for (looked up by the id's first 8 bytes as an integer, an
index SQLite searches fastest; the whole id is compared). One expiry rule: a row is read
back only until its ``valid_until`` (None: no expiry of its own). One decoder: a row
whose values are not of its table's types is a miss. One pruning rule (``_prune``): rows
past their time go, and each table keeps its newest ``limit`` rows.
What a row may be reused for is decided by the module that keeps it: verifier.py,
verdicts.py, results.py, policies.py. Every error is a miss here, never a crash; a file
that is not a database, or a corrupt one, is deleted and started afresh.
"""

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from package_trust.check.folders import private_folder

FILE_NAME = "verifications.sqlite3"
SCHEMA_VERSION = 7
BUSY_SECONDS = 10.0
_CHUNK = 500  # ids per SELECT
R = TypeVar("R", bound=tuple[Any, ...])
T = TypeVar("T")
_B, _S, _I = (bytes,), (str,), (int,)
_BN, _SN, _IN = (bytes, type(None)), (str, type(None)), (int, type(None))


class Verified(NamedTuple):
    """A good verification (verifier.py); id: the SHA-256 of the statement."""

    id: bytes
    plaintext: bytes
    primary_key: str
    signer: str
    signed_at: int | None
    expires: int | None
    uid: str | None
    key_digest: str
    gpg: str
    valid_until: int | None


class Listing(NamedTuple):
    """gpg's listing of a set of key files, the keybox it built and the notices about
    them (verifier.py); id: the SHA-256 of the files and the gpg binary."""

    id: bytes
    listing: str
    keybox: bytes | None
    notices: str
    valid_until: int | None


class Verdict(NamedTuple):
    """An audited package's verdict (verdicts.py); id: the SHA-256 of all it rests on."""

    id: bytes
    paths: str
    digest: str
    signed_at: int
    signers: str
    body: str
    valid_until: int | None


class Parsed(NamedTuple):
    """A parsed policy (policies.py); id: the SHA-256 of its path and bytes."""

    id: bytes
    body: str
    digest: str
    valid_until: int | None


class Result(NamedTuple):
    """A passing check's report (results.py); id: the SHA-256 of the command and its
    inputs."""

    id: bytes
    gpg: str
    since: int
    paths: str
    digest: str
    result: str
    valid_until: int | None


class Table(Generic[R]):
    """A table: its name, its row, the types each column may hold, the rows it keeps."""

    def __init__(self, name: str, make: Callable[[Iterable[Any]], R], fields: Sequence[str],
                 types: Sequence[tuple[type, ...]], limit: int):
        assert fields[0] == "id" and fields[-1] == "valid_until" and len(fields) == len(types)
        self.name, self.make, self.fields, self.types, self.limit = (
            name, make, tuple(fields), tuple(types), limit)

    def decode(self, values: Sequence[Any]) -> R | None:
        """The row, if every value is of its column's type (bool is not int)."""
        for value, ok in zip(values, self.types, strict=True):
            if type(value) not in ok:
                return None
        return self.make(values)


VERIFIED = Table("verification", Verified._make, Verified._fields,
                 (_B, _B, _S, _S, _IN, _IN, _SN, _S, _S, _IN), 200_000)
LISTINGS = Table("keyring", Listing._make, Listing._fields, (_B, _S, _BN, _S, _IN), 1_000)
VERDICTS = Table("verdict", Verdict._make, Verdict._fields, (_B, _S, _S, _I, _S, _S, _IN), 200_000)
RESULTS = Table("result", Result._make, Result._fields, (_B, _S, _I, _S, _S, _S, _IN), 64)
POLICIES = Table("policy", Parsed._make, Parsed._fields, (_B, _S, _S, _IN), 64)
TABLES: tuple[Table[Any], ...] = (VERIFIED, LISTINGS, VERDICTS, RESULTS, POLICIES)
OLD_FOLDERS = ("results", "policies")  # what earlier versions kept as files (_forget_old)


class Store:
    """The cache database. A database error is a miss, never a crash."""

    def __init__(self, path: Path):
        self.path = path
        self._db: sqlite3.Connection | None = None
        # Tables found empty (a first check, a CI runner's fresh cache): not searched
        # again until this store puts rows in them. Rows another check puts meanwhile are
        # missed, as if they had come a moment later.
        self._empty: dict[str, bool] = {}
        try:
            self._db = _connect(path)
        except sqlite3.Error as e:
            if type(e) is not sqlite3.DatabaseError:
                raise
            self._rebuild()

    @classmethod
    def open(cls, folder: Path) -> "Store | None":
        """The store in ``folder``, made private; None when that cannot be done."""
        try:
            private_folder(folder)
            return cls(folder / FILE_NAME)
        except (OSError, sqlite3.Error):
            return None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def get(self, table: Table[R], ids: Sequence[bytes], now: float) -> dict[bytes, R]:
        """The rows kept for these ids, not expired at ``now``, each of the table's types."""
        if not ids or self.empty(table):
            return {}
        columns = ", ".join(table.fields)

        def get(db: sqlite3.Connection) -> dict[bytes, R]:
            found: dict[bytes, R] = {}
            for at in range(0, len(ids), _CHUNK):
                chunk = [_short(i) for i in ids[at : at + _CHUNK]]
                sql = (f"SELECT {columns} FROM {table.name} WHERE k IN "
                       f"({','.join('?' * len(chunk))}) AND "
                       "(valid_until IS NULL OR valid_until > ?)")
                for values in db.execute(sql, (*chunk, now)):
                    row = table.decode(values)
                    if row is not None:
                        found[row[0]] = row
            return found

        wanted = set(ids)
        return {i: row for i, row in (self._run(get) or {}).items() if i in wanted}

    def put(self, table: Table[R], rows: Sequence[R], now: float, prune: bool = False) -> None:
        """Keep ``rows`` (each replacing the row of its id); ``prune``: the whole
        database, in the same transaction (verifier.py asks when it lists a keyring,
        which it does at least daily while checks verify anything)."""
        columns = ", ".join(("k", *table.fields, "stored_at"))
        marks = ",".join("?" * (len(table.fields) + 2))

        def put(db: sqlite3.Connection) -> None:
            with _transaction(db):
                if prune:
                    _prune(db, now)
                db.executemany(f"INSERT OR REPLACE INTO {table.name} ({columns}) "
                               f"VALUES ({marks})",
                               [(_short(row[0]), *row, int(now)) for row in rows])

        if rows:
            self._empty[table.name] = False  # even if the put fails: then searched as ever
            self._run(put)

    def empty(self, table: Table[Any]) -> bool:
        """Whether the table held no row when first asked (and none was put since)."""
        empty = self._empty.get(table.name)
        if empty is None:
            found = self._run(lambda db: db.execute(
                f"SELECT EXISTS (SELECT 1 FROM {table.name})").fetchone()[0] == 0)
            empty = self._empty[table.name] = bool(found)
        return empty

    def _run(self, action: Callable[[sqlite3.Connection], T]) -> T | None:
        """Run ``action``; on a corrupt database, start a new one; on any error, None."""
        if self._db is None:
            return None
        try:
            return action(self._db)
        except (sqlite3.Error, ValueError, OverflowError) as e:  # locked, read-only, full,
            if type(e) is sqlite3.DatabaseError:  # a name not in UTF-8: skip; not a
                self._rebuild()  # database: rebuild
            return None

    def _rebuild(self) -> None:
        """Replace a corrupt database with an empty one (or none, if that fails too)."""
        self.close()
        self._empty = {}
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._db = _connect(self.path)
        except (OSError, sqlite3.Error):
            self._db = None


def _prune(db: sqlite3.Connection, now: float) -> None:
    """The one pruning rule: rows past their time go (and any whose time is not a
    number), then each table keeps its newest ``limit`` rows."""
    for t in TABLES:
        db.execute(f"DELETE FROM {t.name} WHERE valid_until <= ? OR NOT "
                   "typeof(valid_until) IN ('integer', 'null')", (now,))
        (count,) = db.execute(f"SELECT count(*) FROM {t.name}").fetchone()
        if count > t.limit:
            db.execute(f"DELETE FROM {t.name} WHERE k IN (SELECT k FROM {t.name} "
                       "ORDER BY stored_at LIMIT ?)", (count - t.limit,))


def _short(row_id: bytes) -> int:
    """A table's key: the id's first 8 bytes, as SQLite's 64-bit integer."""
    return int.from_bytes(row_id[:8], "big", signed=True)


def _connect(path: Path) -> sqlite3.Connection:
    """Open the database, creating or upgrading its tables when needed."""
    # Used by one thread at a time: the check opens its memory in a thread of its own
    # (check/early.py) while reading the lockfiles, and waits for it before going on.
    db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None,
                         check_same_thread=False)
    try:
        # No fsync, not even when closing (which would cost a check milliseconds). A power
        # cut may then damage the database: what SQLite finds damaged is rebuilt
        # (_rebuild); a row damaged otherwise is not reused, as every row is checked
        # against what it is reused for (a verification against the statement's bytes,
        # a verdict or a result against a digest of the whole row, a listing against its
        # keys' bytes).
        db.execute("PRAGMA synchronous=OFF")
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            db.execute("PRAGMA journal_mode=WAL")
            with _transaction(db):
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    _create(db)
            _forget_old(path.parent)
    except BaseException:
        db.close()
        raise
    return db


def _forget_old(folder: Path) -> None:
    """Remove what earlier versions kept in files of their own, now rows of this store
    (each passing result in results/, each parsed policy in policies/); no link is
    followed."""
    import shutil

    for name in OLD_FOLDERS:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def _create(db: sqlite3.Connection) -> None:
    """Every table afresh: untyped columns, so that a value keeps the type it was given
    (and ``Table.decode`` sees a damaged one)."""
    for t in TABLES:
        db.execute(f"DROP TABLE IF EXISTS {t.name}")
        # Rows are stored in the order they are put (SQLite's own rowid); ``k`` is looked
        # up by its index. Keyed by ``k`` itself (random), every row put would land on a
        # page of its own, each rewritten at each write: three times the writing.
        db.execute(f"CREATE TABLE {t.name} (k INTEGER NOT NULL UNIQUE, "
                   f"{', '.join(t.fields)}, stored_at INTEGER NOT NULL)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE (waiting for other writers) ... COMMIT, or ROLLBACK on an error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
