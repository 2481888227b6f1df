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
gpg verifies afresh; a corrupt database is deleted and rebuilt (cachedb.py). Failures are
never kept. The engine still binds every statement to the package's name, version and
integrity and to the policy's trusted keys. gpg's listing of the keys is cached too, with
the notices about key files not used (keyfiles.py), keyed by the key files' names, bytes
and read problems and the gpg binary, for a day at most, so a check answered entirely
from the cache starts no gpg process; the keyring is built only for a miss.

Threat model: the cache lives in a folder the user owns, mode 0700 (any other folder is
not used). Whoever can write there can already change the user's hook, virtualenv or
gpg, so the cache does not defend against them beyond the checks above. Run with
``--no-cache`` or ``PACKAGE_TRUST_NO_CACHE=1`` to verify everything afresh.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from package_trust.cache.folder import directory, enabled
from package_trust.cache.store import Store
from package_trust.check.gpg import KeyInfo, Keyring, Verification, check_key, gpg_binary

if TYPE_CHECKING:
    from package_trust.check.ledger.interface import LedgerFile

_INT_OR_NONE = (int, type(None))
_STR_OR_NONE = (str, type(None))


def open_verifier(files: Sequence[LedgerFile]) -> CachedVerifier | Keyring:
    """The verifier a check uses: the cache in front of a keyring, unless disabled."""
    try:
        store = Store.open(directory()) if enabled() else None
    except RuntimeError:  # no home folder: no cache
        store = None
    if store is None:
        return Keyring(files)
    try:
        return CachedVerifier(files, store)
    except BaseException:
        store.close()
        raise


class CachedVerifier:
    """The cache in front of a ``Keyring`` that is built only when gpg is needed."""

    def __init__(self, files: Sequence[LedgerFile], store: Store):
        binary = gpg_binary()  # fail closed without gpg, even when nothing needs it
        st = os.stat(binary)
        self._gpg = f"{binary}:{st.st_size}:{st.st_mtime_ns}"
        self._files = files
        self.store = store
        self._ring: Keyring | None = None
        digest = hashlib.sha256(self._gpg.encode() + b"\0")
        for f in files:  # the notices name the files, and say what was wrong with them
            for part in (f.origin.encode(), (f.problem or "").encode(), f.data):
                digest.update(len(part).to_bytes(8, "big") + part)
        self.keyring_id = digest.hexdigest()
        listed = store.keyring(self.keyring_id, time.time())
        self.keys, self._keybox, self.notices = listed or ({}, None, [])
        if listed is None:  # gpg lists the keys: remember that, the keybox and the notices
            self._ring = Keyring(self._files)
            self.keys, self.notices = self._ring.keys, self._ring.notices
            store.put_keyring(self.keyring_id, self.keys, self._ring.keybox(), time.time(),
                              self.notices)

    def close(self) -> None:
        if self._ring is not None:
            self._ring.close()
        self.store.close()

    def verify_many(self, statements: Sequence[bytes]) -> list[Verification]:
        """Reuse what the cache holds; verify the rest with gpg and remember the good."""
        return self.start(statements)()

    def start(self, statements: Sequence[bytes]) -> Callable[[], list[Verification]]:
        """``verify_many`` in two steps: what the cache holds now, and gpg for the rest in
        the background; the function returned waits for gpg and returns every result."""
        now = time.time()
        ids = [hashlib.sha256(s).digest() for s in statements]
        rows = self.store.get_many(ids)
        results = [self._reuse(s, rows.get(i), now) for s, i in zip(statements, ids, strict=True)]
        missing = [n for n, v in enumerate(results) if v is None]
        if not missing:
            return lambda: [v for v in results if v is not None]
        if self._ring is None:  # the listing is cached (else __init__ built the keyring)
            self._ring = Keyring(self._files, self.keys, self._keybox)
        verifying = self._ring.start([statements[n] for n in missing])

        def finish() -> list[Verification]:
            keep = []
            for n, v in zip(missing, verifying(), strict=True):
                results[n] = v
                key = self.keys.get(v.primary or "")
                if v.good and key is not None and _bound(statements[n], v):
                    keep.append((ids[n], v.plaintext, v.primary, v.signer, v.signed_at,
                                 v.expires, v.uid, key.digest, self._gpg, valid_until(v, key)))
            self.store.put_many(keep, now)
            return [v for v in results if v is not None]

        return finish

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
        if signed_at is None or signed_at > now:  # the clock went back: gpg would refuse it
            return None
        v = Verification(plaintext, primary, signer, signed_at, expires, uid)
        limit = valid_until(v, key)
        if (until is not None and now >= until) or (limit is not None and now >= limit):
            return None
        if not check_key(v, self.keys, now).good or not _bound(statement, v):
            return None
        return v


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
    times = [t for t in (v.expires, key.expires, subkey) if t is not None]
    return min(times) if times else None
