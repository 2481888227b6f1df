"""``package-trust sign NAME@VERSION … --key FINGERPRINT`` (or ``--lockfile FILE
--failing``): write a clearsigned audit statement for each fetched, integrity-checked
tarball into the ledger.

Each statement is signed with the auditor's own GnuPG, then verified in an isolated
keyring before it is written (atomically) to signatures/<name>/<version>/<FPR>.sig. A
batch goes on past a package that cannot be signed, and ends with one summary.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from package_trust.atomic import write_atomic
from package_trust.audit import packages, usergpg
from package_trust.audit.registry import Digests, Registry
from package_trust.audit.tarball import Limits
from package_trust.check import contents, statement
from package_trust.check.folders import refuse_links
from package_trust.check.gpg import MAX_STATEMENT_BYTES, Keyring
from package_trust.check.ledger import FolderLedger, LedgerFile
from package_trust.check.names import is_valid_version, package_parts
from package_trust.commands import workspace
from package_trust.errors import EXIT_ERROR, EXIT_OK, GpgError, PackageTrustError
from package_trust.textsafe import printable

NAME = "sign"
HELP = "sign an audit statement for a package version with your own GnuPG key"
MAX_NOTES = 16 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    workspace.add_batch(parser)
    parser.add_argument("--key", required=True, metavar="FINGERPRINT",
                        help="your key's full fingerprint (from your own GnuPG keyring)")
    parser.add_argument("--verdict", choices=statement.VERDICTS, default="audited",
                        help="default: %(default)s")
    parser.add_argument("--notes", metavar="TEXT", help="what you checked, or why you reject it")
    parser.add_argument("--ledger", type=Path, metavar="DIR", help=workspace.LEDGER_HELP)
    parser.add_argument("--force", action="store_true",
                        help="replace a statement this key already made for the version")
    parser.add_argument("--delta-from", metavar="OLD",
                        help="a delta audit: you reviewed the changes from version OLD "
                        "(package-trust inspect NAME@VERSION --diff-from OLD); the statement "
                        "binds both tarballs, and counts once OLD is audited")
    workspace.add_policy(parser)
    workspace.add_dest(parser)
    workspace.add_registry(parser)


def statement_path(ledger: Path, name: str, version: str, fingerprint: str) -> Path:
    return ledger.joinpath("signatures", *package_parts(name, version), f"{fingerprint}.sig")


def statement_body(name: str, version: str, digests: Digests, verdict: str,
                   notes: str | None, shipped: contents.Contents) -> dict[str, Any]:
    """The seed ledger's fields, plus verdict, what the tarball ships, and notes."""
    body: dict[str, Any] = {
        "package": name,
        "version": version,
        "time": int(time.time() * 1000),
        "hash": {"sha512": digests.sha512_b64, "sha1": digests.sha1},
        "verdict": verdict,
        **contents.as_fields(shipped),
    }
    if notes:
        body["notes"] = notes
    return body


