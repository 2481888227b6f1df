"""What gpg says, read: its status lines about one clearsigned statement (``parse_status``:
good only when gpg reported GOODSIG and VALIDSIG for exactly one signature and none of
the status codes that mark an expired, revoked, bad or uncheckable signature; its exit
code is never consulted), and its colon listing of a keyring's keys (``listed_keys``).
"""

import hashlib
from typing import NamedTuple

CLEARSIGN_HEADER = b"-----BEGIN PGP SIGNED MESSAGE-----"
MAX_STATEMENT_BYTES = 64 * 1024
# VALIDSIG's hash algorithm field: digests too weak to bind a statement (RFC 4880 9.4).
WEAK_HASHES = {"1": "MD5", "2": "SHA-1", "3": "RIPEMD-160"}
BAD_STATUS = {
    "BADSIG": "bad signature: the statement was altered after signing",
    "EXPSIG": "the signature has expired",
    "EXPKEYSIG": "signed by an expired key",
    "REVKEYSIG": "signed by a revoked key",
}
# Every keyword parse_status reads: a status line with another says nothing it judges.
JUDGED = ("NEWSIG", "GOODSIG", "VALIDSIG", "ERRSIG", "NO_PUBKEY", "NODATA", "FAILURE",
          "ERROR", *BAD_STATUS)

class KeyInfo(NamedTuple):
    """A primary key in the isolated keyring, as gpg lists it."""

    fingerprint: str
    uids: tuple[str, ...]
    expires: int | None  # seconds since the epoch
    revoked: bool
    subkeys: dict[str, bool]  # subkey fingerprint -> revoked
    digest: str  # changes whenever gpg's view of the key changes
    subkey_expires: dict[str, int | None] = {}  # noqa: RUF012 (a default shared, never changed)

    def expired(self, now: float) -> bool:
        return self.expires is not None and self.expires <= now

    @property
    def uid(self) -> str:
        return self.uids[0] if self.uids else ""


class Verification(NamedTuple):
    """What gpg said about one clearsigned statement."""

    plaintext: bytes | None  # the text gpg verified as signed, and nothing else
    primary: str | None = None  # primary key fingerprint (VALIDSIG, last field)
    signer: str | None = None  # the (sub)key that made the signature
    signed_at: int | None = None
    expires: int | None = None  # signature expiry, seconds since the epoch
    uid: str | None = None
    problem: str | None = None  # None exactly when the signature is good
    # gpg checked the signature over ``plaintext`` and it holds, but its key has expired
    # or been revoked, or the signature has expired: not good enough to count an audit,
    # good enough to honour a rejection (failing closed).
    lapsed: bool = False

    @property
    def good(self) -> bool:
        return self.problem is None

    @property
    def authentic(self) -> bool:
        """Whether the key made this signature over ``plaintext``, lapsed or not."""
        return self.plaintext is not None and (self.good or self.lapsed)


def listed_keys(listing: str) -> dict[str, KeyInfo]:
    """The primary keys in gpg's colon listing: each ``pub`` record with the ``fpr``,
    ``uid`` and ``sub`` records after it (gpg's doc/DETAILS)."""
    keys: dict[str, KeyInfo] = {}
    for block in ("\n" + listing).split("\npub:")[1:]:
        records = [line.split(":") for line in f"pub:{block}".splitlines()]
        fields = [r for r in records if len(r) > 9 and r[0] in ("pub", "sub", "fpr", "uid")]
        fprs = [r[9] for r in fields if r[0] == "fpr"]
        subs = [r for r in fields if r[0] == "sub"]
        if not fields or len(fprs) != 1 + len(subs):
            continue  # not a key as gpg lists one: not used
        pub = fields[0]
        keys[fprs[0]] = KeyInfo(
            fingerprint=fprs[0],
            uids=tuple(_unescape(r[9]) for r in fields if r[0] == "uid"),
            expires=int(pub[6]) if pub[6].isdigit() else None,
            revoked=pub[1] == "r",
            subkeys={fpr: sub[1] == "r" for fpr, sub in zip(fprs[1:], subs, strict=True)},
            digest=hashlib.sha256(f"pub:{block}".encode()).hexdigest(),
            subkey_expires={fpr: int(sub[6]) if sub[6].isdigit() else None
                            for fpr, sub in zip(fprs[1:], subs, strict=True)},
        )
    return keys


