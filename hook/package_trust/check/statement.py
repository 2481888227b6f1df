"""The signed statement: JSON that gpg verified, bound to one lockfile entry."""

import base64
import binascii
import functools
import re
from typing import Any, NamedTuple

from package_trust.check import safejson

VERDICTS = ("audited", "rejected")
MAX_TIME = 253402300799999  # ms: the last moment of year 9999, the last a datetime can hold


class StatementError(ValueError):
    """The signed text is not a statement."""


class Statement(NamedTuple):
    package: str
    version: str
    sha512: str  # base64, as in npm's integrity
    sha1: str | None
    time: int | None
    verdict: str
    notes: str | None
    raw: dict[str, Any]


def parse(signed_text: bytes) -> Statement:
    """Parse a statement from the text gpg verified."""
    try:
        data = safejson.loads(signed_text.decode("utf-8"))
    except (UnicodeDecodeError, safejson.JsonError) as e:
        raise StatementError(f"malformed statement: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise StatementError("malformed statement: not a JSON object")
    package, version, digest = data.get("package"), data.get("version"), data.get("hash")
    if not isinstance(package, str) or not isinstance(version, str):
        raise StatementError("malformed statement: package and version must be strings")
    if not isinstance(digest, dict) or not isinstance(digest.get("sha512"), str):
        raise StatementError("malformed statement: hash.sha512 is missing")
    verdict = data.get("verdict", "audited")
    if verdict not in VERDICTS:
        raise StatementError(f"unknown verdict {verdict!r} (audited or rejected)")
    sha1, time, notes = digest.get("sha1"), data.get("time"), data.get("notes")
    return Statement(
        package=package,
        version=version,
        sha512=digest["sha512"],
        sha1=sha1 if isinstance(sha1, str) else None,
        time=time if type(time) is int and 0 <= time <= MAX_TIME else None,
        verdict=verdict,
        notes=notes if isinstance(notes, str) else None,
        raw=data,
    )


# JavaScript's whitespace (/\s/, trim()), on which ssri splits an integrity string.
JS_SPACE = "".join(("\t\n\v\f\r \u00a0\u1680", *map(chr, range(0x2000, 0x200B)),
                    "\u2028\u2029\u202f\u205f\u3000\ufeff"))
_JS_SPACES = re.compile(f"[{re.escape(JS_SPACE)}]+")
# ssri's SRI_REGEX, matched on a token that holds no JavaScript whitespace.
_SRI = re.compile(r"([a-z0-9]+)-([^?]+)(?:\?.*)?", re.DOTALL)
# Algorithms ssri ranks below sha512 (DEFAULT_PRIORITY); ssri ranks "sha3" above it.
_WEAKER = frozenset(("md5", "whirlpool", "sha1", "sha224", "sha256", "sha384"))


@functools.lru_cache(maxsize=8192)  # asked twice per package by a check (engine.py)
def sha512_of(integrity: str | None) -> bytes | None:
    """The SHA-512 digest npm binds a tarball to, or None unless it is exactly one.

    Read as ssri parses it (npm's integrity library): split on JavaScript whitespace, each
    token ``algorithm-digest?options``; npm then accepts a tarball matching *any* digest of
    the strongest algorithm present. So a digest is returned only when that algorithm is
    sha512 and the tokens hold exactly one valid sha512: a second one could smuggle in a
    tarball nobody audited. A token of another algorithm that ssri ranks above sha512, or
    of one whose rank is unknown, fails closed. A sha512 digest not in the canonical base64
    npm compares against (88 characters, padded) can never match, and is ignored.
    """
    digests = set()
    for token in _JS_SPACES.split((integrity or "").strip(JS_SPACE)):
        match = _SRI.fullmatch(token)
        if match is None:
            continue  # not a hash to ssri
        algo, value = match.group(1, 2)
        if algo == "sha512":
            digest = decode_b64(value)
            if digest is not None and len(digest) == 64 and base64.b64encode(
                    digest).decode() == value:
                digests.add(digest)
        elif algo not in _WEAKER:
            return None
    return digests.pop() if len(digests) == 1 else None


def decode_b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
