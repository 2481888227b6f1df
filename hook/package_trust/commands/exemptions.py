"""``package-trust exemptions prune [--check]``: remove the exemptions no package needs
any more (gone from the lockfiles, or audited since), editing trust-policy.yml in place:
its comments and order survive. ``--check`` changes nothing and exits 1 when something
would be removed (for CI).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from package_trust import filenames
from package_trust.audit import baseline, policyfile
from package_trust.check import lockfile
from package_trust.commands import workspace
from package_trust.errors import EXIT_FAILED, EXIT_OK
from package_trust.textsafe import printable

if TYPE_CHECKING:
    from package_trust.check.ledger import Ledger
    from package_trust.check.lockfile import Lockfile
    from package_trust.check.policy import Policy
    from package_trust.check.result import CheckResult

NAME = "exemptions"
HELP = "manage the policy's exemptions: prune those no package needs any more"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("prune", help="remove exemptions whose package is gone from the "
                       "lockfiles or is now audited (comments and order kept)")
    p.add_argument("files", nargs="*", type=Path, metavar="LOCKFILE",
                   help="every lockfile the policy serves (default: ./package-lock.json or "
                   "./npm-shrinkwrap.json): an exemption only another one needs is removed")
    p.add_argument("--policy", type=Path, default=Path(filenames.POLICY),
                   help="default: %(default)s")
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 when an exemption would be removed")


def judged(args: argparse.Namespace) -> tuple[Policy, Sequence[Ledger], list[Lockfile],
                                               CheckResult]:
    """The policy, its ledgers, the lockfiles named (else the default) and their check."""
    from package_trust.commands.check import lockfile_paths

    found = workspace.judging(None, args.policy)
    assert found is not None  # the policy is named
    policy, ledgers = found
    lockfiles = [lockfile.load(p) for p in lockfile_paths(args.files, args.policy)]
    return policy, ledgers, lockfiles, workspace.checked(lockfiles, policy, ledgers,
                                                      dt.date.today())


def run(args: argparse.Namespace) -> int:
    policy, _, lockfiles, result = judged(args)
    found = baseline.prunable(policy, result, lockfiles)
    if not found:
        print(f"nothing to prune: every exemption in {policy.path} covers a package that "
              "still needs it")
        return EXIT_OK
    verb = "would remove" if args.check else "removed"
    print(f"{verb} {len(found)} exemption{'s' if len(found) != 1 else ''} from {policy.path}:")
    for p in found:
        print(printable(f"    {p.exemption.package} (line {p.exemption.line}): {p.why}"))
    if args.check:
        print("run package-trust exemptions prune to remove them")
        return EXIT_FAILED
    text = policy.path.read_text(encoding="utf-8")
    policyfile.write(policy.path, policyfile.edit_exemptions(
        policy, text, remove=[p.position for p in found]))
    return EXIT_OK
