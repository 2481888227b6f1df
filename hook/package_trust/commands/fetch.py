"""``package-trust fetch NAME@VERSION``: download a version's tarball, check it against the
registry's integrity, unpack it safely into packages/<name>/<version>/, and inspect it.
"""

from __future__ import annotations

import argparse

from package_trust.commands import inspect

NAME = "fetch"
HELP = "download, integrity-check and unpack a package version, then inspect it"
add_arguments = inspect.add_arguments


def run(args: argparse.Namespace) -> int:
    return inspect.fetch_and_show(args, always_fetch=True)
