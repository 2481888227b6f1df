"""Reviewing a version as a delta: which versions of a package the ledger holds as
audited (judged by the engine, against the registry's integrity), the nearest of them,
and a unified diff between two unpacked versions.
"""

from __future__ import annotations

import difflib
import filecmp
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from package_trust.audit.inspection import is_binary, read_head, walk
from package_trust.audit.registry import Packument
from package_trust.check import engine
from package_trust.check.interfaces import FRESH, Memory
from package_trust.check.ledger import Ledger
from package_trust.check.lockfile import Dependency, Lockfile, Source
from package_trust.check.names import is_valid_version
from package_trust.check.policy import Policy
from package_trust.check.result import Status

MAX_DIFF_BYTES = 1024 * 1024  # a larger file is said to differ, not shown

VersionKey = tuple[list[int], int, list[tuple[int, int, str]]]


def audited_versions(packument: Packument, policy: Policy, ledgers: Sequence[Ledger],
                     memory: Memory = FRESH) -> list[str]:
    """The published versions that pass the policy on signatures alone (no exemptions);
    ``memory``: what the face wires in (a cache)."""
    return audited_many([packument], policy, ledgers, memory).get(packument.name, [])


def audited_many(packuments: Sequence[Packument], policy: Policy, ledgers: Sequence[Ledger],
                 memory: Memory = FRESH) -> dict[str, list[str]]:
    """``audited_versions`` of several packages, in one check: name -> versions."""
    deps = [
        Dependency(p.name, version, Source.REGISTRY, "node_modules/" + p.name, dist.integrity)
        for p in packuments for version, dist in p.versions.items()
        if is_valid_version(version)
    ]
    lf = Lockfile(Path("registry"), deps)
    result = engine.check([lf], policy._replace(exemptions=[]), ledgers, memory)
    found: dict[str, list[str]] = {}
    for p in result.packages:
        if p.status is Status.AUDITED:
            found.setdefault(p.name, []).append(p.version)
    return found


def version_key(version: str) -> VersionKey:
    """Semver order: numbers compare as numbers, a pre-release before its release."""
    core, _, pre = version.split("+", 1)[0].partition("-")
    numbers = [int(x) if x.isdigit() else -1 for x in core.split(".")]
    tags = [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")] if pre else []
    return numbers, 0 if pre else 1, tags


def nearest(version: str, candidates: Sequence[str]) -> str | None:
    """The highest candidate below ``version``, else the lowest above it."""
    key = version_key(version)
    others = [c for c in candidates if c != version]
    below = [c for c in others if version_key(c) < key]
    if below:
        return max(below, key=version_key)
    return min(others, key=version_key) if others else None


def _files(folder: Path) -> dict[str, Path]:
    return {rel: path for rel, path, st in walk(folder) if stat.S_ISREG(st.st_mode)}


class Changed(NamedTuple):
    """One file that differs between two unpacked versions: its path, the paths shown
    for each side (/dev/null: none), and the bytes read of each (up to MAX_DIFF_BYTES+1)."""

    rel: str
    a_name: str
    b_name: str
    a: bytes
    b: bytes

    @property
    def too_large(self) -> bool:
        return max(len(self.a), len(self.b)) > MAX_DIFF_BYTES

    @property
    def binary(self) -> bool:
        return is_binary(self.a) or is_binary(self.b)

    def lines(self) -> tuple[list[str], list[str]]:
        return (self.a.decode("utf-8", "replace").splitlines(),
                self.b.decode("utf-8", "replace").splitlines())


def changed_files(old: Path, new: Path, old_label: str, new_label: str) -> Iterator[Changed]:
    """The files that differ between two unpacked packages, in path order."""
    before, after = _files(old), _files(new)
    for rel in sorted(before.keys() | after.keys()):
        a_name, b_name = f"{old_label}/{rel}", f"{new_label}/{rel}"
        a = read_head(before[rel], MAX_DIFF_BYTES + 1) if rel in before else b""
        b = read_head(after[rel], MAX_DIFF_BYTES + 1) if rel in after else b""
        if a == b and (rel in before) == (rel in after) and (
            len(a) <= MAX_DIFF_BYTES or filecmp.cmp(before[rel], after[rel], shallow=False)
        ):
            continue  # the same (a large file: compared whole)
        yield Changed(rel, a_name if rel in before else "/dev/null",
                      b_name if rel in after else "/dev/null", a, b)


def diff_folders(old: Path, new: Path, old_label: str, new_label: str) -> Iterator[str]:
    """A unified diff of two unpacked packages, file by file (lines without newlines)."""
    for c in changed_files(old, new, old_label, new_label):
        if c.too_large:
            yield f"Files {c.a_name} and {c.b_name} differ (too large to show)"
        elif c.binary:
            yield f"Binary files {c.a_name} and {c.b_name} differ"
        else:
            yield from difflib.unified_diff(*c.lines(), c.a_name, c.b_name, lineterm="")
