"""The verification cache's database: SQLite in WAL mode, safe for checks running at once.

``verification`` holds good verifications by the SHA-256 of the statement; ``keyring``
holds gpg's listing of a set of key files and the keybox gpg built from them (copied into
a new keyring instead of importing the keys again); ``verdict`` holds audited packages'
verdicts.
What may be reused is decided by cache.py and verdicts.py.
Every error is swallowed here (a miss, not a crash); a file that is not a database, or
a corrupt one, is deleted and started afresh.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from package_trust.cache.folder import private_folder
from package_trust.check.gpg import KeyInfo

FILE_NAME = "verifications.sqlite3"
SCHEMA_VERSION = 3
KEYRING_TTL = 24 * 3600  # a keyring listing is rebuilt at least daily
MAX_ENTRIES = 200_000
BUSY_SECONDS = 10.0
_CHUNK = 500  # statements per SELECT
_FIELDS = "plaintext, primary_key, signer, signed_at, expires, uid, key_digest, gpg, valid_until"
_VERDICT_FIELDS = "package, paths, digest, signed_at, valid_until, signers, body"
_SCHEMA = (
    "CREATE TABLE verification (statement BLOB PRIMARY KEY, plaintext BLOB NOT NULL, "
    "primary_key TEXT NOT NULL, signer TEXT NOT NULL, signed_at INTEGER, expires INTEGER, "
    "uid TEXT, key_digest TEXT NOT NULL, gpg TEXT NOT NULL, valid_until INTEGER, "
    "stored_at INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE keyring (id TEXT PRIMARY KEY, listing TEXT NOT NULL, keybox BLOB, "
    "notices TEXT NOT NULL, valid_until INTEGER NOT NULL) WITHOUT ROWID",
    # keyed by the first 8 bytes of the package id, which is faster to look up than a blob
    "CREATE TABLE verdict (k INTEGER PRIMARY KEY, package BLOB NOT NULL, paths TEXT NOT NULL, "
    "digest TEXT NOT NULL, signed_at INTEGER, valid_until INTEGER, signers TEXT NOT NULL, "
    "body TEXT NOT NULL, stored_at INTEGER NOT NULL)",
)
_TABLES = ("verification", "keyring", "verdict")
T = TypeVar("T")


class Store:
    """The cache database. A database error is a miss, never a crash."""

    def __init__(self, path: Path):
        self.path = path
        self._db: sqlite3.Connection | None = None
        try:
            self._db = _connect(path)
        except sqlite3.Error as e:
            if type(e) is not sqlite3.DatabaseError:
                raise
            self._rebuild()

    @classmethod
    def open(cls, folder: Path) -> Store | None:
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

    def get_many(self, ids: Sequence[bytes]) -> dict[bytes, tuple[Any, ...]]:
        """The rows stored for these statement hashes."""
        return self._select("verification", "statement", _FIELDS, ids)

    def verdicts(self, ids: Sequence[bytes]) -> dict[bytes, tuple[Any, ...]]:
        """The verdicts stored for these package ids (verdicts.py): the row's fields,
        the package id first."""
        found = self._select("verdict", "k", _VERDICT_FIELDS, [_short(i) for i in ids])
        wanted = set(ids)
        return {row[0]: row for row in found.values() if row[0] in wanted}

    def put_verdicts(self, rows: list[tuple[Any, ...]], now: float) -> None:
        """Store rows: the fields named in ``_VERDICT_FIELDS``, the package id first."""
        self._insert("verdict", "k", _VERDICT_FIELDS, [(_short(r[0]), *r) for r in rows], now)

    def _select(
        self, table: str, key: str, fields: str, ids: Sequence[bytes | int]
    ) -> dict[Any, tuple[Any, ...]]:
        def get(db: sqlite3.Connection) -> dict[Any, tuple[Any, ...]]:
            rows: dict[Any, tuple[Any, ...]] = {}
            for at in range(0, len(ids), _CHUNK):
                chunk = ids[at : at + _CHUNK]
                sql = (
                    f"SELECT {key}, {fields} FROM {table} "
                    f"WHERE {key} IN ({','.join('?' * len(chunk))})"
                )
                rows.update((row[0], row[1:]) for row in db.execute(sql, chunk))
            return rows

        return self._run(get) or {}

    def _insert(
        self, table: str, key: str, fields: str, rows: list[tuple[Any, ...]], now: float
    ) -> None:
        def put(db: sqlite3.Connection) -> None:
            marks = ",".join("?" * (fields.count(",") + 3))
            with _transaction(db):
                db.executemany(
                    f"INSERT OR REPLACE INTO {table} ({key}, {fields}, stored_at) "
                    f"VALUES ({marks})",
                    [(*row, int(now)) for row in rows],
                )

        if rows:
            self._run(put)

    def put_many(self, rows: list[tuple[Any, ...]], now: float) -> None:
        """Store rows: the statement's hash, then the fields named in ``_FIELDS``."""
        self._insert("verification", "statement", _FIELDS, rows, now)

    def keyring(
        self, listing_id: str, now: float
    ) -> tuple[dict[str, KeyInfo], bytes | None, list[str]] | None:
        """The keyring listing, keybox and notices stored under ``listing_id``, while
        fresh."""

        def get(db: sqlite3.Connection) -> tuple[Any, ...] | None:
            row: tuple[Any, ...] | None = db.execute(
                "SELECT listing, keybox, notices FROM keyring WHERE id = ? AND valid_until > ?",
                (listing_id, now),
            ).fetchone()
            return row

        row = self._run(get)
        if row is None or not isinstance(row[0], str) or not isinstance(row[2], str):
            return None
        keys, notices = _load_listing(row[0]), _load_notices(row[2])
        if keys is None or notices is None:
            return None
        return keys, row[1] if type(row[1]) is bytes else None, notices

    def put_keyring(
        self, listing_id: str, keys: dict[str, KeyInfo], keybox: bytes | None, now: float,
        notices: list[str],
    ) -> None:
        """Store a listing for a day at most (less if a key expires); prune what lapsed."""
        expiries = [
            t
            for k in keys.values()
            for t in (k.expires, *k.subkey_expires.values())
            if t is not None and t > now
        ]
        until = int(min([now + KEYRING_TTL, *expiries]))

        def put(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute("DELETE FROM keyring WHERE valid_until <= ?", (now,))
                for table, key in (("verification", "statement"), ("verdict", "k")):
                    db.execute(f"DELETE FROM {table} WHERE valid_until <= ?", (now,))
                    (count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
                    if count > MAX_ENTRIES:
                        db.execute(
                            f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} "
                            "ORDER BY stored_at LIMIT ?)",
                            (count - MAX_ENTRIES,),
                        )
                db.execute(
                    "INSERT OR REPLACE INTO keyring (id, listing, keybox, notices, valid_until) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (listing_id, _dump_listing(keys), keybox, json.dumps(notices), until),
                )

        self._run(put)

    def _run(self, action: Callable[[sqlite3.Connection], T]) -> T | None:
        """Run ``action``; on a corrupt database, start a new one; on any error, None."""
        if self._db is None:
            return None
        try:
            return action(self._db)
        except sqlite3.Error as e:  # locked, read-only, full: skip; not a database: rebuild
            if type(e) is sqlite3.DatabaseError:
                self._rebuild()
            return None

    def _rebuild(self) -> None:
        """Replace a corrupt database with an empty one (or none, if that fails too)."""
        self.close()
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._db = _connect(self.path)
        except (OSError, sqlite3.Error):
            self._db = None


def _short(package_id: bytes) -> int:
    """The verdict table's key: the id's first 8 bytes, as SQLite's 64-bit integer."""
    return int.from_bytes(package_id[:8], "big", signed=True)


def _connect(path: Path) -> sqlite3.Connection:
    """Open the database, creating or upgrading its tables when needed."""
    db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        # No fsync, not even when closing (which would cost a check milliseconds). A power
        # cut may then damage the database: what SQLite finds damaged is rebuilt
        # (_rebuild); a row damaged otherwise is not reused, as every row is checked
        # against what it is reused for (a verification against the statement's bytes,
        # a verdict against a digest of the whole row, a listing against its keys' bytes).
        db.execute("PRAGMA synchronous=OFF")
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            db.execute("PRAGMA journal_mode=WAL")
            with _transaction(db):
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    for table in _TABLES:
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                    for sql in _SCHEMA:
                        db.execute(sql)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db


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


def _dump_listing(keys: dict[str, KeyInfo]) -> str:
    return json.dumps([
        [k.fingerprint, list(k.uids), k.expires, k.revoked, k.subkeys, k.digest,
         k.subkey_expires]
        for k in keys.values()
    ])


def _load_listing(text: str) -> dict[str, KeyInfo] | None:
    """The listing ``_dump_listing`` wrote, or None if it is not exactly that shape."""
    try:
        keys = {}
        for fpr, uids, expires, revoked, subkeys, digest, subkey_expires in json.loads(text):
            if not (
                isinstance(fpr, str) and isinstance(digest, str) and type(revoked) is bool
                and isinstance(uids, list) and all(isinstance(u, str) for u in uids)
                and (expires is None or type(expires) is int)
                and isinstance(subkeys, dict) and isinstance(subkey_expires, dict)
                and all(type(r) is bool for r in subkeys.values())
                and all(t is None or type(t) is int for t in subkey_expires.values())
            ):
                return None
            keys[fpr] = KeyInfo(fpr, tuple(uids), expires, revoked, subkeys, digest,
                                subkey_expires)
        return keys
    except (ValueError, TypeError):
        return None


def _load_notices(text: str) -> list[str] | None:
    """The notices ``put_keyring`` wrote, or None if they are not a list of strings."""
    try:
        notices = json.loads(text)
    except ValueError:
        return None
    ok = isinstance(notices, list) and all(isinstance(n, str) for n in notices)
    return notices if ok else None
