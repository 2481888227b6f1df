"""What an auditor should look at first in an unpacked package: install-time scripts,
native code, binaries, minified or obfuscated files, bundled dependencies.

A review aid, never a verdict: the report points at files, the auditor reads them. What
the package names (files, scripts, dependencies) is shown with its control characters
escaped, one line each.
"""

from __future__ import annotations

import math
import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from package_trust.check import safejson
from package_trust.textsafe import printable

LIFECYCLE = ("preinstall", "install", "postinstall", "prepare")
CODE_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".sh", ".py")
LONG_LINE = 1000  # characters: minified, or something hidden at the end of a line
HIGH_ENTROPY = 5.5  # bits per character: hand-written code stays well below
MIN_ENTROPY_BYTES = 1024
READ_BYTES = 1024 * 1024  # enough of a file to judge it
SNIFF_BYTES = 8192
ENTROPY_SAMPLE = 64 * 1024
MAX_LISTED = 20


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the package folder, with /
    detail: str = ""


@dataclass
class Report:
    """What ``inspect`` found in one unpacked package."""

    files: int = 0
    size: int = 0
    scripts: dict[str, str] = field(default_factory=dict)  # lifecycle scripts, in full
    native: list[Finding] = field(default_factory=list)
    binaries: list[Finding] = field(default_factory=list)
    minified: list[Finding] = field(default_factory=list)
    bundled: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def walk(folder: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """Every entry below ``folder`` (relative path with /, path, lstat); links not followed."""
    for top, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(top, d))]):
            path = Path(top, name)
            yield path.relative_to(folder).as_posix(), path, os.lstat(path)


def read_head(path: Path, limit: int = READ_BYTES) -> bytes:
    """The first ``limit`` bytes of a regular file, never through a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def is_binary(head: bytes) -> bool:
    """NUL bytes, or bytes that are not UTF-8 (a cut at the end does not count)."""
    sniff = head[:SNIFF_BYTES]
    if b"\0" in sniff:
        return True
    try:
        sniff.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(sniff) - 4
    return False


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def inspect(folder: Path) -> Report:
    """Inspect the unpacked package in ``folder``."""
    report = Report()
    for rel, path, st in walk(folder):
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            report.problems.append(f"{rel} is not a regular file (not followed)")
            continue
        report.files += 1
        report.size += st.st_size
        name = rel.rsplit("/", 1)[-1]
        if name == "binding.gyp":
            report.native.append(Finding(rel, "native addon build file"))
        elif name.endswith(".node"):
            report.native.append(Finding(rel, f"prebuilt native binary, {st.st_size} bytes"))
        head = read_head(path)
        if is_binary(head):
            if not name.endswith(".node"):
                report.binaries.append(Finding(rel, f"{st.st_size} bytes"))
            continue
        why = _minified(rel, head)
        if why:
            report.minified.append(Finding(rel, why))
    _read_manifest(folder, report)
    return report


def _minified(rel: str, head: bytes) -> str | None:
    if not (rel.endswith(CODE_SUFFIXES) or head.startswith(b"#!")):
        return None
    longest = max((len(line) for line in head.split(b"\n")), default=0)
    if longest > LONG_LINE:
        return f"a line of {longest} characters"
    bits = entropy(head[:ENTROPY_SAMPLE])
    if len(head) >= MIN_ENTROPY_BYTES and bits > HIGH_ENTROPY:
        return f"entropy {bits:.1f} bits per character (packed or encoded data?)"
    return None


def _read_manifest(folder: Path, report: Report) -> None:
    manifest = folder / "package.json"
    try:
        data: Any = safejson.loads(read_head(manifest).decode("utf-8"))
    except (OSError, ValueError) as e:
        report.problems.append(f"package.json cannot be read: {e}")
        return
    if not isinstance(data, dict):
        report.problems.append("package.json is not a JSON object")
        return
    scripts = data.get("scripts")
    if isinstance(scripts, dict):
        report.scripts = {k: str(scripts[k]) for k in LIFECYCLE if k in scripts}
    has_gyp = any(f.path == "binding.gyp" for f in report.native)
    if has_gyp and data.get("gypfile") is not False and not (
        {"install", "preinstall"} & report.scripts.keys()
    ):
        report.scripts["install"] = "node-gyp rebuild  (implicit: npm runs it for binding.gyp)"
    declared = data.get("bundleDependencies", data.get("bundledDependencies"))
    if declared is True and isinstance(data.get("dependencies"), dict):
        declared = list(data["dependencies"])
    names = [str(d) for d in declared] if isinstance(declared, list) else []
    names += _installed(folder / "node_modules")
    report.bundled = list(dict.fromkeys(names))


def _installed(modules: Path) -> list[str]:
    """The packages in a node_modules folder (scoped ones as @scope/name)."""
    if modules.is_symlink() or not modules.is_dir():
        return []
    names = []
    for entry in sorted(os.listdir(modules)):
        scope = modules / entry
        if entry.startswith("@") and scope.is_dir() and not scope.is_symlink():
            names += [f"{entry}/{sub}" for sub in sorted(os.listdir(scope))]
        elif not entry.startswith("."):
            names.append(entry)
    return names


def render(report: Report, spec: str, folder: Path) -> str:
    """The report as text; lines that need the auditor's attention start with ``!!``."""
    lines = [f"{spec}: {report.files} files, {_size(report.size)} in {folder}"]
    lines += [f"!! {p}" for p in report.problems]
    if report.scripts:  # each on one line, its newlines shown as \n
        lines.append("!! lifecycle scripts (npm runs these when the package is installed):")
        lines += [f"     {k}: {v}" for k, v in report.scripts.items()]
    else:
        lines.append("lifecycle scripts: none")
    lines += _section("!! native code", [f"{f.path} ({f.detail})" for f in report.native])
    lines += _section("binary files", [f"{f.path} ({f.detail})" for f in report.binaries])
    lines += _section(
        "!! minified or obfuscated-looking files",
        [f"{f.path} ({f.detail})" for f in report.minified],
    )
    lines += _section("bundled dependencies", report.bundled)
    return "".join(printable(line) + "\n" for line in lines)


def _section(title: str, items: list[str]) -> list[str]:
    if not items:
        return [f"{title.removeprefix('!! ')}: none"]
    shown = [f"     {item}" for item in items[:MAX_LISTED]]
    more = [f"     (+{len(items) - MAX_LISTED} more)"] if len(items) > MAX_LISTED else []
    return [f"{title} ({len(items)}):", *shown, *more]


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MiB"
