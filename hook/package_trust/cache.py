"""The verification cache: a check repeats no verification it has already made.

Only good verifications are kept, in ``$XDG_CACHE_HOME/package-trust/verifications.sqlite3``
(default ``~/.cache/package-trust/``), keyed by the SHA-256 of the statement's bytes. An
entry is reused only while everything that made it good still holds:

- the signer's key, as gpg lists the ledgers' current keys/, has the same digest (a
  revocation, a new expiry, any change to that key forgets its entries, and only its)
  and neither it nor the signing subkey is revoked or expired;
- the moment the result would change (signature or key expiry) has not come;
- the same gpg binary made it;
- it is re-bound to the statement's bytes: the remembered text must be the statement's
  own cleartext, the remembered signer and times those in its signature packet.

Anything else (a miss, a malformed row, a locked, corrupt or unreadable database) means
gpg verifies afresh; a corrupt database is deleted and rebuilt. Failures are never kept.
The engine still binds every statement to the package's name, version and integrity and
to the policy's trusted keys. gpg's listing of the keys is cached too, keyed by the key
files' bytes, so a check answered entirely from the cache starts no gpg process.

Threat model: the cache lives in a folder the user owns, mode 0700 (any other folder is
not used). Whoever can write there can already change the user's hook, virtualenv or
gpg, so the cache does not defend against them beyond the checks above. Run with
``--no-cache`` or ``PACKAGE_TRUST_NO_CACHE=1`` to verify everything afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from package_trust import clearsign
from package_trust.gpg import KeyInfo, Keyring, Verification, check_key, gpg_binary

NO_CACHE_ENV = "PACKAGE_TRUST_NO_CACHE"
FILE_NAME = "verifications.sqlite3"
SCHEMA_VERSION = 1
KEYRING_TTL = 24 * 3600  # a keyring listing is rebuilt at least daily
MAX_ENTRIES = 200_000
BUSY_SECONDS = 10.0
_CHUNK = 500  # statements per SELECT
_FIELDS = "plaintext, primary_key, signer, signed_at, expires, uid, key_digest, gpg, valid_until"
_SCHEMA = (
    "CREATE TABLE verification (statement BLOB PRIMARY KEY, plaintext BLOB NOT NULL, "
    "primary_key TEXT NOT NULL, signer TEXT NOT NULL, signed_at INTEGER, expires INTEGER, "
    "uid TEXT, key_digest TEXT NOT NULL, gpg TEXT NOT NULL, valid_until INTEGER, "
    "stored_at INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE keyring (id TEXT PRIMARY KEY, listing TEXT NOT NULL, "
    "valid_until INTEGER NOT NULL) WITHOUT ROWID",
)
T = TypeVar("T")
_INT_OR_NONE = (int, type(None))
_STR_OR_NONE = (str, type(None))


def enabled() -> bool:
    """False when $PACKAGE_TRUST_NO_CACHE is set (to anything but 0, false or no)."""
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() in ("", "0", "false", "no")


def directory() -> Path:
    """$XDG_CACHE_HOME/package-trust, else ~/.cache/package-trust."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "package-trust"


