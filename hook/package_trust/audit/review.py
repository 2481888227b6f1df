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

from package_trust.audit.inspection import is_binary, read_head, walk
from package_trust.audit.registry import Packument
from package_trust.check import engine
from package_trust.check.ledger import Ledger
from package_trust.check.lockfile import Dependency, Lockfile, Source
from package_trust.check.names import is_valid_version
from package_trust.check.policy import Policy
from package_trust.check.result import Status

MAX_DIFF_BYTES = 1024 * 1024  # a larger file is said to differ, not shown

VersionKey = tuple[list[int], int, list[tuple[int, int, str]]]


def audited_versions(packument: Packument, policy: Policy, ledgers: Sequence[Ledger]) -> list[str]:
    """The published versions that pass the policy on signatures alone (no exemptions)."""
    deps = [
        Dependency(packument.name, version, Source.REGISTRY, "node_modules/" + packument.name,
                   dist.integrity)
        for version, dist in packument.versions.items()
        if is_valid_version(version)
    ]
    lf = Lockfile(Path("registry"), deps)
    result = engine.check([lf], policy._replace(exemptions=[]), ledgers)
    return [p.version for p in result.packages if p.status is Status.AUDITED]


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


def diff_folders(old: Path, new: Path, old_label: str, new_label: str) -> Iterator[str]:
    """A unified diff of two unpacked packages, file by file (lines without newlines)."""
    before, after = _files(old), _files(new)
    for rel in sorted(before.keys() | after.keys()):
        a_name, b_name = f"{old_label}/{rel}", f"{new_label}/{rel}"
        a = read_head(before[rel], MAX_DIFF_BYTES + 1) if rel in before else b""
        b = read_head(after[rel], MAX_DIFF_BYTES + 1) if rel in after else b""
        if a == b and (rel in before) == (rel in after) and (
            len(a) <= MAX_DIFF_BYTES or filecmp.cmp(before[rel], after[rel], shallow=False)
        ):
            continue  # the same (a large file: compared whole)
        if rel not in before:
            a_name = "/dev/null"
        if rel not in after:
            b_name = "/dev/null"
        if max(len(a), len(b)) > MAX_DIFF_BYTES:
            yield f"Files {a_name} and {b_name} differ (too large to show)"
        elif is_binary(a) or is_binary(b):
            yield f"Binary files {a_name} and {b_name} differ"
        else:
            yield from difflib.unified_diff(
                a.decode("utf-8", "replace").splitlines(),
                b.decode("utf-8", "replace").splitlines(),
                a_name,
                b_name,
                lineterm="",
            )
