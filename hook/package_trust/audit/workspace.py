"""Where the auditor's commands find things: the ledger to write to, the ledgers and
policy that say which versions are audited, the fetched packages, the registry.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from package_trust.audit.packages import DEFAULT_DEST
from package_trust.check import policy
from package_trust.check.ledger import FolderLedger, Ledger, open_ledgers
from package_trust.errors import LedgerError

LEDGER_HELP = "the ledger folder (with keys/ and signatures/); default: the first folder " \
    "ledger in ./trust-policy.yml, else the current folder"


def add_dest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dest", type=Path, default=Path(DEFAULT_DEST), metavar="DIR",
                        help="where fetched packages are kept (default: %(default)s)")


def add_registry(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", metavar="URL",
                        help="npm registry (default: $NPM_CONFIG_REGISTRY, else "
                        "https://registry.npmjs.org/)")


def add_policy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", type=Path, metavar="PATH",
                        help=f"the policy (default: ./{policy.DEFAULT_NAME})")


def optional_policy(policy_path: Path | None) -> policy.Policy | None:
    """The policy named, else ./trust-policy.yml when there is one, else None."""
    path = policy_path or Path(policy.DEFAULT_NAME)
    return policy.load(path) if policy_path is not None or path.is_file() else None


def ledger_root(explicit: Path | None, policy_path: Path | None = None) -> Path:
    """--ledger, else the first folder ledger of the policy, else the current folder."""
    if explicit is not None:
        return explicit
    pol = optional_policy(policy_path)
    if pol is None:
        return Path(".")
    folder = next((spec for spec in pol.ledgers if spec.git is None), None)
    if folder is None:
        raise LedgerError(
            "the policy names only git ledgers: name a clone of one with --ledger DIR", pol.path
        )
    return pol.path.parent / folder.path


def judging(
    ledger: Path | None, policy_path: Path | None
) -> tuple[policy.Policy, list[Ledger]] | None:
    """The policy and the ledgers to judge by: --ledger DIR, else the policy's own.
    None when no policy was named and ./trust-policy.yml does not exist."""
    pol = optional_policy(policy_path)
    if pol is None:
        return None
    if ledger is None:
        return pol, open_ledgers(pol)
    return pol, [FolderLedger(ledger)]
