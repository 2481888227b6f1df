"""``package-trust inspect NAME@VERSION``: what to review first in a fetched package, the
nearest audited version in the ledger, and (``--diff-from``) the changes since it.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from package_trust.audit import inspection, packages, review
from package_trust.audit.registry import Packument, Registry, RegistryError
from package_trust.audit.tarball import Limits
from package_trust.cache.memory import cached
from package_trust.check.interfaces import FRESH
from package_trust.check.names import is_valid_version
from package_trust.commands import workspace
from package_trust.errors import EXIT_OK, PackageTrustError
from package_trust.textsafe import printable

NAME = "inspect"
HELP = "show what to review in a fetched package (fetching it first if needed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("package", metavar="NAME@VERSION")
    add_options(parser)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options fetch and inspect share."""
    workspace.add_dest(parser)
    workspace.add_registry(parser)
    workspace.add_policy(parser)
    parser.add_argument("--ledger", type=Path, metavar="DIR",
                        help="look for audited versions in this ledger folder instead of the "
                        "policy's ledgers")
    parser.add_argument("--diff-from", metavar="VERSION",
                        help="print a unified diff from this version (fetched if needed)")


class Session:
    """One package under review: where it is stored, and the registry's packument."""

    def __init__(self, args: argparse.Namespace, registry: Registry):
        self.args = args
        self.registry = registry
        self.limits = Limits.from_env()
        name, version = packages.parse_spec(args.package)
        self.stored = packages.Stored(workspace.dest_folder(args.dest), name, version)
        self._packument: Packument | None = None

    def packument(self) -> Packument:
        if self._packument is None:
            self._packument = self.registry.packument(self.stored.name)
        return self._packument

    def fetch(self, version: str, again: bool = True) -> None:
        """Download ``version`` (``again``), or unpack the stored tarball afresh once it
        matches the registry: either way, what is shown is what the registry serves."""
        stored = packages.Stored(self.stored.root, self.stored.name, version)
        dist = self.packument().versions.get(version)
        if dist is None:
            raise RegistryError(f"{stored.spec} does not exist in the registry {self.registry.url}")
        if again or not stored.tarball.is_file():
            checked = packages.fetch(stored, self.registry, self.limits, dist).checked
            done = f"fetched {stored.spec} from {self.registry.url}"
        else:
            checked = packages.unpack_stored(stored, dist, self.limits)
            done = f"unpacked {stored.spec} afresh"
        print(f"{done}: {' and '.join(checked)} match the registry's; tarball {stored.tarball}")

    def show(self) -> None:
        """The inspection report, the ledger's audited versions, and the diff if asked."""
        folder = self.stored.folder
        print(inspection.render(inspection.inspect(folder), self.stored.spec, folder), end="")
        self._audited()
        if self.args.diff_from:
            self._diff(self.args.diff_from)

    def _audited(self) -> None:
        name, version = self.stored.name, self.stored.version
        try:
            judged = workspace.judging(self.args.ledger, self.args.policy)
            if judged is None:
                print("ledger: no trust-policy.yml here (name one with --policy) to find "
                      "audited versions")
                return
            with cached() as cache:
                audited = review.audited_versions(self.packument(), *judged, cache or FRESH)
        except PackageTrustError as e:
            print(printable(f"ledger: cannot tell which versions are audited: {e}"))
            return
        if version in audited:
            print(f"ledger: {name}@{version} itself is already audited")
        base = review.nearest(version, audited)
        if base is None:
            print(f"ledger: no other audited version of {name}: review the whole package")
            return
        print(f"ledger: {len(audited)} audited version(s) of {name}; the nearest is {base}")
        if self.args.diff_from is None:
            spec = shlex.quote(self.stored.spec)
            print(f"    review the changes: package-trust inspect {spec} --diff-from {base}")

    def _diff(self, base_version: str) -> None:
        if not is_valid_version(base_version):
            raise PackageTrustError(f"--diff-from {base_version!r} is not a plain version")
        base = packages.Stored(self.stored.root, self.stored.name, base_version)
        self.fetch(base_version, again=False)
        print(f"\ndiff {base.spec} -> {self.stored.spec}:")
        changed = False
        for line in review.diff_folders(base.folder, self.stored.folder,
                                        f"a/{base_version}", f"b/{self.stored.version}"):
            changed = True
            print(printable(line))  # file names and lines from the package
        if not changed:
            print("no differences")


def fetch_and_show(args: argparse.Namespace, always_fetch: bool) -> int:
    """Fetch (always, or when missing), then show what to review."""
    with Registry(args.registry) as registry:
        session = Session(args, registry)
        session.fetch(session.stored.version, again=always_fetch)
        session.show()
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    return fetch_and_show(args, always_fetch=False)