def open_verifier(key_data: list[bytes]) -> CachedVerifier | Keyring:
    """The verifier a check uses: the cache in front of a keyring, unless disabled."""
    store = Store.open() if enabled() else None
    if store is None:
        return Keyring(key_data)
    try:
        return CachedVerifier(key_data, store)
    except BaseException:
        store.close()
        raise


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
    def open(cls, folder: Path | None = None) -> Store | None:
        """The store in ``folder`` (default: ``directory()``), or None when unusable."""
        try:
            folder = folder or directory()
            _private_folder(folder)
            return cls(folder / FILE_NAME)
        except (OSError, RuntimeError, sqlite3.Error):
            return None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def get_many(self, ids: Sequence[bytes]) -> dict[bytes, tuple[Any, ...]]:
        """The rows stored for these statement hashes."""

        def get(db: sqlite3.Connection) -> dict[bytes, tuple[Any, ...]]:
            rows: dict[bytes, tuple[Any, ...]] = {}
            for at in range(0, len(ids), _CHUNK):
                chunk = ids[at : at + _CHUNK]
                sql = (
                    f"SELECT statement, {_FIELDS} FROM verification "
                    f"WHERE statement IN ({','.join('?' * len(chunk))})"
                )
                rows.update((row[0], row[1:]) for row in db.execute(sql, chunk))
            return rows

        return self._run(get) or {}

    def put_many(self, rows: list[tuple[Any, ...]], now: float) -> None:
        """Store rows: the statement's hash, then the fields named in ``_FIELDS``."""

        def put(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.executemany(
                    f"INSERT OR REPLACE INTO verification (statement, {_FIELDS}, stored_at) "
                    f"VALUES ({','.join('?' * 11)})",
                    [(*row, int(now)) for row in rows],
                )

        if rows:
            self._run(put)

    def keyring(self, listing_id: str, now: float) -> dict[str, KeyInfo] | None:
        """The keyring listing stored under ``listing_id``, while it is fresh."""

        def get(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT listing FROM keyring WHERE id = ? AND valid_until > ?",
                (listing_id, now),
            ).fetchone()
            return row[0] if row and isinstance(row[0], str) else None

        text = self._run(get)
        return _load_listing(text) if text is not None else None

    def put_keyring(self, listing_id: str, keys: dict[str, KeyInfo], now: float) -> None:
        """Store a listing until the day ends or a key expires; prune what has lapsed."""
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
                db.execute("DELETE FROM verification WHERE valid_until <= ?", (now,))
                (count,) = db.execute("SELECT count(*) FROM verification").fetchone()
                if count > MAX_ENTRIES:
                    db.execute(
                        "DELETE FROM verification WHERE statement IN (SELECT statement FROM "
                        "verification ORDER BY stored_at LIMIT ?)",
                        (count - MAX_ENTRIES,),
                    )
                db.execute(
                    "INSERT OR REPLACE INTO keyring (id, listing, valid_until) VALUES (?, ?, ?)",
                    (listing_id, _dump_listing(keys), until),
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


class CachedVerifier:
    """The cache in front of a ``Keyring`` that is built only when gpg is needed."""

    def __init__(self, key_data: list[bytes], store: Store):
        binary = gpg_binary()  # fail closed without gpg, even when nothing needs it
        st = os.stat(binary)
        self._gpg = f"{binary}:{st.st_size}:{st.st_mtime_ns}"
        self._key_data = key_data
        self._store = store
        self._ring: Keyring | None = None
        digest = hashlib.sha256(self._gpg.encode() + b"\0")
        for data in key_data:
            digest.update(len(data).to_bytes(8, "big") + data)
        self._listing_id = digest.hexdigest()
        keys = store.keyring(self._listing_id, time.time())
        self._listed = keys is not None
        self.keys: dict[str, KeyInfo] = keys or {}
        if keys is None:
            self.keys = self._keyring().keys

    def close(self) -> None:
        if self._ring is not None:
            self._ring.close()
        self._store.close()

    def verify_many(self, statements: Sequence[bytes]) -> list[Verification]:
        """Reuse what the cache holds; verify the rest with gpg and remember the good."""
        now = time.time()
        ids = [hashlib.sha256(s).digest() for s in statements]
        rows = self._store.get_many(ids)
        results: list[Verification | None] = []
        ring: _Background[Keyring] | None = None
        for s, i in zip(statements, ids, strict=True):
            v = self._reuse(s, rows.get(i), now)
            if v is None and ring is None and self._ring is None:  # import the keys meanwhile
                ring = _Background(lambda: Keyring(self._key_data, self.keys))
            results.append(v)
        if ring is not None:
            self._ring = ring.result()
        missing = [n for n, v in enumerate(results) if v is None]
        if not missing:
            return [v for v in results if v is not None]
        fresh = self._keyring().verify_many([statements[n] for n in missing])
        keep = []
        for n, v in zip(missing, fresh, strict=True):
            results[n] = v
            key = self.keys.get(v.primary or "")
            if v.good and key is not None and _bound(statements[n], v):
                until = _valid_until(v, key)
                keep.append((ids[n], v.plaintext, v.primary, v.signer, v.signed_at, v.expires,
                             v.uid, key.digest, self._gpg, until))
        self._store.put_many(keep, now)
        return [v for v in results if v is not None]

    def _keyring(self) -> Keyring:
        if self._ring is None:  # with a cached listing, gpg need not list the keys again
            self._ring = Keyring(self._key_data, self.keys if self._listed else None)
            if not self._listed:
                self._store.put_keyring(self._listing_id, self._ring.keys, time.time())
        return self._ring

    def _reuse(
        self, statement: bytes, row: tuple[Any, ...] | None, now: float
    ) -> Verification | None:
        """The remembered verification, if it still holds for exactly these bytes."""
        if row is None:
            return None
        plaintext, primary, signer, signed_at, expires, uid, key_digest, gpg, until = row
        key = self.keys.get(primary)
        if key is None or key.digest != key_digest or gpg != self._gpg:
            return None
        if not (
            type(plaintext) is bytes and type(signer) is str and type(uid) in _STR_OR_NONE
            and type(signed_at) in _INT_OR_NONE and type(expires) in _INT_OR_NONE
            and type(until) in _INT_OR_NONE
        ):
            return None
        v = Verification(plaintext, primary, signer, signed_at, expires, uid)
        limit = _valid_until(v, key)
        if (until is not None and now >= until) or (limit is not None and now >= limit):
            return None
        if not check_key(v, self.keys, now).good or not _bound(statement, v):
            return None
        return v


class _Background(Generic[T]):
    """``work()`` in a thread of its own; ``result()`` returns or raises what it did."""

    def __init__(self, work: Callable[[], T]):
        import threading

        self._done: list[T] = []
        self._failed: list[BaseException] = []

        def run() -> None:
            try:
                self._done.append(work())
            except BaseException as e:
                self._failed.append(e)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self) -> T:
        self._thread.join()
        if self._failed:
            raise self._failed[0]
        return self._done[0]


def _bound(statement: bytes, v: Verification) -> bool:
    """Whether the statement's own bytes say what ``v`` says: text, signer, times."""
    facts = clearsign.signature_facts(statement)
    return (
        facts is not None
        and facts.names(v.signer or "")
        and (facts.created, facts.expires) == (v.signed_at, v.expires)
        and clearsign.cleartext(statement) == v.plaintext
    )


def _valid_until(v: Verification, key: KeyInfo) -> int | None:
    """When the verification stops holding: the first of signature, key, subkey expiry."""
    subkey = key.subkey_expires.get(v.signer or "") if v.signer != key.fingerprint else None
    times = [t for t in (v.expires, key.expires, subkey) if t is not None]
    return min(times) if times else None


def _private_folder(folder: Path) -> None:
    """Create ``folder`` (mode 0700); refuse a link or another user's folder."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise OSError(f"{folder} is not a folder of this user")
    if st.st_mode & 0o077:
        os.chmod(folder, 0o700)


def _connect(path: Path) -> sqlite3.Connection:
    """Open the database, creating or upgrading its tables when needed."""
    db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: consistent, not always durable
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            db.execute("PRAGMA journal_mode=WAL")
            with _transaction(db):
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    db.execute("DROP TABLE IF EXISTS verification")
                    db.execute("DROP TABLE IF EXISTS keyring")
                    for sql in _SCHEMA:
                        db.execute(sql)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an error."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, t: type[BaseException] | None, *_: object) -> None:
        self._db.execute("COMMIT" if t is None else "ROLLBACK")


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