_ESCAPES = {"n": "\n", "r": "\r", "f": "\f", "v": "\v", "b": "\b", "0": "\0"}


def _unescape(uid: str) -> str:
    """A user ID as gpg's colon listing escapes it: control characters, backslashes and
    colons as ``\\n`` … or ``\\xHH``."""
    import re

    return re.sub(r"\\(x[0-9a-fA-F]{2}|[nrfvb0])",
                  lambda m: _ESCAPES.get(m[1]) or chr(int(m[1][1:], 16)), uid)


def check_key(v: Verification, keys: dict[str, KeyInfo], now: float) -> Verification:
    """Belt and braces: refuse what the keyring says is revoked or expired."""
    if not v.good:
        return v
    key = keys.get(v.primary or "")
    if key is None:
        return v._replace(problem="signed by a key that is not in the keyring")
    if key.revoked:
        return v._replace(problem="signed by a revoked key", lapsed=True)
    if key.expired(now):
        return v._replace(problem="signed by an expired key", lapsed=True)
    if v.signer != key.fingerprint:
        if key.subkeys.get(v.signer or "", True):
            return v._replace(problem="signed by a revoked or unknown subkey", lapsed=True)
        expires = key.subkey_expires.get(v.signer or "")
        if expires is not None and expires <= now:
            return v._replace(problem="signed by an expired subkey", lapsed=True)
    return v


def parse_status(lines: list[list[str]], plaintext: bytes | None) -> Verification:
    """Judge one statement from gpg's status lines (keyword first, split on spaces)."""
    keywords = [w[0] for w in lines]
    sigs = keywords.count("NEWSIG")
    named = ("GOODSIG", *BAD_STATUS)
    uid = next((" ".join(w[2:]) for w in lines if w[0] in named and len(w) > 2), None)
    validsig = next((w for w in lines if w[0] == "VALIDSIG" and len(w) >= 11), None)
    primary = validsig[10] if validsig else None
    signer = validsig[1] if validsig else None
    signed_at = int(validsig[3]) if validsig and validsig[3].isdigit() else None
    expiry = validsig[4] if validsig else ""
    expires = int(expiry) if expiry.isdigit() and expiry != "0" else None

    def result(problem: str | None, lapsed: bool = False) -> Verification:
        return Verification(plaintext, primary, signer, signed_at, expires, uid, problem, lapsed)

    clean = (
        sigs == 1
        and validsig is not None
        and not {"BADSIG", "ERRSIG", "FAILURE", "ERROR"} & set(keywords)
    )
    for keyword, problem in BAD_STATUS.items():
        if keyword in keywords:
            return result(problem, lapsed=clean and keyword != "BADSIG")
    if validsig is not None and validsig[8] in WEAK_HASHES:
        return result(f"signed with a weak hash algorithm ({WEAK_HASHES[validsig[8]]})")
    errsig = next((w for w in lines if w[0] == "ERRSIG"), None)
    if errsig is not None:
        if "NO_PUBKEY" in keywords:
            key = errsig[1] if len(errsig) > 1 else "?"
            return result(f"signed by key {key}, which is not in the ledger's keys/")
        return result("the signature could not be checked")
    if sigs == 0 or "NODATA" in keywords:
        return result("not a signed statement")
    if sigs != 1:
        return result(f"carries {sigs} signatures; a statement must carry exactly one")
    if "GOODSIG" not in keywords or validsig is None:
        return result("gpg did not report a good, valid signature")
    if any(k in ("FAILURE", "ERROR") for k in keywords) or plaintext is None:
        return result("gpg reported an error reading the statement")
    return result(None)
