"""``package-trust fetch NAME@VERSION …`` (or ``--lockfile FILE --failing``): download each
version's tarball, check it against the registry's integrity, and unpack it safely into
the packages folder (the user's cache folder, or --dest). One package is then inspected;
a batch goes on past a package that cannot be fetched, and ends with one summary.
"""

from __future__ import annotations

import argparse
import copy
import shlex

from package_trust.audit.registry import Registry
from package_trust.commands import inspect, workspace
from package_trust.errors import EXIT_ERROR, EXIT_OK, PackageTrustError
from package_trust.textsafe import printable

NAME = "fetch"
HELP = "download, integrity-check and unpack package versions, then inspect one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    workspace.add_batch(parser)
    inspect.add_options(parser)


def run(args: argparse.Namespace) -> int:
    specs, left_out = workspace.batch(args)
    if len(specs) == 1 and not args.failing:
        args.package = "@".join(specs[0])
        return inspect.fetch_and_show(args, always_fetch=True)
    if args.diff_from:
        raise PackageTrustError("--diff-from goes with one package")
    fetched, failed = [], []
    with Registry(args.registry) as registry:
        for name, version in specs:
            one = copy.copy(args)
            one.package = f"{name}@{version}"
            try:
                inspect.Session(one, registry).fetch(version)
                fetched.append(one.package)
            except PackageTrustError as e:
                failed.append(f"{one.package}: {e}")
                print(printable(f"not fetched: {one.package}: {e}"))
    _summary(args, len(specs), fetched, failed, left_out)
    return EXIT_ERROR if failed else EXIT_OK


def _summary(args: argparse.Namespace, total: int, fetched: list[str], failed: list[str],
             left_out: list[str]) -> None:
    dest = workspace.dest_folder(args.dest)
    print(f"\nfetched {len(fetched)} of {total} package(s) into {dest}")
    for title, found in (("not fetched", failed), ("left out: no audit fixes them", left_out)):
        if found:
            print(printable(f"{title} ({len(found)}): {', '.join(found)}"))
    if fetched:
        first = shlex.quote(fetched[0])
        print(f"next: review each (package-trust inspect {first}, and the others), then "
              "sign them: package-trust sign NAME@VERSION … --key YOUR-FINGERPRINT"
              + (" (or the same --lockfile … --failing)" if args.failing else ""))
