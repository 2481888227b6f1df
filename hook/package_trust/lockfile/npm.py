"""npm's package-lock.json and npm-shrinkwrap.json, lockfileVersion 1, 2 and 3."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from package_trust import filenames
from package_trust.errors import LockfileError
from package_trust.lockfile.interface import Dependency, Lockfile, Source

NAMES = filenames.LOCKFILES
_TO_OBJECT = r"[ \t\r\n]*:[ \t\r\n]*\{"  # from a key to the object it names
_KEY_END = re.compile(_TO_OBJECT)
_KEY_LINE = re.compile(r'^[ \t]*"((?:[^"\\\n]|\\.)*)"' + _TO_OBJECT, re.MULTILINE)
_QUOTE = json.JSONEncoder(ensure_ascii=False).encode  # a key as npm writes it
_MODULES = "node_modules/"
_TARBALLS = (".tgz", ".tar.gz", ".tar")
# What may bundle packages inside its tarball: an entry marked bundled below anything else
# (the project, a workspace, a link) is installed on its own, and checked as such.
_BUNDLING = (Source.REGISTRY, Source.BUNDLED, Source.OTHER)


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
        lines = _KeyLines(text)
        packages = data.get("packages")
        if version >= 2 and packages is not None:
            if not isinstance(packages, dict):
                line = _line_of(text, "packages")
                raise LockfileError('"packages" must be an object', path, line)
            deps = _from_packages(path, packages, lines)
            # npm 6 installs a v2 lockfile from "dependencies": check what it says too.
            legacy = _from_dependencies(path, data.get("dependencies") or {}, "", lines,
                                        folders=True)
            if legacy:
                by_path = {d.path: d for d in deps}
                deps += [d for d in legacy if not _agrees(by_path.get(d.path), d)]
        else:
            deps = _from_dependencies(path, data.get("dependencies") or {}, "", lines)
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


class _KeyLines:
    """The line of each entry, asked for in the order json.loads read the entries.

    That is the order of the text (for nested v1 entries, depth first), so each key is looked
    for after the previous one: one pass over the text in all. Should a key not be ahead (an
    escape npm does not write, sections in another order), an index of every ``"key": {`` at
    the start of a line is built once and used from then on: the next one, else the first.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0  # where to look next: just after the previous key's opening quote
        self._line = 1  # the line of _pos
        self._index: dict[str, list[tuple[int, int]]] | None = None

    def of(self, key: str) -> int | None:
        """The line of the next ``"key": {``, if any."""
        if self._index is None:
            pos = _find_key(self._text, key, self._pos)
            if pos >= 0:
                self._line += self._text.count("\n", self._pos, pos)
                self._pos = pos + 1
                return self._line
            self._index = index_keys(self._text)
        found = self._index.get(key)
        if not found:
            return None
        from bisect import bisect_left  # only for unusual files: not at start-up

        at = bisect_left(found, (self._pos, 0))
        pos, self._line = found[at] if at < len(found) else found[0]
        self._pos = pos + 1
        return self._line


def _find_key(text: str, key: str, start: int) -> int:
    """Where ``"key": {`` is first written from ``start`` on, or -1."""
    quoted = _QUOTE(key)
    pos = text.find(quoted, start)
    while pos >= 0:
        end = pos + len(quoted)
        # npm writes '"key": {'. After a backslash the quote is in a string: "a\"key": {…}.
        if (text.startswith(": {", end) or _KEY_END.match(text, end)) and text[pos - 1] != "\\":
            return pos
        pos = text.find(quoted, pos + 1)
    return -1


def _line_of(text: str, key: str) -> int | None:
    """The line where ``"key":`` is first written (for an error message), if anywhere."""
    found = re.search(re.escape(_QUOTE(key)) + r"[ \t\r\n]*:", text)
    return None if found is None else text.count("\n", 0, found.start()) + 1


def index_keys(text: str) -> dict[str, list[tuple[int, int]]]:
    """Every ``"key": {`` starting a line: key -> [(position, line)], in the text's order."""
    index: dict[str, list[tuple[int, int]]] = {}
    line, last = 1, 0
    for m in _KEY_LINE.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        raw = m.group(1)
        try:
            key = json.loads(f'"{raw}"') if "\\" in raw else raw
        except json.JSONDecodeError:
            continue
        index.setdefault(key, []).append((m.start(1) - 1, line))
    return index


def _entry(path: Path, key: str, value: Any, line: int | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LockfileError(f"entry {key!r} must be an object", path, line)
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _is_registry_tarball(resolved: str) -> bool:
    """A tarball URL in the registry's layout: https://host/NAME/-/FILE.tgz."""
    scheme, sep, rest = resolved.partition("://")
    # The host holds no "/": a "/-/" before any query or fragment is in the path.
    return (
        sep == "://"
        and scheme.lower() in ("https", "http")
        and "/-/" in rest.partition("?")[0].partition("#")[0]
    )


def _classify(resolved: str | None) -> Source:
    if resolved is None or _is_registry_tarball(resolved):
        return Source.REGISTRY
    return Source.OTHER


def _from_packages(
    path: Path, packages: dict[str, Any], lines: _KeyLines
) -> list[Dependency]:
    deps = []
    sources: dict[str, Source] = {}  # install path -> source, parents first (npm sorts them)
    for key, raw in packages.items():
        if key == "":
            continue
        line = lines.of(key)
        entry = _entry(path, key, raw, line)
        at = key.rfind(_MODULES)
        if at < 0:  # a workspace folder or a link target: first party
            version = _str(entry.get("version")) or ""
            deps.append(Dependency(key, version, Source.LINK, key, line=line))
            sources[key] = Source.LINK
            continue
        name = _str(entry.get("name")) or key[at + len(_MODULES) :]
        version = _str(entry.get("version")) or ""
        resolved = _str(entry.get("resolved"))
        integrity = _str(entry.get("integrity"))
        if entry.get("link") is True:
            source = Source.LINK
        elif entry.get("inBundle") in (True, "true") and _in_package(sources, key[:at]):
            source = Source.BUNDLED
        else:
            source = _classify(resolved)
        sources[key] = source
        deps.append(Dependency(name, version, source, key, integrity, resolved, line))
    return deps


def _in_package(sources: dict[str, Source], folder: str) -> bool:
    """Whether the folder a ``node_modules/`` is in holds a package that can bundle."""
    return sources.get(folder.rstrip("/")) in _BUNDLING


def _from_dependencies(
    path: Path, dependencies: Any, parent: str, lines: _KeyLines, folders: bool = False,
    in_package: bool = False,
) -> list[Dependency]:
    """Entries of a v1 ``dependencies`` tree (or a v2 file's copy of it: ``folders``)
    below ``parent``; ``in_package``: below a package that can bundle its own."""
    if not isinstance(dependencies, dict):
        raise LockfileError('"dependencies" must be an object', path)
    deps = []
    for key, raw in dependencies.items():
        line = lines.of(key)
        entry = _entry(path, key, raw, line)
        # Not a package but a folder holding packages (npm 7's v2 files: "../a", ".pnpm/…");
        # nothing a v1 file has, where it cannot be checked.
        outside = key.startswith(".")
        where = key if key.startswith("../") else f"{parent}{_MODULES}{key}"
        name, version = key, _str(entry.get("version")) or ""
        resolved = _str(entry.get("resolved"))
        integrity = _str(entry.get("integrity"))
        if version.startswith("npm:"):  # an alias: npm:real-name@1.2.3
            name, _, version = version[4:].rpartition("@")
        if outside:
            source = Source.LINK if folders else Source.OTHER
        elif entry.get("bundled") in (True, "true") and in_package:
            source = Source.BUNDLED
        elif version.startswith("file:") and version.endswith(_TARBALLS):
            source = Source.OTHER  # a tarball on disk, not a first-party folder
        elif version.startswith("file:") or version.startswith("link:"):
            source = Source.LINK
        elif ":" in version or "/" in version:  # git+ssh://…, github:…, a tarball URL
            source = Source.OTHER
            resolved = resolved or version
        else:
            source = _classify(resolved)
        deps.append(Dependency(name, version, source, where, integrity, resolved, line))
        nested = entry.get("dependencies")
        if nested:
            deps.extend(_from_dependencies(path, nested, where + "/", lines, folders,
                                           source in _BUNDLING))
    return deps
