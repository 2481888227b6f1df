"""``package-trust verify NAME@VERSION``: every statement the ledgers hold for one version,
judged by the same engine as ``check``, against the registry's integrity (or, offline, a
lockfile's). Exit 0 when the version meets the policy, 1 when not, 2 on errors. What the
statements, keys and ledger file names say is printed with control characters escaped.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from package_trust import engine, lockfile, packages, policy, statement, workspace
from package_trust.errors import LockfileError
from package_trust.gpg import BAD_STATUS, KeyInfo, Verification
from package_trust.ledger import Ledger, open_ledgers
from package_trust.lockfile import Dependency, Lockfile, Source
from package_trust.registry import Registry
from package_trust.result import StatementResult, Status
from package_trust.textsafe import printable

NAME = "verify"
HELP = "list and verify every audit statement for one package version"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("package", metavar="NAME@VERSION")
    workspace.add_policy(parser)
    parser.add_argument("--lockfile", type=Path, metavar="PATH",
                        help="take the integrity from this lockfile, not the registry "
                        "(implies --offline)")
    parser.add_argument("--offline", action="store_true",
                        help="do not ask the registry: take the integrity from the lockfile "
                        "(default ./package-lock.json)")
    workspace.add_registry(parser)


class _Recorder:
    """The engine's verifier, remembering what gpg said about each statement."""

    def __init__(self, inner: engine.Verifier):
        self.inner = inner
        self.keys: dict[str, KeyInfo] = inner.keys
        self.said: dict[bytes, Verification] = {}

    def verify_many(self, statements: Sequence[bytes]) -> list[Verification]:
        out = self.inner.verify_many(statements)
        self.said.update(zip(statements, out, strict=True))
        return out

    def close(self) -> None:
        self.inner.close()


def run(args: argparse.Namespace) -> int:
    name, version = packages.parse_spec(args.package)
    pol = policy.load(args.policy or Path(policy.DEFAULT_NAME))
    integrity, source = _integrity(args, name, version)
    dep = Dependency(name, version, Source.REGISTRY, f"node_modules/{name}", integrity)
    ledgers = open_ledgers(pol)
    recorders: list[_Recorder] = []

    def verifier(keys: list[bytes]) -> engine.Verifier:
        recorders.append(_Recorder(engine.default_verifier(keys)))
        return recorders[-1]

    lf = Lockfile(Path(source), [dep])
    pkg = engine.check([lf], pol, ledgers, verifier).packages[0]
    listed = pkg
    if pkg.status is Status.EXEMPT:  # list the statements all the same
        listed = engine.check([lf], replace(pol, exemptions=[]), ledgers, verifier).packages[0]
    said = {o: recorders[-1].said.get(d) for o, d in _statement_data(ledgers, name, version)} \
        if recorders else {}
    keys = recorders[-1].keys if recorders else {}
    reason = pkg.reason
    if pkg.status is Status.AUDITED:
        by = ", ".join(pkg.signers)
        reason = f"{pkg.signatures} of {pkg.required} required signatures ({by})"
    if not reason.startswith(pkg.status.value):
        reason = f"{pkg.status.value}: {reason}"
    print(printable(f"{pkg.spec}: {reason} ({pol.path})"))
    print(printable(f"integrity from {source}: {integrity or 'none'}"))
    if not listed.statements:
        print("no statements for this version in the ledgers")
    for s in listed.statements:
        print(_statement_lines(s, said.get(s.origin), keys, integrity))
    return 0 if pkg.status.passed else 1


def _integrity(args: argparse.Namespace, name: str, version: str) -> tuple[str | None, str]:
    """The integrity to check statements against, and where it came from."""
    if args.offline or args.lockfile:
        path = args.lockfile or lockfile.find_default(Path("."))
        for dep in lockfile.load(path).dependencies:
            if (dep.name, dep.version, dep.source) == (name, version, Source.REGISTRY):
                return dep.integrity, f"lockfile {path}"
        raise LockfileError(f"{name}@{version} is not installed from the registry here", path)
    with Registry(args.registry) as registry:
        return registry.dist(name, version).integrity, f"registry {registry.url}"


def _statement_data(ledgers: Sequence[Ledger], name: str, version: str) -> list[tuple[str, bytes]]:
    return [(f.origin, f.data) for ledger in ledgers for f in ledger.statements(name, version)]


def outcome(s: StatementResult, v: Verification | None, key: KeyInfo | None) -> str:
    """good, untrusted, expired, revoked, bad signature, unknown key (or unreadable)."""
    if v is None:
        return "unreadable"
    if v.good:
        return "good" if s.trusted else "untrusted"
    if v.lapsed:
        return _lapsed(v, key)
    if v.primary is not None and key is None:
        return "unknown key"  # gpg named a key the ledger's keyring does not list
    # Only gpg's words tell an altered statement, or a key missing from keys/, apart.
    if v.problem == BAD_STATUS["BADSIG"]:
        return "bad signature"
    if key is None:
        missing = (v.problem or "").endswith("not in the ledger's keys/")
        return "unknown key" if missing else "unreadable"
    return "bad signature"


def _lapsed(v: Verification, key: KeyInfo | None) -> str:
    """Why an authentic signature no longer counts: its key (or subkey) is revoked, or
    the key, subkey or signature has expired."""
    if key is None:
        return "expired or revoked"
    by_subkey = v.signer != key.fingerprint
    revoked = key.revoked or (by_subkey and key.subkeys.get(v.signer or "", True))
    return "revoked" if revoked else "expired"


def _statement_lines(s: StatementResult, v: Verification | None, keys: dict[str, KeyInfo],
                     integrity: str | None) -> str:
    key = keys.get(s.fingerprint or "")
    who = s.fingerprint or "unknown signer"
    uid = key.uid if key else (v.uid if v else None)
    lines = [f"  {outcome(s, v, key)}: {who}" + (f" {uid}" if uid else "")
             + (" (trusted)" if s.trusted else "")]
    when = s.signed_at or (s.time // 1000 if s.time else None)
    date = dt.datetime.fromtimestamp(when, dt.timezone.utc).date() if when else "unknown"
    lines.append(f"      verdict: {s.verdict or 'unknown'}; signed {date}; "
                 f"hash: {_hash_match(s, integrity)}")
    if s.notes:
        lines.append(f"      notes: {s.notes}")
    if s.problem:
        lines.append(f"      problem: {s.problem}")
    lines.append(f"      file: {s.origin}")
    return "\n".join(map(printable, lines))  # each line is one line, whatever it quotes


def _hash_match(s: StatementResult, integrity: str | None) -> str:
    if s.sha512 is None:
        return "unknown"
    expected = statement.sha512_of(integrity)
    if expected is None:
        return "nothing to compare with"
    return "matches" if statement.decode_b64(s.sha512) == expected else "DOES NOT MATCH"