class Signer:
    """The auditor's key and ledger, the registry and the packages folder: what every
    statement of one run shares."""

    def __init__(self, args: argparse.Namespace, registry: Registry) -> None:
        self.args, self.registry = args, registry
        self.key = usergpg.secret_key(usergpg.full_fingerprint(args.key))
        self.ledger = workspace.ledger_root(args.ledger, args.policy)
        self.dest = workspace.dest_folder(args.dest)
        self.in_ledger = True
        self._ring: Keyring | None = None

    def close(self) -> None:
        if self._ring is not None:
            self._ring.close()

    def keyring(self) -> Keyring:
        """The ledger's keys, isolated, as a check builds its keyring (the signer's key
        trusted), plus the signer's exported key when keys/ lacks it: built once for the
        run (``in_ledger`` says whether keys/ has the key)."""
        if self._ring is None:
            keys = FolderLedger(self.ledger).key_files() if (self.ledger / "keys").is_dir() \
                else []
            trusted = frozenset({self.key.fingerprint})
            ring = Keyring(keys, trusted=trusted) if keys else None
            self.in_ledger = ring is not None and self.key.fingerprint in ring.keys
            if ring is None or not self.in_ledger:
                if ring is not None:
                    ring.close()
                keys.append(LedgerFile("your public key", usergpg.export_public(self.key)))
                ring = Keyring(keys, trusted=trusted)
            self._ring = ring
        return self._ring

    def target(self, name: str, version: str) -> Path:
        return statement_path(self.ledger, name, version, self.key.fingerprint)

    def sign(self, name: str, version: str) -> Path:
        """Sign one version: its tarball checked against the registry (fetched if
        missing), what it ships recorded, the statement verified in isolation, then
        written whole. Raises PackageTrustError, and then writes nothing."""
        args, key, ledger = self.args, self.key, self.ledger
        target = self.target(name, version)
        if os.path.lexists(target) and not args.force:
            raise PackageTrustError(
                f"{key.uid} already signed {name}@{version} (use --force to replace it)", target
            )
        refuse_links(ledger, target.parent, "a statement")
        stored = packages.Stored(self.dest, name, version)
        if not stored.tarball.is_file():
            print(f"{stored.spec} is not fetched yet: fetching it from {self.registry.url}")
        digests = packages.verified_digests(stored, self.registry, Limits.from_env())
        try:  # the tarball whose digests were just checked against the registry's
            shipped = contents.of_tarball(stored.tarball)
        except ValueError as e:
            raise PackageTrustError(str(e), stored.tarball) from None
        body = statement_body(name, version, digests, args.verdict, args.notes, shipped)
        if args.delta_from:
            body["from"] = self.base(name, version, args.delta_from)
        signed = usergpg.clearsign(json.dumps(body, separators=(",", ":")).encode(), key)
        _check_signed(signed, key, body, self.keyring())
        try:  # whole or not at all: a statement it replaces stays as it was if this fails
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, signed)
        except OSError as e:
            raise PackageTrustError(f"cannot write the statement: {e.strerror}", target) from None
        delta = f", a delta from {args.delta_from}" if args.delta_from else ""
        print(f"signed {stored.spec} ({args.verdict}{delta}) as {key.uid} ({key.fingerprint})")
        print(f"wrote {target}; it verifies in an isolated keyring")
        return target

    def base(self, name: str, version: str, old: str) -> dict[str, Any]:
        """A delta statement's ``from``: version ``old`` and its tarball's sha512, checked
        against the registry (fetched if missing)."""
        if not is_valid_version(old) or old == version:
            raise PackageTrustError(f"--delta-from {old!r} is not another plain version")
        stored = packages.Stored(self.dest, name, old)
        if not stored.tarball.is_file():
            print(f"{stored.spec} is not fetched yet: fetching it from {self.registry.url}")
        digests = packages.verified_digests(stored, self.registry, Limits.from_env())
        return {"version": old, "hash": {"sha512": digests.sha512_b64}}

    def next_steps(self) -> None:
        key, ledger = self.key, self.ledger
        if not self.in_ledger:
            print(f"note: your public key is not in {ledger / 'keys'} yet, so no one else can "
                  f"verify the statement; add it with: package-trust keys export "
                  f"{key.fingerprint}" + (f" --ledger {ledger}" if str(ledger) != "." else ""))
        print("next: commit the statement (and your key) to the ledger and open a pull request")


def run(args: argparse.Namespace) -> int:
    if args.notes and len(args.notes) > MAX_NOTES:
        raise PackageTrustError(f"--notes is longer than {MAX_NOTES} characters")
    specs, left_out = workspace.batch(args)
    if args.delta_from and (len(specs) != 1 or args.failing):
        raise PackageTrustError("--delta-from goes with one NAME@VERSION")
    with Registry(args.registry) as registry:
        signer = Signer(args, registry)
        try:
            if len(specs) == 1 and not args.failing:  # one package: its error is the command's
                signer.sign(*specs[0])
                signer.next_steps()
                return EXIT_OK
            return _batch(signer, specs, left_out)
        finally:
            signer.close()


def _batch(signer: Signer, specs: list[tuple[str, str]], left_out: list[str]) -> int:
    """Sign each; one that cannot be signed is reported and the others go on."""
    signed, already, failed = [], [], []
    for name, version in specs:
        spec = f"{name}@{version}"
        if os.path.lexists(signer.target(name, version)) and not signer.args.force:
            already.append(spec)
            continue
        try:
            signer.sign(name, version)
            signed.append(spec)
        except PackageTrustError as e:
            failed.append(f"{spec}: {e}")
            print(printable(f"not signed: {spec}: {e}"))
    print(f"\nsigned {len(signed)} of {len(specs)} package(s) as {signer.key.uid}")
    summary = [("already signed by you (--force replaces)", already),
               ("not signed", failed), ("left out: no audit fixes them", left_out)]
    for title, found in summary:
        if found:
            print(printable(f"{title} ({len(found)}): {', '.join(found)}"))
    if signed:
        signer.next_steps()
    return EXIT_ERROR if failed else EXIT_OK


def _check_signed(signed: bytes, key: usergpg.UserKey, body: dict[str, Any],
                  keyring: Keyring) -> None:
    """Verify the new statement as every check will: isolated, against the ledger's keys
    (``Signer.keyring``)."""
    if len(signed) > MAX_STATEMENT_BYTES:
        raise PackageTrustError(f"the signed statement is over {MAX_STATEMENT_BYTES} bytes")
    [v] = keyring.verify_many([signed])
    problem = v.problem
    if v.good and v.primary != key.fingerprint:
        problem = f"it was signed by {v.primary}, not {key.fingerprint}"
    elif v.good and v.plaintext is not None:
        try:
            if statement.parse(v.plaintext).raw != body:
                problem = "the signed text is not the statement"
        except statement.StatementError as e:
            problem = str(e)
    if problem:
        raise GpgError(f"the new statement does not verify ({problem}); nothing was written")
