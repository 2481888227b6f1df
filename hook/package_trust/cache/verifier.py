"""The verification cache: a check repeats no verification it has already made.

Only good verifications are kept (store.py's ``verification`` table), by the SHA-256 of
the statement's bytes. One is reused only while everything that made it good still holds:

- the signer's key, as gpg lists the ledgers' current keys/, has the same digest (a
  revocation, a new expiry, any change to that key forgets its entries, and only its)
  and neither it nor the signing subkey is revoked or expired;
- the moment the result would change (signature or key expiry) has not come;
- the same gpg binary made it (``folder.gpg_identity``);
- it is re-bound to the statement's bytes: the remembered text must be the statement's
  own cleartext, the remembered signer and times those in its signature packet.

Anything else (a miss, a malformed row, a locked, corrupt or unreadable database) means
gpg verifies afresh. Failures are never kept. The engine still binds every statement to
the package's name, version and integrity and to the policy's trusted keys. gpg's
listing of the keys is kept too (the ``keyring`` table), with the notices about key
files not used (keyfiles.py), by the key files' names, bytes and read problems and the
gpg binary, for a day at most, so a check answered entirely from the cache starts no gpg
process; the keyring is built only for a miss.

Threat model: the cache lives in a folder the user owns, mode 0700 (any other folder is
not used). Whoever can write there can already change the user's hook, virtualenv or
gpg, so the cache does not defend against them beyond the checks above. Run with
``--no-cache`` or ``PACKAGE_TRUST_NO_CACHE=1`` to verify everything afresh.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence

from package_trust.cache.store import LISTINGS, VERIFIED, Listing, Store, Verified
from package_trust.check.gpg import KeyInfo, Keyring, Verification, check_key
from package_trust.check.ledger import LedgerFile

KEYRING_TTL = 24 * 3600  # a keyring listing is made afresh at least daily
CHUNK = 64  # statements looked up in the cache at once
KEEP = 256  # verifications kept at once


class CachedVerifier:
    """The cache in front of a ``Keyring`` that is built only when gpg is needed; it
    also tells when the first key or signature it answered with expires."""

    def __init__(self, files: Sequence[LedgerFile], store: Store, gpg: str,
                 trusted: frozenset[str]):
        self._files, self._store, self._gpg, self._trusted = files, store, gpg, trusted
        self._ring: Keyring | None = None
        digest = hashlib.sha256(gpg.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(",".join(sorted(trusted)).encode() + b"\0")  # whose subkeys are whose
        for f in files:  # the notices name the files, and say what was wrong with them
            for part in (f.origin.encode("utf-8", "surrogatepass"),
                         (f.problem or "").encode(), f.data):
                digest.update(len(part).to_bytes(8, "big") + part)
        self.keyring_id = digest.digest()
        now = time.time()
        listed = _listed(store.get(LISTINGS, [self.keyring_id], now).get(self.keyring_id))
        self.keys, self._keybox, self.notices = listed or ({}, None, [])
        if listed is None:  # gpg lists the keys: remember that, the keybox and the notices
            self._ring = Keyring(files, trusted=trusted)
            self.keys, self.notices = self._ring.keys, self._ring.notices
            row = _listing(self.keyring_id, self.keys, self._ring.keybox(), self.notices, now)
            store.put(LISTINGS, [row], now, prune=True)
        self.valid_until = _first(t for k in self.keys.values()
                                  for t in (k.expires, *k.subkey_expires.values()))

    def close(self) -> None:
        if self._ring is not None:
            self._ring.close()

    def verify(self, statements: Iterable[bytes | None]) -> Iterator[tuple[int, Verification]]:
        """Each statement's verification (by its position) as soon as it is known: the
        cache's, or else gpg's, kept when good. The statements are drawn a chunk at a
        time; the keyring is built, and gpg started, at the first the cache lacks."""
        now = time.time()
        drawn = _chunks(statements)
        misses: list[tuple[int, bytes, bytes]] = []
        for chunk in drawn:
            if chunk is None:
                continue
            found, misses = self._recall(chunk, now)
            yield from self._answer(found)
            if misses:
                break
        else:
            return
        given: list[tuple[int, bytes, bytes]] = []  # position, id and bytes, as gpg has them
        found = []

        def unknown() -> Iterator[bytes | None]:
            """What gpg is to verify (None: a pause, passed on); what the cache holds on
            the way goes to ``found``."""
            pending = misses
            while True:
                for miss in pending:
                    given.append(miss)
                    yield miss[2]
                pending = []
                for chunk in drawn:
                    if chunk is None:
                        yield None
                        continue
                    hits, pending = self._recall(chunk, now)
                    found.extend(hits)
                    break
                else:
                    return

        keep = []
        for k, v in self._keyring().verify(unknown()):
            n, row_id, _ = given[k]
            key = self.keys.get(v.primary or "")
            if v.good and key is not None and v.plaintext is not None:
                keep.append(Verified(row_id, v.plaintext, key.fingerprint, v.signer or "",
                                     v.signed_at, v.expires, v.uid, key.digest, self._gpg,
                                     valid_until(v, key)))
                if len(keep) == KEEP:  # kept as they come, while gpg verifies the rest
                    self._store.put(VERIFIED, keep, now)
                    keep = []
            yield from self._answer([(n, v), *found])
            found.clear()
        yield from self._answer(found)
        self._store.put(VERIFIED, keep, now)

    def _answer(self, answered: list[tuple[int, Verification]]
                ) -> Iterator[tuple[int, Verification]]:
        """Hand the verifications on, noting when the first of them expires."""
        for n, v in answered:
            if v.expires is not None:
                self.valid_until = _first([self.valid_until, v.expires])
            yield n, v

    def _keyring(self) -> Keyring:
        if self._ring is None:  # the listing is cached (else __init__ built the keyring)
            self._ring = Keyring(self._files, self.keys, self._keybox, self._trusted)
        return self._ring

    def _recall(self, chunk: list[tuple[int, bytes]], now: float
                ) -> tuple[list[tuple[int, Verification]], list[tuple[int, bytes, bytes]]]:
        """The chunk's verifications the cache holds, and the others (position, id, bytes)."""
        ids = [hashlib.sha256(s).digest() for _, s in chunk]
        rows = self._store.get(VERIFIED, ids, now)
        hits, misses = [], []
        for (n, s), i in zip(chunk, ids, strict=True):
            v = self._reuse(s, rows.get(i), now)
            if v is None:
                misses.append((n, i, s))
            else:
                hits.append((n, v))
        return hits, misses

    def _reuse(self, statement: bytes, row: Verified | None, now: float) -> Verification | None:
        """The remembered verification, if it still holds for exactly these bytes."""
        if row is None:
            return None
        key = self.keys.get(row.primary_key)
        if key is None or key.digest != row.key_digest or row.gpg != self._gpg:
            return None
        if row.signed_at is None or row.signed_at > now:  # the clock went back: gpg would
            return None  # refuse it
        v = Verification(row.plaintext, row.primary_key, row.signer, row.signed_at,
                         row.expires, row.uid)
        limit = valid_until(v, key)
        if limit is not None and now >= limit:
            return None
        if not check_key(v, self.keys, now).good or not _bound(statement, v):
            return None
        return v


