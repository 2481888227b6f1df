"""Package verdicts: a check reads and judges again only the packages whose statements
changed since an earlier check found them audited (the engine's ``VerdictMemo``).

A verdict is the judged statements of one audited package. It is kept in the cache's
database (store.py's ``verdict`` table) under the SHA-256 of everything the judgement
rests on:

- the package's name and version, and the sha512 its lockfile entry names;
- the signatures the package needs (its scope's minimum) and the policy's trusted keys
  (fingerprints, names);
- the ledgers (where each is read from, its description and revision), the bytes of all
  their key files, the gpg binary (``CachedVerifier.keyring_id``) and package-trust's
  version.

It also records the stat signature of every folder and file read for the package, in
every ledger (``Traced.seen``; stamp.py): a statement added, changed, removed, renamed,
replaced or put behind a link, or a folder appearing where none was, and the verdict no
longer holds. A git ledger at a pinned commit reads nothing that can change: its
verdicts are kept by the commit id alone. That digest covers the stored verdict's own
text too, so a verdict comes back exactly as it was stored, or not at all. It is not
reused from the first moment a key or signature it involves expires, nor while the
clock reads earlier than a signature it counted. Exemptions and everything else the
engine decides without the ledger are decided afresh by every check. Only audited
verdicts are kept, so a failing package is always judged afresh; a check that reads a
ledger that cannot tell what would change its answers (a git branch, which a fetch may
move) neither keeps nor reuses any. The threat model is the verification cache's
(verifier.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence

from package_trust import __version__
from package_trust.cache.codec import StoredStatements, statements_text
from package_trust.cache.stamp import stamp, unchanged
from package_trust.cache.store import VERDICTS, Store, Verdict
from package_trust.cache.verifier import valid_until
from package_trust.check.filestat import Stats
from package_trust.check.gpg import KeyInfo, Verification
from package_trust.check.interfaces import Record
from package_trust.check.ledger import Ledger, Traced, traced
from package_trust.check.policy import Policy
from package_trust.check.result import StatementResult, Status

_SCHEMA = 4  # 2 kept a verdict by the policy's minimum, not the package's own; 3 had no
# mark on statements that pin nothing (codec.py)


def open_verdicts(store: Store, keyring_id: bytes, policy: Policy, ledgers: Sequence[Ledger]
                  ) -> Verdicts | None:
    """The verdicts for this check; None when a ledger cannot tell what would change its
    answers."""
    watched = [w for w in map(traced, ledgers) if w is not None]
    if len(watched) != len(ledgers):
        return None
    trusted = sorted((k.fingerprint, k.name) for k in policy.trusted_keys)
    scope = [_SCHEMA, __version__, StatementResult._fields, keyring_id.hex(), trusted,
             [(x.location, x.description, x.revision) for x in watched]]
    return Verdicts(store, json.dumps(scope).encode(), watched)


class Verdicts:
    """The verdicts kept for one policy, set of ledgers and keyring. ``record.memo``
    holds a record's kept verdict, then what reading its statements saw."""

    def __init__(self, store: Store, scope: bytes, ledgers: list[Traced]):
        self._store, self._ledgers = store, ledgers
        self._scope = hashlib.sha256(scope + b"\0")
        # Every path a kept verdict rests on, stat'ed once: what the reused verdicts rest
        # on (and a few more), for a kept result (results.py)
        self.seen: Stats = {}
        self.valid_until: int | None = None

    def _id(self, r: Record) -> bytes:
        """The verdict's id: the scope, the package, its sha512, and the signatures it
        needs (its scope's: a development package may need fewer, rounds.triage)."""
        h = self._scope.copy()  # names and versions hold no NUL (names.py), the digest last
        h.update(b"\0".join((r.pkg.name.encode(), r.pkg.version.encode(),
                             b"%d" % r.pkg.required, r.digest)))
        return h.digest()

    def recall(self, records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
        if self._store.empty(VERDICTS):  # no id worked out: gpg starts sooner
            return [], list(records)
        ids = [self._id(r) for r in records]
        rows = self._store.get(VERDICTS, ids, time.time())
        kept: list[Record] = []
        fresh: list[Record] = []
        for r, i in zip(records, ids, strict=True):
            r.memo = rows.get(i)
            (fresh if r.memo is None else kept).append(r)
        return kept, fresh

    def read(self, record: Record) -> None:
        seen: Stats = {}
        for ledger in self._ledgers:
            seen.update(ledger.seen(record.pkg.name, record.pkg.version))
        record.memo = seen

    def reuse(self, records: list[Record]) -> list[Record]:
        now = time.time()
        return [r for r in records if not self._reuse(r, r.memo, now)]

    def _reuse(self, r: Record, row: Verdict, now: float) -> bool:
        if row.signed_at > now:  # the clock went back
            return False
        if not unchanged(row.paths, row.digest, _bound(row), self.seen):
            return False
        # As stored (the digest says so): audited by these signers, with these statements.
        pkg = r.pkg
        pkg.status, pkg.problems = Status.AUDITED, []
        pkg.signers = json.loads(row.signers)
        pkg.signatures = len(pkg.signers)
        pkg.statements = StoredStatements(row.body)
        if row.valid_until is not None:
            self.valid_until = min(row.valid_until, self.valid_until or row.valid_until)
        return True

    def remember(self, records: Sequence[Record], verified: dict[bytes, Verification],
                 keys: dict[str, KeyInfo]) -> None:
        """Keep the verdict of every package judged audited, with what was read for it
        (noted by ``read``, as its statements were read)."""
        rows = []
        for r in records:
            pkg, seen = r.pkg, r.memo
            if pkg.status is not Status.AUDITED:
                continue
            checks = [verified[f.data] for f in r.files if f.data in verified]
            times = [v.signed_at for v in checks if v.signed_at is not None]
            if not times or len(pkg.signers) != pkg.signatures:
                continue
            row = Verdict(self._id(r), "", "", max(times), json.dumps(pkg.signers),
                          statements_text(pkg.statements), _until(checks, keys))
            paths, digest = stamp(seen, _bound(row))
            rows.append(row._replace(paths=paths, digest=digest))
        self._store.put(VERDICTS, rows, time.time())


def _bound(row: Verdict) -> str:
    """What a verdict row's digest covers besides the stat signatures: all of the row."""
    return (f"{row.id.hex()}\0{row.signed_at}\0{row.valid_until}\0{row.signers}\0"
            f"{row.body}")


def _until(checks: list[Verification], keys: dict[str, KeyInfo]) -> int | None:
    """The first moment a signature, or a key or subkey that made one, expires."""
    times = []
    for v in checks:
        key = keys.get(v.primary or "")
        t = valid_until(v, key) if key is not None else v.expires
        if t is not None:
            times.append(t)
    return min(times, default=None)
