"""Read, without verifying, what a clearsigned statement's bytes say about themselves.

The verification cache uses this to re-bind what it remembers to the exact bytes of a
statement: the text gpg printed must be the statement's own cleartext, and the signer,
creation and expiry times must be those written in its signature packet. Nothing here
says whether a signature is good; only gpg says that. Any doubt returns None.
"""

import base64
import binascii
from typing import NamedTuple

_BEGIN_MESSAGE = b"-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_SIGNATURE = b"-----BEGIN PGP SIGNATURE-----"
_END_SIGNATURE = b"-----END PGP SIGNATURE-----"
_UNUSUAL = (b"\n-", b" \n", b"\t\n", b"\r")
_BLANK = (b" ", b"\t")
_ISSUER, _ISSUER_FINGERPRINT, _CREATED, _EXPIRES = 16, 33, 2, 3


class SignatureFacts(NamedTuple):
    """What a version 4 signature packet claims, unverified."""

    issuers: tuple[str, ...]  # issuer fingerprint and key ID, upper-case hex
    created: int
    expires: int | None  # seconds since the epoch

    def names(self, fingerprint: str) -> bool:
        """Whether the packet names this (sub)key as its issuer."""
        return fingerprint in self.issuers or fingerprint[-16:] in self.issuers


def cleartext(statement: bytes) -> bytes | None:
    """The signed text as gpg prints it: dash-escapes undone, trailing blanks dropped."""
    if not statement.startswith(_BEGIN_MESSAGE + b"\n"):
        return None
    start = statement.find(b"\n\n") + 2
    end = statement.find(b"\n" + _BEGIN_SIGNATURE + b"\n", start - 1)
    if start < 2 or end < start:
        return None
    text = statement[start:end]
    if not (any(x in text for x in _UNUSUAL) or text.startswith(b"-") or text.endswith(_BLANK)):
        return text + b"\n"  # the usual statement: one line of JSON
    lines = [line[2:] if line.startswith(b"- ") else line for line in text.split(b"\n")]
    return b"".join(line.rstrip(b" \t") + b"\n" for line in lines)


def signature_facts(statement: bytes) -> SignatureFacts | None:
    """The issuer and times in the statement's one signature packet."""
    try:
        packet = _one_packet(_dearmor(statement))
        return _parse_signature(packet) if packet is not None else None
    except (binascii.Error, IndexError, ValueError):
        return None


def _dearmor(statement: bytes) -> bytes:
    """The bytes of the statement's ASCII-armored signature block."""
    start = statement.index(b"\n" + _BEGIN_SIGNATURE + b"\n")
    start = statement.index(b"\n\n", start) + 2  # armor headers end at the first blank line
    end = statement.index(b"\n" + _END_SIGNATURE, start)
    body = statement[start:end]
    checksum = body.rfind(b"\n=")
    if checksum >= 0:
        body = body[:checksum]
    return base64.b64decode(body.replace(b"\n", b""), validate=True)


def _one_packet(data: bytes) -> bytes | None:
    """The body of the only packet in ``data``, if it is a signature packet."""
    head = data[0]
    if not head & 0x80:
        return None
    if head & 0x40:  # new format
        tag, first = head & 0x3F, data[1]
        if first < 192:
            length, at = first, 2
        elif first < 224:
            length, at = ((first - 192) << 8) + data[2] + 192, 3
        elif first == 255:
            length, at = int.from_bytes(data[2:6], "big"), 6
        else:
            return None  # partial lengths: not a lone signature
    else:
        tag, kind = (head >> 2) & 0x0F, head & 0x03
        if kind == 3:
            return None
        size = 1 << kind
        length, at = int.from_bytes(data[1 : 1 + size], "big"), 1 + size
    if tag != 2 or at + length != len(data):
        return None
    return data[at:]


def _parse_signature(body: bytes) -> SignatureFacts | None:
    if body[0] != 4:
        return None
    at = 6 + (body[4] << 8 | body[5])
    hashed = _subpackets(body, 6, at)
    unhashed = _subpackets(body, at + 2, at + 2 + (body[at] << 8 | body[at + 1]))
    created, lifetime = hashed.get(_CREATED), hashed.get(_EXPIRES, bytes(4))
    if created is None or len(created) != 4 or len(lifetime) != 4:
        return None
    issuers = [
        x.hex().upper()
        for area in (hashed, unhashed)
        for x in (area.get(_ISSUER, b"")[-8:], area.get(_ISSUER_FINGERPRINT, b"")[1:])
        if x
    ]
    when, life = int.from_bytes(created, "big"), int.from_bytes(lifetime, "big")
    return SignatureFacts(tuple(issuers), when, when + life if life else None)


def _subpackets(data: bytes, at: int, end: int) -> dict[int, bytes]:
    """The subpackets in data[at:end], by type (the first of each type)."""
    if end > len(data):
        raise ValueError("truncated signature")
    out: dict[int, bytes] = {}
    while at < end:
        first = data[at]
        if first < 192:
            length, at = first, at + 1
        elif first < 255:
            length, at = ((first - 192) << 8) + data[at + 1] + 192, at + 2
        else:
            length, at = int.from_bytes(data[at + 1 : at + 5], "big"), at + 5
        if length < 1 or at + length > end:
            raise ValueError("truncated subpacket")
        out.setdefault(data[at] & 0x7F, data[at + 1 : at + length])
        at += length
    return out
