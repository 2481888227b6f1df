"""``package-trust keys export|list|add``: the public keys in a ledger's keys/.

Every key written is first read into an isolated keyring, merged with the copy already
in keys/ (so a revocation there is never lost) and written back as a minimal export
(self-signatures only) to keys/<FINGERPRINT>.asc, atomically. User IDs and file names
are printed with control characters escaped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from package_trust.atomic import write_atomic
from package_trust.audit import usergpg
from package_trust.check import policy
from package_trust.check.folders import refuse_links
from package_trust.check.gpg import KeyInfo, Keyring
from package_trust.check.ledger import FolderLedger, LedgerFile
from package_trust.check.ledger.folder import MAX_KEY_BYTES
from package_trust.commands import workspace
from package_trust.errors import EXIT_OK, GpgError, PackageTrustError
from package_trust.textsafe import printable

NAME = "keys"
HELP = "publish your public key to a ledger (export), list its keys, or add a key file"
ACTIONS = {
    "export": "write your public key, from your own GnuPG keyring, to keys/<FINGERPRINT>.asc",
    "list": "show each key in keys/: fingerprint, user IDs, expiry, revocation, trust",
    "add": "check a public key file (one primary key, not expired, not revoked) and add it",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in ACTIONS.items():
        p = sub.add_parser(name, help=text, description=text)
        if name == "export":
            p.add_argument("key", metavar="KEY", help="your key: its fingerprint (or email)")
        elif name == "add":
            p.add_argument("file", type=Path, metavar="FILE")
        p.add_argument("--ledger", type=Path, metavar="DIR", help=workspace.LEDGER_HELP)
        workspace.add_policy(p)


def run(args: argparse.Namespace) -> int:
    ledger = workspace.ledger_root(args.ledger, args.policy)
    if args.action == "list":
        return list_keys(ledger, workspace.optional_policy(args.policy))
    if args.action == "export":
        key = usergpg.find_key(args.key)
        data, expected = usergpg.export_public(key), key.fingerprint
    else:
        data, expected = _read_key_file(args.file), None
    path, info = install(ledger, data, expected, str(args.file) if expected is None else None)
    print(printable(f"wrote {path}: {info.fingerprint} {info.uid}"))
    for line in _state(info):
        print(f"warning: the key {line}")
    pol = workspace.optional_policy(args.policy)
    if pol is not None and info.fingerprint not in pol.fingerprints:
        print(f"note: {pol.path} does not trust this key yet: add it under trusted-keys:")
        print(f"  - fingerprint: {info.fingerprint}")
    return EXIT_OK


def install(ledger: Path, data: bytes, expected: str | None,
            origin: str | None = None) -> tuple[Path, KeyInfo]:
    """Validate one public key, merge it with keys/'s copy, and write it there."""
    given = LedgerFile(origin or "your public key", data)
    with Keyring([given]) as keyring:
        found, why = list(keyring.keys.values()), keyring.notices
    if len(found) != 1:  # with why gpg was not given the file, if it was not
        raise PackageTrustError(f"expected exactly one public key, found {len(found)}"
                                + "".join(f": {printable(n)}" for n in why[:1]))
    fingerprint = found[0].fingerprint
    if expected is not None and fingerprint != expected:
        raise PackageTrustError(f"gpg exported key {fingerprint}, not {expected}")
    folder = ledger / "keys"
    refuse_links(ledger, folder, "a key")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{fingerprint}.asc"
    old = [LedgerFile(str(path), path.read_bytes())] \
        if path.is_file() and not path.is_symlink() else []
    with Keyring([*old, given]) as keyring:
        _refuse(keyring.notices)  # a copy in keys/ that cannot be read, or merged
        info = keyring.keys[fingerprint]
        merged = keyring.export(fingerprint)
    if expected is None and _state(info):  # keys add refuses what cannot sign anything
        raise PackageTrustError(f"key {fingerprint} {_state(info)[0]}; not added")
    if not merged.strip():
        raise GpgError(f"gpg exported nothing for key {fingerprint}; nothing written", path)
    try:
        write_atomic(path, merged)
    except OSError as e:
        raise PackageTrustError(f"cannot write the key: {e.strerror}", path) from None
    return path, info


def _refuse(notices: list[str]) -> None:
    """Stop at the first thing an isolated keyring could not use (keyfiles.py)."""
    if notices:
        raise PackageTrustError(f"nothing written: {printable(notices[0])}")


def _read_key_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_BYTES + 1)
    except OSError as e:
        raise PackageTrustError(f"cannot read the key file: {e.strerror}", path) from None
    if len(data) > MAX_KEY_BYTES:
        raise PackageTrustError(f"larger than {MAX_KEY_BYTES} bytes: not a public key", path)
    if b"PRIVATE KEY BLOCK" in data:
        raise PackageTrustError("holds a SECRET key: export only the public key "
                                "(gpg --armor --export FINGERPRINT)", path)
    return data


def _state(info: KeyInfo) -> list[str]:
    """What makes the key unusable: revoked, expired."""
    out = ["is revoked"] if info.revoked else []
    if info.expired(time.time()):
        out.append(f"expired on {_date(info.expires)}")
    return out


def _date(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    return str(dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date())


def list_keys(ledger: Path, pol: policy.Policy | None) -> int:
    with Keyring(FolderLedger(ledger).key_files()) as keyring:
        keys = sorted(keyring.keys.values(), key=lambda k: k.uid.lower())
    for notice in keyring.notices:  # a key file not used, and why
        print(printable(f"!! {notice}"))
    if not keys:
        print(f"no keys in {ledger / 'keys'}")
    for k in keys:
        state = ", ".join(_state(k)) or f"valid, expires {_date(k.expires)}"
        if pol is None:
            trust = "no policy"
        elif k.fingerprint in pol.fingerprints:
            trust = f"trusted as {pol.key_name(k.fingerprint)}"
        else:
            trust = "not trusted by the policy"
        print(printable(f"{k.fingerprint}  {state}; {trust}"))
        for uid in k.uids:
            print(printable(f"    {uid}"))
    listed = {k.fingerprint for k in keys}
    for t in pol.trusted_keys if pol is not None else []:
        if t.fingerprint not in listed:
            print(printable(f"!! {t.fingerprint} ({t.name}) is trusted by the policy but not "
                            "in keys/"))
    return EXIT_OK
