"""The rounds of a check: the lockfiles' entries grouped into packages, what each needs
before any ledger is read (triage), and what an audited tarball's own bundle and
npm-shrinkwrap.json then decide: the packages it covers, and those the next round judges.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from package_trust.check import chains, statement
from package_trust.check.lockfile import Dependency, Lockfile, Source
from package_trust.check.lockfile.interface import OutOfSync
from package_trust.check.names import is_valid_name, is_valid_version
from package_trust.check.policy import Policy
from package_trust.check.result import PackageResult, Status

# A dependency's own npm-shrinkwrap.json may pin packages whose tarballs have one too:
# each level is a round of the check, and one this deep fails closed.
MAX_ROUNDS = 8


class Group:
    """The entries of one lockfile that share name, version, integrity and source."""

    __slots__ = ("dev", "first", "lockfile", "paths", "registries")

    def __init__(self, first: Dependency, lockfile: Path,
                 registries: tuple[str, ...] = ()) -> None:
        self.first = first
        self.lockfile = lockfile
        self.registries = registries  # what npm fetches the lockfile's packages from
        self.paths: list[str] = []
        self.dev = first.dev  # every entry in development scope (chains.development)


def group(lockfiles: list[Lockfile]) -> list[Group]:
    groups: dict[tuple[object, ...], Group] = {}
    for lf in lockfiles:
        for dep in lf.dependencies:
            key = (lf.path, dep.name, dep.version, dep.integrity, dep.source, dep.resolved
                   if dep.source is Source.OTHER else None,
                   dep.bundled_in and dep.path)  # a bundled entry: judged where it is
            g = groups.setdefault(key, Group(dep, lf.path, lf.registries))
            g.paths.append(dep.path)
            g.dev = g.dev and dep.dev
    return list(groups.values())


def out_of_sync(x: OutOfSync, policy: Policy) -> PackageResult:
    return PackageResult(x.name, x.spec, Status.UNVERIFIABLE, policy.minimum_signatures,
                         str(x.manifest), [str(x.manifest)], x.line, source="package.json",
                         problems=[x.problem])


def triage(g: Group, policy: Policy, today: dt.date, notices: list[str]) -> PackageResult:
    """Decide what needs no ledger: skipped, exempt, unverifiable; else provisional."""
    dep = g.first
    pkg = PackageResult(
        name=dep.name,
        version=dep.version,
        status=Status.UNAUDITED,
        required=policy.minimum_for(g.dev),
        lockfile=str(g.lockfile),
        paths=g.paths,
        line=dep.line,
        integrity=dep.integrity,
        source=dep.source.value,
    )
    pkg.scope = chains.scope(g.dev)
    if dep.source is Source.LINK:
        pkg.status, pkg.problems = Status.SKIPPED, ["link or workspace: first party"]
        return pkg
    exemption = policy.exemption_for(dep, g.registries) if policy.exemptions else None
    if exemption is not None:
        if not exemption.expired(today):  # provisional too: a rejection overrules it
            pkg.exemption = exemption.reason
            if exemption.expires is not None:
                pkg.exemption_expires = exemption.expires.isoformat()
            return _unverifiable_or_pending(pkg, dep)
        note = (
            f"exemption {exemption.package!r} ({policy.path.name}:{exemption.line}) "
            f"expired on {exemption.expires} and no longer applies"
        )
        if note not in notices:
            notices.append(note)
        pkg.problems.append(f"exemption expired on {exemption.expires}")
    return _unverifiable_or_pending(pkg, dep)


def too_deep(g: Group, policy: Policy, today: dt.date, notices: list[str]) -> PackageResult:
    """A package pinned below the last round: unverifiable."""
    pkg = triage(g, policy, today, notices)
    pkg.status, pkg.problems = Status.UNVERIFIABLE, [
        f"pinned by npm-shrinkwraps nested more than {MAX_ROUNDS} deep"]
    return pkg


def asks_ledger(pkg: PackageResult) -> bool:
    """Whether the ledger decides the package: it may be audited, or (exempt or not)
    rejected. A name or version that is not valid is never looked up."""
    if pkg.status is Status.UNAUDITED:  # provisional; a valid sha512 (_unverifiable)
        return True
    return pkg.exemption is not None and is_valid_name(pkg.name) and is_valid_version(
        pkg.version)


def _unverifiable_or_pending(pkg: PackageResult, dep: Dependency) -> PackageResult:
    unverifiable = _unverifiable(dep)
    if unverifiable is not None:
        pkg.status = Status.UNVERIFIABLE
        pkg.problems.insert(0, unverifiable)
    return pkg


def _unverifiable(dep: Dependency) -> str | None:
    if dep.source is Source.OTHER:
        where = dep.resolved or dep.version
        return f"unsupported source {where}: cannot be checked against the ledger"
    if not dep.version:
        return "no version in the lockfile"
    if not (is_valid_name(dep.name) and is_valid_version(dep.version)):
        return "not a valid registry package name and version"
    if not dep.integrity:
        return "no integrity in the lockfile: cannot be bound to an audit"
    if statement.sha512_of(dep.integrity) is None:
        return "the lockfile's integrity has not exactly one valid sha512 hash (sha1 is too weak)"
    return None


def require_shrinkwraps(groups: list[Group], pkgs: list[PackageResult]) -> None:
    """A package whose tarball carries its own npm-shrinkwrap.json (the lockfile says so)
    passes only on statements that record that file's pins: npm installs from it."""
    for g, pkg in zip(groups, pkgs, strict=True):
        if g.first.has_shrinkwrap and pkg.status is Status.EXEMPT:
            pkg.status = Status.UNAUDITED  # an exemption vouches for one tarball, not its pins
            pkg.problems = [
                "its tarball's npm-shrinkwrap.json decides what npm installs below it, which "
                f"no exemption covers: audit it (package-trust sign {pkg.spec} records the pins)"]
            continue
        if not g.first.has_shrinkwrap or pkg.status is not Status.AUDITED:
            continue
        recording = {s.fingerprint for s in pkg.statements if s.counted and s.recorded}
        if len(recording) < pkg.required:
            pkg.status = Status.UNAUDITED
            pkg.problems = [
                "its tarball's npm-shrinkwrap.json decides what npm installs below it, and "
                f"{len(recording)} of {pkg.required} counted statements record its pins: "
                f"sign it again with package-trust sign {pkg.spec}"]


