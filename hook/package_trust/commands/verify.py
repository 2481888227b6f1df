"""``package-trust verify NAME@VERSION``: every statement the ledgers hold for one version,
judged by the same engine as ``check``, against the registry's integrity (or, offline, a
lockfile's). Exit 0 when the version meets the policy, 1 when not, 2 on errors. What the
statements, keys and ledger file names say is printed with control characters escaped.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from package_trust.audit import packages
from package_trust.audit.registry import Registry
from package_trust.cache.folder import clones
from package_trust.cache.memory import cached
from package_trust.check import engine, lockfile, policy, statement
from package_trust.check.interfaces import FRESH
from package_trust.check.ledger import open_ledgers
from package_trust.check.lockfile import Dependency, Lockfile, Source
from package_trust.check.result import StatementResult, Status
from package_trust.commands import workspace
from package_trust.errors import LockfileError
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


def run(args: argparse.Namespace) -> int:
    name, version = packages.parse_spec(args.package)
    pol = policy.load(args.policy or Path(policy.DEFAULT_NAME))
    integrity, source = _integrity(args, name, version)
    dep = Dependency(name, version, Source.REGISTRY, f"node_modules/{name}", integrity)
    ledgers = open_ledgers(pol, clones())
    lf = Lockfile(Path(source), [dep])
    with cached() as cache:
        pkg = engine.check([lf], pol, ledgers, cache or FRESH).packages[0]
        listed = pkg
        if pkg.status is Status.EXEMPT:  # list the statements all the same
            listed = engine.check([lf], pol._replace(exemptions=[]), ledgers,
                                  cache or FRESH).packages[0]
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
        print(_statement_lines(s, integrity))
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


def _statement_lines(s: StatementResult, integrity: str | None) -> str:
    who = s.fingerprint or "unknown signer"
    lines = [f"  {s.outcome}: {who}" + (f" {s.uid}" if s.uid else "")
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
