"""``package-trust check``: every package in a lockfile against the signed ledger."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from package_trust import engine, lockfile, policy
from package_trust.errors import LockfileError
from package_trust.ledger import open_ledgers
from package_trust.output import FORMATS
from package_trust.result import CheckResult

NAME = "check"
HELP = "check that every package in a lockfile carries enough trusted audit signatures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="LOCKFILE",
        help="lockfiles to check (default: ./package-lock.json or ./npm-shrinkwrap.json); "
        "a policy file named here is ignored, so the pre-commit hook can pass what changed",
    )
    parser.add_argument(
        "--policy", type=Path, default=Path(policy.DEFAULT_NAME), help="default: %(default)s"
    )
    parser.add_argument(
        "--format", choices=sorted(FORMATS), default="text", help="default: %(default)s"
    )


def lockfile_paths(files: list[Path], policy_path: Path) -> list[Path]:
    """The lockfiles named (ignoring the policy itself), else the default one.

    Named only the policy (the hook, when trust-policy.yml alone changed), a project
    with no lockfile yet has nothing to check.
    """
    named = [f for f in files if f.name != policy_path.name and f.name != policy.DEFAULT_NAME]
    if named:
        return list(dict.fromkeys(named))
    try:
        return [lockfile.find_default(Path("."))]
    except LockfileError:
        if files:
            return []
        raise


def run_check(files: list[Path], policy_path: Path) -> CheckResult:
    """Load, then check: the part every output format shares."""
    pol = policy.load(policy_path)
    lockfiles = [lockfile.load(p) for p in lockfile_paths(files, policy_path)]
    return engine.check(lockfiles, pol, open_ledgers(pol))


def run(args: argparse.Namespace) -> int:
    result = run_check(args.files, args.policy)
    sys.stdout.write(FORMATS[args.format].render(result))
    return result.exit_code
