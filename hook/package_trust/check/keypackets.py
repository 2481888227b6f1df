"""Step 1 of judging a key file (keyfiles.py): its OpenPGP packets, read here without gpg.

Only version 4 public keys with their user IDs and signatures pass: no compressed data (a
few kilobytes gpg would inflate to gigabytes in memory), no secret key, no other version,
nothing gpg would not read whole, and no more than gpg reads in a few seconds
(MAX_PACKETS packets, MAX_SELF_CHECKS: gpg checks a bad self-signature again for every
user ID).
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator

MAX_PACKETS = 1000  # a minimal export holds a few
# gpg checks every self-signature of a key again for each of its user IDs and subkeys
# (about a millisecond each, when the signature is bad): at most this many checks
MAX_SELF_CHECKS = 4000
_PUBLIC = frozenset({2, 6, 12, 13, 14, 17})  # signature, key, trust, user ID, subkey, photo
_SECRET = frozenset({5, 7})
_PARTS = frozenset({13, 14, 17})  # user ID, subkey, photo: what a self-signature binds
# gpg's test of a file's first packet header, binary or armored (armor.c, is_armored)
_WHOLE = frozenset({1, 2, 3, 4, 5, 6, 7, 10, 12, 13, 14, 17, 19})
_STREAMED = frozenset({8, 9, 11, 16, 18, 20, 61, 63})
_BEGIN = re.compile(rb"-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----")
_END = re.compile(rb"-----END PGP (PUBLIC|PRIVATE) KEY BLOCK-----")
SECRET_KEY = "holds a SECRET key: if it is real, that key is compromised and must be revoked"
Packet = tuple[int, bytes]  # type, body


def screen(data: bytes) -> list[int] | str:
    """The type of each OpenPGP packet in ``data``, or why gpg must not read it."""
    blocks = [data] if _binary(data) else _dearmor(data)
    if blocks is None:
        return "is not well-formed ASCII armor holding public keys"
    packets: list[Packet] = []
    for block in blocks:
        found = _packets(block)
        if found is None:
            return "holds truncated or malformed OpenPGP packets"
        packets += found
    tags = [tag for tag, _ in packets]
    kinds = set(tags)
    if kinds & _SECRET:
        return SECRET_KEY
    if kinds - _PUBLIC:
        return f"holds OpenPGP data other than public keys (packet type {min(kinds - _PUBLIC)})"
    if len(tags) > MAX_PACKETS:
        return f"holds more than {MAX_PACKETS} OpenPGP packets"
    if any(tag in (6, 14) and body[:1] != b"\x04" for tag, body in packets):
        return "holds a key of an OpenPGP version other than 4"
    if _self_checks(packets) > MAX_SELF_CHECKS:
        return "holds more self-signatures than gpg can check in a few seconds"
    return tags or "holds no OpenPGP key"


def _self_checks(packets: list[Packet]) -> int:
    """How many self-signature checks gpg may make for these packets, at most: for each
    primary key, its user IDs, photos and subkeys (and two) times the signatures that
    may be its own (any that holds its key ID: the issuer's is in every signature)."""
    total = parts = signed = 0
    key_id = b""
    for tag, body in [*packets, (6, b"")]:
        if tag == 6:
            total += (parts + 2) * signed
            key_id = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).digest()[-8:]
            parts = signed = 0
        elif tag in _PARTS:
            parts += 1
        elif tag == 2 and key_id in body:
            signed += 1
    return total


def _binary(data: bytes) -> bool:
    """Whether gpg reads ``data`` as binary OpenPGP rather than as armored text."""
    if len(data) < 2 or not data[0] & 0x80:
        return False
    new = bool(data[0] & 0x40)
    tag = data[0] & 0x3F if new else (data[0] >> 2) & 0xF
    indeterminate = 224 <= data[1] < 255 if new else data[0] & 3 == 3
    return tag in _STREAMED or (tag in _WHOLE and not indeterminate)


def _dearmor(data: bytes) -> list[bytes] | None:
    """The bytes of each armored block; None unless every armor header that gpg could
    take for one (any line with ``-----BEGIN PGP``) begins a well-formed key block."""
    blocks = []
    lines = iter(data.split(b"\n"))
    for line in lines:
        if b"-----BEGIN PGP" not in line:
            continue  # text around the blocks, which gpg skips too
        block = _block(lines) if _BEGIN.fullmatch(line.rstrip()) else None
        if block is None:
            return None
        blocks.append(block)
    return blocks


def _block(lines: Iterator[bytes]) -> bytes | None:
    """One armored block's bytes, its lines read up to its end line; None if malformed."""
    for line in lines:  # armor headers ("Comment: ..."), up to an empty line
        if not line.strip():
            break
        if b": " not in line or b"-----" in line:
            return None
    body: list[bytes] = []
    checksum = False
    for raw in lines:
        line = raw.strip()
        if _END.fullmatch(line):
            try:
                return base64.b64decode(b"".join(body), validate=True)
            except binascii.Error:
                return None
        if checksum or not line or b"-----" in line:
            return None
        checksum = line.startswith(b"=")  # the CRC line, just before the end line
        if not checksum:
            body.append(line)
    return None


def _packets(data: bytes) -> list[Packet] | None:
    """The packets in ``data``; None unless it is a sequence of whole packets, each of a
    length given in its header (no partial or indeterminate lengths)."""
    packets, pos = [], 0
    while pos < len(data):
        ctb = data[pos]
        if not ctb & 0x80:
            return None
        if ctb & 0x40:  # new format
            tag, first = ctb & 0x3F, data[pos + 1] if pos + 1 < len(data) else 255
            if first < 192:
                head, length = 2, first
            elif first < 224 and pos + 2 < len(data):
                head, length = 3, ((first - 192) << 8) + data[pos + 2] + 192
            elif first == 255 and pos + 6 <= len(data):
                head, length = 6, int.from_bytes(data[pos + 2 : pos + 6], "big")
            else:
                return None
        else:
            tag, size = (ctb >> 2) & 0xF, ctb & 3
            if size == 3 or pos + 1 + (1 << size) > len(data):
                return None
            head = 1 + (1 << size)
            length = int.from_bytes(data[pos + 1 : pos + head], "big")
        if pos + head + length > len(data):
            return None
        packets.append((tag, data[pos + head : pos + head + length]))
        pos += head + length
    return packets
