"""npm's package-lock.json and npm-shrinkwrap.json, lockfileVersion 1, 2 and 3."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from package_trust import filenames
from package_trust.errors import LockfileError
from package_trust.lockfile.interface import Dependency, Lockfile, Source

NAMES = filenames.LOCKFILES
_KEY_LINE = re.compile(r'^[ \t]*"((?:[^"\\\n]|\\.)*)"[ \t]*:[ \t]*\{', re.MULTILINE)
_MODULES = "node_modules/"
_TARBALLS = (".tgz", ".tar.gz", ".tar")


class NpmLockfileParser:
    """Reads npm lockfiles: ``packages`` (v2, v3) or nested ``dependencies`` (v1)."""

    def accepts(self, path: Path) -> bool:
        return path.name in NAMES

    def parse(self, path: Path, text: str) -> Lockfile:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise LockfileError(f"not valid JSON: {e.msg}", path, e.lineno) from None
        if not isinstance(data, dict):
            raise LockfileError("not an npm lockfile: expected a JSON object", path, 1)
        version = data.get("lockfileVersion")
        if version not in (1, 2, 3):
            raise LockfileError(f"unsupported lockfileVersion {version!r} (1, 2 or 3)", path)
        lines = _key_lines(text)
        packages = data.get("packages")
        if version >= 2 and packages is not None:
            if not isinstance(packages, dict):
                raise LockfileError('"packages" must be an object', path, lines.get("packages"))
            deps = _from_packages(path, packages, lines)
            # npm 6 installs a v2 lockfile from "dependencies": check what it says too.
            by_path = {d.path: d for d in deps}
            legacy = _from_dependencies(path, data.get("dependencies") or {}, "", lines)
            deps += [d for d in legacy if not _agrees(by_path.get(d.path), d)]
        else:
            deps = list(_from_dependencies(path, data.get("dependencies") or {}, "", lines))
        return Lockfile(path=path, dependencies=deps)


def _agrees(new: Dependency | None, old: Dependency) -> bool:
    """Whether a v2 lockfile's two sections say the same of one install path."""
    if old.source in (Source.LINK, Source.BUNDLED):  # skipped either way
        return True
    if new is None:
        return False
    if old.source is Source.REGISTRY:
        return (new.source, new.name, new.version, new.integrity) == (
            Source.REGISTRY, old.name, old.version, old.integrity)
    return new.source is old.source


def _key_lines(text: str) -> dict[str, int]:
    """Map each object key in the file to the line of its first occurrence."""
    lines: dict[str, int] = {}
    line, pos = 1, 0
    for m in _KEY_LINE.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        lines.setdefault(m.group(1), line)
    return lines


def _entry(path: Path, key: str, value: Any, line: int | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LockfileError(f"entry {key!r} must be an object", path, line)
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _is_registry_tarball(resolved: str) -> bool:
    """A tarball URL in the registry's layout: https://host/NAME/-/FILE.tgz."""
    parts = urlsplit(resolved)
    return parts.scheme in ("https", "http") and "/-/" in parts.path


def _classify(resolved: str | None, integrity: str | None) -> Source:
    if resolved is None or _is_registry_tarball(resolved):
        return Source.REGISTRY
    return Source.OTHER


def _from_packages(
    path: Path, packages: dict[str, Any], lines: dict[str, int]
) -> list[Dependency]:
    deps = []
    for key, raw in packages.items():
        if key == "":
            continue
        line = lines.get(key)
        entry = _entry(path, key, raw, line)
        at = key.rfind(_MODULES)
        if at < 0:  # a workspace folder or a link target: first party
            version = _str(entry.get("version")) or ""
            deps.append(Dependency(key, version, Source.LINK, key, line=line))
            continue
        name = _str(entry.get("name")) or key[at + len(_MODULES) :]
        version = _str(entry.get("version")) or ""
        resolved = _str(entry.get("resolved"))
        integrity = _str(entry.get("integrity"))
        if entry.get("link") is True:
            source = Source.LINK
        elif entry.get("inBundle") in (True, "true"):
            source = Source.BUNDLED
        else:
            source = _classify(resolved, integrity)
        deps.append(Dependency(name, version, source, key, integrity, resolved, line))
    return deps


def _from_dependencies(
    path: Path, dependencies: Any, parent: str, lines: dict[str, int]
) -> list[Dependency]:
    if not isinstance(dependencies, dict):
        raise LockfileError('"dependencies" must be an object', path)
    deps = []
    for key, raw in dependencies.items():
        line = lines.get(key)
        entry = _entry(path, key, raw, line)
        # Not a package but a folder holding packages (npm 7's v2 files: "../a", ".pnpm/…")
        outside = key.startswith(".")
        where = key if key.startswith("../") else f"{parent}{_MODULES}{key}"
        name, version = key, _str(entry.get("version")) or ""
        resolved = _str(entry.get("resolved"))
        integrity = _str(entry.get("integrity"))
        if version.startswith("npm:"):  # an alias: npm:real-name@1.2.3
            name, _, version = version[4:].rpartition("@")
        if outside:
            source = Source.LINK
        elif entry.get("bundled") in (True, "true"):
            source = Source.BUNDLED
        elif version.startswith("file:") and version.endswith(_TARBALLS):
            source = Source.OTHER  # a tarball on disk, not a first-party folder
        elif version.startswith("file:") or version.startswith("link:"):
            source = Source.LINK
        elif ":" in version or "/" in version:  # git+ssh://…, github:…, a tarball URL
            source = Source.OTHER
            resolved = resolved or version
        else:
            source = _classify(resolved, integrity)
        deps.append(Dependency(name, version, source, where, integrity, resolved, line))
        deps.extend(_from_dependencies(path, entry.get("dependencies") or {}, where + "/", lines))
    return deps
