"""The files of a ledger's keys/, each judged on its own before any reaches the keyring.

Anyone may add a file to keys/ by pull request, so no file is trusted to hold what its
name says, and gpg never reads two files as one stream (there, a corrupt block hides
every file after it, and a revocation certificate revokes whichever key precedes it).
``gpg.Keyring`` takes each file through these steps; a file that fails one is not used,
and a notice names it:

1. ``screen`` (keypackets.py): its OpenPGP packets, read without gpg. Only version 4
   public keys with their user IDs and signatures pass.
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

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from package_trust.check.keypackets import SECRET_KEY

if TYPE_CHECKING:
    from package_trust.check.gpg import KeyInfo

_FINGERPRINT = re.compile(r"[0-9A-F]{40}")
NOT_USED = " (key file not used)"


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
                return SECRET_KEY
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