def _chunks(statements: Iterable[bytes | None]
            ) -> Iterator[list[tuple[int, bytes]] | None]:
    """The statements by position, a few at a time (looked up in the cache together):
    one, then twice as many each time up to CHUNK, so that the first the cache lacks
    goes to gpg at once. At a None (the next is a while coming): those drawn so far,
    then the None."""
    chunk: list[tuple[int, bytes]] = []
    size, n = 1, 0
    for s in statements:
        if s is not None:
            chunk.append((n, s))
            n += 1
        if chunk and (s is None or len(chunk) == size):
            yield chunk
            chunk, size = [], min(2 * size, CHUNK)
        if s is None:
            yield None
    if chunk:
        yield chunk


def _bound(statement: bytes, v: Verification) -> bool:
    """Whether the statement's own bytes say what ``v`` says: text, signer, times."""
    from package_trust.cache import clearsign

    facts = clearsign.signature_facts(statement)
    return (
        facts is not None
        and facts.names(v.signer or "")
        and (facts.created, facts.expires) == (v.signed_at, v.expires)
        and clearsign.cleartext(statement) == v.plaintext
    )


def valid_until(v: Verification, key: KeyInfo) -> int | None:
    """When the verification stops holding: the first of signature, key, subkey expiry."""
    subkey = key.subkey_expires.get(v.signer or "") if v.signer != key.fingerprint else None
    return _first((v.expires, key.expires, subkey))


def _first(times: Iterable[float | None]) -> int | None:
    """The earliest of ``times`` (None: none)."""
    return min((int(t) for t in times if t is not None), default=None)


def _listing(listing_id: bytes, keys: dict[str, KeyInfo], keybox: bytes | None,
             notices: list[str], now: float) -> Listing:
    """A listing kept for a day at most (less if a key expires sooner)."""
    expiries = [t for k in keys.values() for t in (k.expires, *k.subkey_expires.values())
                if t is not None and t > now]
    listing = json.dumps([[k.fingerprint, list(k.uids), k.expires, k.revoked, k.subkeys,
                           k.digest, k.subkey_expires] for k in keys.values()])
    return Listing(listing_id, listing, keybox, json.dumps(notices),
                   int(min([now + KEYRING_TTL, *expiries])))


def _listed(row: Listing | None) -> tuple[dict[str, KeyInfo], bytes | None, list[str]] | None:
    """The keys, keybox and notices of a kept listing, or None if it is not exactly of
    the shape ``_listing`` writes."""
    if row is None:
        return None
    try:
        keys = {}
        for fpr, uids, expires, revoked, subkeys, digest, subkey_expires in json.loads(
                row.listing):
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
        notices = json.loads(row.notices)
    except (ValueError, TypeError):
        return None
    if not (isinstance(notices, list) and all(isinstance(n, str) for n in notices)):
        return None
    return keys, row.keybox, notices