def cover_bundled(groups: list[Group], pkgs: list[PackageResult]) -> None:
    """An entry the lockfile marks bundled is covered by its bundler's audit only when the
    bundler's counted statements (as many as it needs) list it at that path; otherwise it
    was judged as a package of its own, which is what npm then installs."""
    at = {(g.lockfile, path): pkg for g, pkg in zip(groups, pkgs, strict=True)
          for path in g.paths}
    for g, pkg in zip(groups, pkgs, strict=True):
        bundler_path = g.first.bundled_in
        if bundler_path is None:
            continue
        bundler = at.get((g.lockfile, bundler_path))
        entry = (g.first.path[len(bundler_path) + 1:], pkg.name, pkg.version)
        if bundler is not None and bundler.status is Status.AUDITED:
            listing = {s.fingerprint for s in bundler.statements if s.counted and s.recorded
                       and entry in {tuple(b) for b in s.bundled or ()}}
            if len(listing) >= bundler.required:
                pkg.status = Status.SKIPPED
                pkg.problems = [f"bundled: shipped in {bundler.spec}'s audited tarball"]
                continue
        if not pkg.status.passed:
            by = bundler.spec if bundler is not None else bundler_path
            pkg.problems.append(
                f"the lockfile marks it bundled in {by}, but no counted statement of {by} "
                "lists it, so npm fetches it on its own (statements that record what a "
                f"tarball ships come from package-trust sign {by})")


def pinned(groups: list[Group], pkgs: list[PackageResult], done: set[tuple[object, ...]]
           ) -> list[Group]:
    """The packages audited tarballs' own npm-shrinkwrap.json files make npm install,
    not judged yet: each is judged as a package of its own."""
    from package_trust.check.lockfile.npm import classify_resolved

    found: dict[tuple[object, ...], Group] = {}
    for g, pkg in zip(groups, pkgs, strict=True):
        # kept statements may say that none pins anything (cache/codec.py): not decoded
        if pkg.status is not Status.AUDITED or getattr(pkg.statements, "pins", True) is False:
            continue
        for s in pkg.statements:
            for pin in (s.shrinkwrap or ()) if s.counted else ():
                path, name, version, integrity, resolved = pin
                key = (g.lockfile, name, version, integrity, resolved)
                if key in done:
                    continue
                dep = Dependency(str(name), str(version), classify_resolved(resolved),
                                 f"{g.paths[0]}/{path}", integrity, resolved, g.first.line)
                found.setdefault(key, Group(dep, g.lockfile, g.registries)).paths.append(
                    dep.path)
    done.update(found)
    return list(found.values())
