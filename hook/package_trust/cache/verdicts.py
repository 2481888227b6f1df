"""Package verdicts: a check reads and judges again only the packages whose statements
changed since an earlier check found them audited.

A verdict is the judged statements of one audited package. It is kept in the verification
cache's database (cachedb.py) under the SHA-256 of everything the judgement rests on:

- the package's name and version, and the sha512 its lockfile entry names;
- the policy's minimum number of signatures and its trusted keys (fingerprints, names);
- the ledgers (description, revision), the bytes of all their key files, the gpg binary
  (``CachedVerifier.keyring_id``) and package-trust's version.

It also records the stat signature of every folder and file read for the package, in
every ledger (``Ledger.seen``; resultcache.stamp): a statement added, changed, removed,
renamed, replaced or put behind a link, or a folder appearing where none was, and the
verdict no longer holds. That digest covers the stored verdict's own text too, so a
verdict comes back exactly as it was stored, or not at all. It is not reused from the
first moment a key or signature it involves expires, nor while the clock reads earlier
than a signature it counted. Exemptions and everything else the engine decides without
the ledger are decided afresh by every check. Only audited verdicts are kept, so a
failing package is always judged afresh, and a check that reads a git ledger (which a
fetch may move) neither keeps nor reuses any. The threat model is the verification
cache's (cache.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from package_trust import __version__
from package_trust.cache.results import Seen, stamp, unchanged
from package_trust.cache.store import Store
from package_trust.cache.verifier import CachedVerifier, valid_until
from package_trust.check.gpg import KeyInfo, Verification
from package_trust.check.ledger import Ledger, LedgerFile
from package_trust.check.policy import Policy
from package_trust.check.result import PackageResult, StatementResult, Status

_SCHEMA = 1
Stored = tuple[PackageResult, tuple[Any, ...]]  # a package, and the verdict row kept for it
_FIELDS = StatementResult._fields


class Verdicts:
    """The verdicts kept for one policy, set of ledgers and keyring."""

    def __init__(self, store: Store, scope: bytes):
        self._store = store
        self._scope = hashlib.sha256(scope + b"\0")
        # Every path a kept verdict rests on, stat'ed once: what the reused verdicts rest
        # on (and a few more), for the whole-result cache (resultcache.py)
        self.seen: Seen = {}
        self.valid_until: int | None = None

    @classmethod
    def open(cls, verifier: object, policy: Policy, ledgers: Sequence[Ledger]) -> Verdicts | None:
        """The verdicts for this check, or None when none may be kept or reused."""
        if not isinstance(verifier, CachedVerifier) or any(x.observed is None for x in ledgers):
            return None
        scope = [_SCHEMA, __version__, _FIELDS, verifier.keyring_id, policy.minimum_signatures,
                 sorted((k.fingerprint, k.name) for k in policy.trusted_keys),
                 [(x.location, x.description, x.revision) for x in ledgers]]
        return cls(verifier.store, json.dumps(scope).encode())

    def _id(self, pkg: PackageResult, digest: bytes) -> bytes:
        h = self._scope.copy()  # names and versions hold no NUL (names.py), the digest last
        h.update(b"\0".join((pkg.name.encode(), pkg.version.encode(), digest)))
        return h.digest()

    def fetch(self, pending: Sequence[tuple[PackageResult, bytes]]) -> list[Stored]:
        """The verdicts kept for pending packages, not yet known to hold (``reuse``)."""
        ids = [self._id(pkg, digest) for pkg, digest in pending]
        rows = self._store.verdicts(ids)
        return [(pkg, row) for (pkg, _), i in zip(pending, ids, strict=True)
                if (row := rows.get(i)) is not None]

    def reuse(self, stored: list[Stored]) -> set[int]:
        """Fill in every package whose verdict still holds; their ``id()``s."""
        now = time.time()
        return {id(pkg) for pkg, row in stored if self._reuse(pkg, row, now)}

    def _reuse(self, pkg: PackageResult, row: tuple[Any, ...], now: float) -> bool:
        package, paths, digest, signed_at, until, signers, body = row
        if type(signed_at) is not int or signed_at > now:  # the clock went back
            return False
        if until is not None and (type(until) is not int or now >= until):
            return False
        if not (all(type(x) is str for x in (paths, digest, signers, body))
                and unchanged(paths, digest, _bound(package, signed_at, until, signers, body),
                              self.seen)):
            return False
        # As stored (the digest says so): audited by these signers, with these statements.
        pkg.status, pkg.problems = Status.AUDITED, []
        pkg.signers = json.loads(signers)
        pkg.signatures = len(pkg.signers)
        pkg.statements = StoredStatements(body)
        if until is not None and (self.valid_until is None or until < self.valid_until):
            self.valid_until = until
        return True

    def remember(
        self,
        judged: Iterable[tuple[PackageResult, bytes, list[LedgerFile], Seen | None]],
        ledgers: Sequence[Ledger],
        verified: dict[bytes, Verification],
        keys: dict[str, KeyInfo],
    ) -> None:
        """Keep the verdict of every package judged audited, with what was read for it
        (``read_for``, taken when its statements were read)."""
        rows = []
        for pkg, digest, files, seen in judged:
            if pkg.status is not Status.AUDITED:
                continue
            checks = [verified[f.data] for f in files if f.data in verified]
            times = [v.signed_at for v in checks if v.signed_at is not None]
            if seen is None or not times or len(pkg.signers) != pkg.signatures:
                continue
            signers = json.dumps(pkg.signers)
            body = json.dumps(list(pkg.statements))  # each statement as a list of fields
            package, signed_at, until = self._id(pkg, digest), max(times), _until(checks, keys)
            paths, stamped = stamp(seen, _bound(package, signed_at, until, signers, body))
            rows.append((package, paths, stamped, signed_at, until, signers, body))
        self._store.put_verdicts(rows, time.time())


class StoredStatements(Sequence[StatementResult]):
    """A verdict's statements, decoded when first read (most reports never read them)."""

    def __init__(self, text: str):
        self._text = text
        self._items: list[StatementResult] | None = None

    def _load(self) -> list[StatementResult]:
        if self._items is None:
            self._items = [StatementResult(*row) for row in json.loads(self._text)]
        return self._items

    @overload
    def __getitem__(self, index: int) -> StatementResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[StatementResult]: ...

    def __getitem__(self, index: int | slice) -> StatementResult | Sequence[StatementResult]:
        return self._load()[index]

    def __len__(self) -> int:
        return len(self._load())

    def __iter__(self) -> Iterator[StatementResult]:
        return iter(self._load())


def _bound(package: bytes, signed_at: Any, until: Any, signers: str, body: str) -> str:
    """What a verdict row's digest covers besides the stat signatures: all of the row."""
    return f"{package.hex()}\0{signed_at}\0{until}\0{signers}\0{body}"


def read_for(ledgers: Sequence[Ledger], pkg: PackageResult) -> Seen | None:
    """What every ledger read for the package, just now; None if one cannot tell."""
    seen: Seen = {}
    for ledger in ledgers:
        part = ledger.seen(pkg.name, pkg.version)
        if part is None:
            return None
        seen.update(part)
    return seen


def _until(checks: list[Verification], keys: dict[str, KeyInfo]) -> int | None:
    """The first moment a signature, or a key or subkey that made one, expires."""
    times = []
    for v in checks:
        key = keys.get(v.primary or "")
        t = valid_until(v, key) if key is not None else v.expires
        if t is not None:
            times.append(t)
    return min(times, default=None)
