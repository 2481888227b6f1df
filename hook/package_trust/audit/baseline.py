"""Adopting package-trust on a project with dependencies nobody has audited yet: the
exemptions that make every registry package pass on day one (``init``), and those that
are no longer needed (``exemptions prune``). Both read a check's result.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import NamedTuple

from package_trust.check import statement
from package_trust.check.lockfile import Dependency, Lockfile, Source
from package_trust.check.names import is_valid_name, is_valid_version
from package_trust.check.policy import Exemption, Exemptions, Policy
from package_trust.check.result import CheckResult, PackageResult, Status

DEFAULT_DAYS = 180
_GLOB = re.compile(r"[*?[]")
AUDITED = (Status.AUDITED, Status.SKIPPED)  # passed on signatures (a bundle: its bundler's)


def reason(today: dt.date) -> str:
    return f"baseline at adoption, {today.isoformat()}"


def missing(result: CheckResult, policy: Policy, today: dt.date, days: int
            ) -> list[Exemption]:
    """An exemption for each failing registry package, pinned to its tarball; none for a
    package no exemption can make pass (rejected by a trusted reviewer, not from the
    registry, not a valid name), nor for one whose exemption expired (not renewed:
    someone decided it should end)."""
    expired = [e for e in policy.exemptions if e.expired(today)]
    until = today + dt.timedelta(days=days)
    found: dict[tuple[str, str | None], Exemption] = {}
    for pkg in result.failing:
        if pkg.status is Status.REJECTED or pkg.source != Source.REGISTRY.value or not (
                is_valid_name(pkg.name) and is_valid_version(pkg.version)) or any(
                e.matches(pkg.name, pkg.version) for e in expired):
            continue
        digest = statement.sha512_of(pkg.integrity)
        pinned = None if digest is None else "sha512-" + base64.b64encode(digest).decode()
        found.setdefault((pkg.spec, pinned), Exemption(pkg.spec, reason(today), until, 0,
                                                       pinned))
    return sorted(found.values(), key=lambda e: (e.package, e.integrity or ""))


class Prunable(NamedTuple):
    position: int  # in the policy's exemptions
    exemption: Exemption
    why: str


def prunable(policy: Policy, result: CheckResult, lockfiles: list[Lockfile]) -> list[Prunable]:
    """The exemptions no package needs: each covers nothing the lockfiles install, or only
    packages now audited. A glob (such as ``@myorg/*``) is a rule, not a package: kept."""
    exemptions = policy.exemptions if isinstance(policy.exemptions, Exemptions) else \
        Exemptions(policy.exemptions)
    entries = {(str(lf.path), d.path): (d, lf.registries) for lf in lockfiles
               for d in lf.dependencies}
    covering: set[int] = set()
    needed: set[int] = set()
    for pkg in result.packages:
        if not pkg.paths:
            continue
        dep, registries = entries.get((pkg.lockfile, pkg.paths[0])) or (_entry(pkg), ())
        for i in exemptions.positions(pkg.name, pkg.version):
            if exemptions[i].covers(dep, registries):
                covering.add(i)
                if pkg.status not in AUDITED:
                    needed.add(i)
    return [Prunable(i, e, "now audited" if i in covering else "no longer in the lockfiles")
            for i, e in enumerate(exemptions)
            if i not in needed and not _GLOB.search(e.package)]


def _entry(pkg: PackageResult) -> Dependency:
    """A lockfile entry for a package no lockfile lists (one an audited tarball's
    npm-shrinkwrap.json pins)."""
    source = Source.REGISTRY if pkg.source == Source.REGISTRY.value else Source.OTHER
    return Dependency(pkg.name, pkg.version, source, pkg.paths[0], pkg.integrity)
