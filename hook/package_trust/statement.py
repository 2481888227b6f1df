"""The signed statement: JSON that gpg verified, bound to one lockfile entry."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from typing import Any, NamedTuple

VERDICTS = ("audited", "rejected")


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
        data = json.loads(signed_text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
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
        time=time if isinstance(time, int) and not isinstance(time, bool) else None,
        verdict=verdict,
        notes=notes if isinstance(notes, str) else None,
        raw=data,
    )


@functools.lru_cache(maxsize=8192)  # asked twice per package by a check (engine.py)
def sha512_of(integrity: str | None) -> bytes | None:
    """The SHA-512 digest in an npm integrity string, or None when there is not exactly one.

    npm accepts a tarball that matches *any* listed hash of the strongest algorithm, so a
    second, different sha512 could smuggle in a tarball nobody audited.
    """
    digests = set()
    for part in (integrity or "").split():
        algo, _, value = part.partition("-")
        if algo == "sha512":
            digest = decode_b64(value.split("?")[0])
            if digest is None or len(digest) != 64:
                return None
            digests.add(digest)
    return digests.pop() if len(digests) == 1 else None


def decode_b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
