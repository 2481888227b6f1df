"""The files of a ledger's keys/, each judged on its own before any reaches the keyring.

Anyone may add a file to keys/ by pull request, so no file is trusted to hold what its
name says, and gpg never reads two files as one stream (there, a corrupt block hides
every file after it, and a revocation certificate revokes whichever key precedes it).
``gpg.Keyring`` takes each file through these steps; a file that fails one is not used,
and a notice names it:

1. ``screen``: its OpenPGP packets, read here without gpg. Only version 4 public keys
   with their user IDs and signatures pass: no compressed data (a few kilobytes gpg
   would inflate to gigabytes in memory), no secret key, no other version, nothing gpg
   would not read whole, and no more than gpg reads in a few seconds (MAX_PACKETS
   packets, MAX_SELF_CHECKS: gpg checks a bad self-signature again for every user ID).
2. ``held``: what gpg lists the file alone to hold (``--import-options show-only``, ended
   after ``gpg.VET_TIMEOUT``): at least one valid key, or a revocation certificate.
3. ``plan``: the files against each other. A file holding another file's primary key as a
   subkey is not used (gpg would refuse that key, or credit its signatures to the wrong
   key); so is a file whose primary key shares its key ID with another primary key,
   unless its key is trusted and the other not. A subkey that several primary keys hold
   would have its signatures credited to whichever gpg meets first. Where exactly one of
   them is a trusted key, the subkey is that key's (only its holder can have bound it to
   a trusted key) and no file holding it under another key is used: a file anyone adds
   cannot take a trusted key's subkey. Otherwise it counts for none of them. Copies of one
   primary key in several files merge: gpg adds to a key only what that key signed, and
   never takes anything away, so no copy undoes a revocation.

Steps 2 and 3 take one gpg process for all files when that shows nothing amiss
(``plan_together``), one per file otherwise. gpg then imports the files kept, each as a
file of its own, and after them the files that hold revocation certificates once more,
so that a certificate revokes the key it names wherever its file sorts. ``keep`` checks
what gpg lists against what the files held.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from package_trust.check.gpg import KeyInfo

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
_FINGERPRINT = re.compile(r"[0-9A-F]{40}")
NOT_USED = " (key file not used)"
_SECRET_KEY = "holds a SECRET key: if it is real, that key is compromised and must be revoked"
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
        return _SECRET_KEY
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


class Held(NamedTuple):
    """What gpg would import from one file, read alone: its valid primary keys, each
    with its valid subkeys; how many standalone revocation certificates it holds; how
    many primary keys gpg listed, and how many of those are not valid."""

    keys: dict[str, frozenset[str]]
    revocations: int
    listed: int = 0
    invalid: int = 0


def held(listing: str) -> Held | str:
    """What ``gpg --with-colons --import-options show-only --import`` listed for one
    file, or why the file is not to be used."""
    keys: dict[str, set[str]] = {}
    revocations = listed = invalid = 0
    record: list[str] = []
    primary: str | None = None
    for line in listing.splitlines():
        field = line.split(":")
        if field[0] in ("pub", "sub", "sec", "ssb"):
            record = field
        elif field[0] == "fpr" and record and len(field) > 9:
            kind, valid, fingerprint = record[0], record[1:2] != ["i"], field[9]
            record = []
            if kind in ("sec", "ssb"):
                return _SECRET_KEY
            if not _FINGERPRINT.fullmatch(fingerprint):
                return "holds a key of an OpenPGP version other than 4"
            if kind == "pub":
                listed, invalid = listed + 1, invalid + (not valid)
                primary = fingerprint if valid else None  # invalid: gpg will not import it
                if primary is not None:
                    keys.setdefault(primary, set())
            elif valid and primary is not None:
                keys[primary].add(fingerprint)
        elif field[0] == "rvs":
            revocations += 1
    if not keys and not revocations:
        return "holds no valid public key or revocation certificate"
    return Held({k: frozenset(v) for k, v in keys.items()}, revocations, listed, invalid)


class Vetted(NamedTuple):
    """A key file that passed ``screen`` and ``held``."""

    origin: str
    data: bytes
    held: Held


class Plan(NamedTuple):
    """What to import, and what the keyring may then hold."""

    files: list[Vetted]  # to import, in this order
    revocations: list[Vetted]  # to import again, after them
    keys: dict[str, frozenset[str]]  # primary key -> the subkeys that count for it
    notices: list[str]


def plan(vetted: Sequence[Vetted], trusted: frozenset[str] = frozenset()) -> Plan:
    """Weigh the files against each other (module docstring, step 3); ``trusted``: the
    policy's trusted primary keys."""
    owners: dict[str, dict[str, list[str]]] = {}  # key ID -> primary key -> files
    for v in vetted:
        for primary in v.held.keys:
            owners.setdefault(primary[-16:], {}).setdefault(primary, []).append(v.origin)
    notices: list[str] = []
    kept = []
    for v in vetted:
        clash = _clash(v.held, owners, trusted)
        if clash is None:
            kept.append(v)
        else:
            notices.append(f"{v.origin}: {clash}{NOT_USED}")
    holders = _holders(kept)
    taken = {}  # subkey ID -> the one trusted key of the several holding it
    for key_id, by in holders.items():
        owners_trusted = [p for p in by if p in trusted]
        if len(by) > 1 and len(owners_trusted) == 1:
            taken[key_id] = owners_trusted[0]
    if taken:  # a trusted key's subkey, held by another key too: that file is not used
        for v in list(kept):
            why = _takes(v.held, taken)
            if why is not None:
                kept.remove(v)
                notices.append(f"{v.origin}: {why}{NOT_USED}")
        holders = _holders(kept)
    shared = {k: by for k, by in holders.items() if len(by) > 1}
    for key_id, by in sorted(shared.items()):
        held_by = "; ".join(f"{p} in {', '.join(files)}" for p, files in sorted(by.items()))
        notices.append(f"subkey {key_id} is held by several keys ({held_by}): its signatures "
                       "count for none of them")
    keys: dict[str, frozenset[str]] = {}
    for v in kept:
        for primary, subkeys in v.held.keys.items():
            ours = frozenset(s for s in subkeys if s[-16:] not in shared)
            keys[primary] = keys.get(primary, frozenset()) | ours
    return Plan(kept, [v for v in kept if v.held.revocations], keys, notices)


