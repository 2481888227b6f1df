"""Where the auditor's commands find things: the ledger to write to, the ledgers and
policy that say which versions are audited (and their check, with the user's cache), the
fetched packages (in the user's cache folder, not the project), the registry, and the
packages a batch names.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from package_trust.audit.packages import parse_spec
from package_trust.cache.folder import clones, directory
from package_trust.check import policy
from package_trust.check.ledger import FolderLedger, Ledger, open_ledgers
from package_trust.errors import LedgerError, PackageTrustError

if TYPE_CHECKING:
    from package_trust.check.lockfile import Lockfile
    from package_trust.check.result import CheckResult

LEDGER_HELP = "the ledger folder (with keys/ and signatures/); default: the first folder " \
    "ledger in ./trust-policy.yml, else the current folder"
DEST_HELP = "where fetched packages are kept (default: $XDG_CACHE_HOME/package-trust/" \
    "packages, else ~/.cache/package-trust/packages)"


def add_dest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dest", type=Path, metavar="DIR", help=DEST_HELP)


def dest_folder(dest: Path | None) -> Path:
    """--dest, else the packages folder in the user's cache folder."""
    if dest is not None:
        return dest
    try:
        return directory() / "packages"
    except RuntimeError:  # no home folder
        raise PackageTrustError("no home folder to keep fetched packages in: name a folder "
                                "with --dest DIR") from None


def add_batch(parser: argparse.ArgumentParser) -> None:
    """Several NAME@VERSION, or every package a lockfile's check finds not audited."""
    parser.add_argument("packages", nargs="*", metavar="NAME@VERSION")
    parser.add_argument("--lockfile", action="append", type=Path, default=[], metavar="FILE",
                        help="with --failing: the lockfile to check (repeatable; default: "
                        "./package-lock.json or ./npm-shrinkwrap.json)")
    parser.add_argument("--failing", action="store_true",
                        help="every package that the check of --lockfile finds not audited "
                        "(rejected and unverifiable ones are left out: no audit fixes them)")


def batch(args: argparse.Namespace) -> tuple[list[tuple[str, str]], list[str]]:
    """The (name, version) pairs named, then those --failing adds; and what --failing
    left out (``spec: status``)."""
    named = [parse_spec(spec) for spec in args.packages]
    left_out: list[str] = []
    if args.failing:
        found, left_out = failing(args.lockfile, args.policy, args.ledger)
        named += found
    elif args.lockfile:
        raise PackageTrustError("--lockfile goes with --failing")
    if not named and not args.failing:
        raise PackageTrustError("name a package (NAME@VERSION …), or --failing for those a "
                                "lockfile's check finds not audited")
    return list(dict.fromkeys(named)), left_out


def checked(lockfiles: list[Lockfile], pol: policy.Policy, ledgers: Sequence[Ledger],
            today: dt.date | None = None) -> CheckResult:
    """The check of ``lockfiles`` under ``pol``, with the user's cache: what a check
    verified and judged before is not done again."""
    from package_trust.cache.memory import cached
    from package_trust.check import engine
    from package_trust.check.interfaces import FRESH

    with cached() as cache:
        return engine.check(lockfiles, pol, ledgers, cache or FRESH, today=today)


def failing(lockfiles: list[Path], policy_path: Path | None, ledger: Path | None
            ) -> tuple[list[tuple[str, str]], list[str]]:
    """The packages that fail the check of ``lockfiles`` as not audited (valid registry
    names and versions), and the other failing ones, left out."""
    from package_trust.check import lockfile
    from package_trust.check.names import is_valid_name, is_valid_version
    from package_trust.check.result import Status

    judged = judging(ledger, policy_path)
    if judged is None:
        raise PackageTrustError(f"--failing needs the policy: ./{policy.DEFAULT_NAME} or "
                                "--policy PATH")
    paths = lockfiles or [lockfile.find_default(Path("."))]
    result = checked([lockfile.load(p) for p in paths], *judged)
    found, left_out = [], []
    for pkg in result.failing:
        if pkg.status is Status.UNAUDITED and is_valid_name(pkg.name) and is_valid_version(
                pkg.version):
            found.append((pkg.name, pkg.version))
        else:
            left_out.append(f"{pkg.spec}: {pkg.status.value}")
    return found, list(dict.fromkeys(left_out))


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
        return pol, open_ledgers(pol, clones())
    return pol, [FolderLedger(ledger)]