def _holders(files: Sequence[Vetted]) -> dict[str, dict[str, list[str]]]:
    """Subkey ID -> primary key holding it -> the files where it does."""
    holders: dict[str, dict[str, list[str]]] = {}
    for v in files:
        for primary, subkeys in v.held.keys.items():
            for subkey in subkeys:
                holders.setdefault(subkey[-16:], {}).setdefault(primary, []).append(v.origin)
    return holders


def _takes(held: Held, taken: dict[str, str]) -> str | None:
    """Why a file's keys would take a trusted key's subkey (``plan``); None if not."""
    for primary, subkeys in held.keys.items():
        for subkey in sorted(subkeys):
            owner = taken.get(subkey[-16:], primary)
            if owner != primary:
                return f"its key {primary} holds subkey {subkey} of trusted key {owner}"
    return None


def plan_together(files: Sequence[tuple[str, bytes, list[int]]], together: Held
                  ) -> Plan | None:
    """The plan for files (origin, bytes, ``screen``'s packet types) when gpg, listing
    them all in one process, shows every file sound and none clashing with another (as
    gpg reads each file on its own, its listing is theirs, one after the other): each
    file holds keys (it starts with one, and gpg lists every one as valid) or only
    revocation certificates (gpg lists each). None when they must be listed one by one,
    for the notices to name the file (``plan``)."""
    certificates = [f for f in files if set(f[2]) == {2}]
    keys = sum(tags.count(6) for _, _, tags in files)
    if (together.invalid or together.listed != keys
            or together.revocations != sum(len(tags) for _, _, tags in certificates)
            or any(tags[0] != 6 for _, _, tags in files if set(tags) != {2})):
        return None
    whole = plan([Vetted("", b"", together)])
    if whole.notices:
        return None
    return whole._replace(files=[Vetted(o, data, together) for o, data, _ in files],
                          revocations=[Vetted(o, data, together) for o, data, _ in certificates])


def _clash(held: Held, owners: dict[str, dict[str, list[str]]], trusted: frozenset[str]
           ) -> str | None:
    """Why a file's keys would hide or stand in for another file's key; None if not."""
    for primary, subkeys in held.keys.items():
        others = [p for p in owners[primary[-16:]]
                  if p != primary and (p in trusted or primary not in trusted)]
        if others:
            return f"its key {primary} has the key ID of key {others[0]}"
        for subkey in sorted(subkeys):
            if subkey[-16:] in owners:
                owner, files = next(iter(owners[subkey[-16:]].items()))
                return (f"its key {primary} holds key {owner} ({', '.join(files)}) as a "
                        "subkey")
    return None


def keep(listing: "dict[str, KeyInfo]", planned: "Plan") -> "tuple[dict[str, KeyInfo], list[str]]":
    """What gpg listed, kept only as far as the files held it: no other primary key, and
    no subkey that did not count (``plan``); with a notice for anything else dropped."""
    kept: dict[str, KeyInfo] = {}
    notices = []
    for fingerprint, key in listing.items():
        allowed = planned.keys.get(fingerprint)
        if allowed is None:
            notices.append(f"gpg's keyring holds key {fingerprint}, which no key file was seen "
                           "to hold: it is not used")
            continue
        dropped = sorted(set(key.subkeys) - allowed)
        if dropped:
            key = key._replace(
                subkeys={s: r for s, r in key.subkeys.items() if s in allowed},
                subkey_expires={s: t for s, t in key.subkey_expires.items() if s in allowed},
                digest=hashlib.sha256(f"{key.digest}-{','.join(dropped)}".encode()).hexdigest(),
            )
        kept[fingerprint] = key
    return kept, notices
