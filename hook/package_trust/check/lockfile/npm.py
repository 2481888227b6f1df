"""npm's package-lock.json and npm-shrinkwrap.json, read as npm 7 and later read them
(arborist's shrinkwrap.js and load-virtual.js), lockfileVersion 1, 2 and 3.

npm builds its tree from ``packages`` whenever the file has that section, whatever its
lockfileVersion says, else from the nested ``dependencies`` of a version 1 file. npm 6
installs from ``dependencies`` only: where a file has both and they disagree, both are
checked.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from package_trust import filenames
from package_trust.check import safejson
from package_trust.check.lockfile import npm_scope, npm_sync
from package_trust.check.lockfile.interface import Dependency, Lockfile, Source
from package_trust.check.lockfile.manifest import Manifest
from package_trust.check.lockfile.npm_bundles import bundlers, name_from_folder, parent_key
from package_trust.check.lockfile.npm_lines import KeyLines, index_keys, line_of
from package_trust.check.lockfile.npm_spec import (
    classify_resolved,
    in_node_modules,
    js_truthy,
    local_target,
    spec_from_lock,
)
from package_trust.errors import LockfileError

NAMES = filenames.LOCKFILES
_MODULES = "node_modules/"

__all__ = ["NAMES", "NpmLockfileParser", "classify_resolved", "index_keys"]


class NpmLockfileParser:
    """Reads npm lockfiles: ``packages`` (v2, v3) or nested ``dependencies`` (v1)."""

    def accepts(self, path: Path) -> bool:
        return path.name in NAMES

    def parse(self, path: Path, text: str) -> Lockfile:
        try:
            data = safejson.loads(text)
        except safejson.JsonError as e:
            raise LockfileError(f"not valid JSON: {e.msg}", path, e.lineno) from None
        if not isinstance(data, dict):
            raise LockfileError("not an npm lockfile: expected a JSON object", path, 1)
        version = data.get("lockfileVersion")
        # npm reads any value; one it has no meaning for (a later version, true, none) is
        # not guessed at. 1.0 is 1 to JavaScript.
        if type(version) not in (int, float) or version not in (1, 2, 3):
            raise LockfileError(f"unsupported lockfileVersion {version!r} (1, 2 or 3)", path,
                                line_of(text, "lockfileVersion"))
        lines = KeyLines(text)
        packages, legacy = data.get("packages"), data.get("dependencies")
        manifests = npm_sync.Manifests(path)
        if js_truthy(packages):  # shrinkwrap.js load(): `data.packages || {}`
            if not isinstance(packages, dict):
                raise LockfileError('"packages" must be an object', path,
                                    line_of(text, "packages"))
            deps = _from_packages(path, packages, lines, manifests, old=version == 1)
            deps = _scoped(deps, {k: v for k, v in packages.items() if k}, packages.get(""),
                           manifests.get(""))
            if js_truthy(legacy):  # npm 6 installs from here: it cannot hide a package
                by_path = {d.path: d for d in deps}
                deps += [d for d in _from_dependencies(path, legacy, "", lines, folders=True)
                         if not _agrees(by_path.get(d.path), d)]
            out_of_sync = manifests.check_packages(packages)
            root: Any = packages.get("")
        else:
            tree: dict[str, dict[str, Any]] = {}
            deps = _links(_from_dependencies(path, legacy if js_truthy(legacy) else {}, "",
                                             lines, tree=tree))
            # arborist turns bundled flags into bundleDependencies only in a file that says
            # it is version 1 (load-virtual.js #assignBundles): in a 2 or 3 with no
            # packages, npm fetches a bundled entry from its own resolved
            old = version == 1
            deps = _bundled(deps, bundlers(tree, manifests.root_bundles({}), old=old))
            if manifests.get("") is not None:  # else no root to tell dev from: production
                deps = _scoped(deps, tree, None, manifests.get(""))
            # what a package bundles (a version 1 file's flags): npm leaves its edges be
            for key, entry in tree.items() if old else ():
                parent = parent_key(key)
                if js_truthy(entry["inBundle"]) and parent in tree:
                    tree[parent].setdefault("bundleDependencies", []).append(
                        name_from_folder(key))
            out_of_sync = manifests.check_v1(deps, tree)
            found = manifests.get("")
            root = found.declared if found is not None else None
        return Lockfile(path=path, dependencies=deps, out_of_sync=out_of_sync,
                        read=[path, *manifests.read],
                        root_requires=None if root is None else requires(root, folder=True))


_REQUIRES = ("dependencies", "optionalDependencies", "peerDependencies")
_FOLDER_REQUIRES = (*_REQUIRES, "devDependencies")


def requires(entry: Any, folder: bool) -> tuple[str, ...]:
    """The names an entry depends on (each field an object of them, else none); a folder
    outside node_modules (the project, a workspace) installs its devDependencies too."""
    if not isinstance(entry, dict):
        return ()
    names: dict[str, None] = {}
    for field in _FOLDER_REQUIRES if folder else _REQUIRES:
        deps = entry.get(field)
        if isinstance(deps, dict):
            names.update(dict.fromkeys(deps))
    return tuple(names)


def _agrees(new: Dependency | None, old: Dependency) -> bool:
    """Whether a file's two sections say the same of one install path."""
    if old.source is Source.LINK:  # skipped either way
        return True
    if new is None:
        return False
    if old.source is Source.REGISTRY:
        return (new.source, new.name, new.version, new.integrity) == (
            Source.REGISTRY, old.name, old.version, old.integrity)
    return new.source is old.source


def _entry(path: Path, key: str, value: Any, line: int | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LockfileError(f"entry {key!r} must be an object", path, line)
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _from_packages(path: Path, packages: dict[str, Any], lines: KeyLines,
                   manifests: npm_sync.Manifests, old: bool) -> list[Dependency]:
    """Entries of ``packages``: install path -> entry. npm fetches only what sits in a
    node_modules folder and is no link (load-virtual.js, reify.js); the folders outside
    (the project's workspaces, link targets) are first party. On Windows a backslash
    separates folders too: such a key is read both ways, and checked if either fetches."""
    deps = []
    for key, raw in packages.items():
        if key == "":
            continue
        line = lines.of(key)
        entry = _entry(path, key, raw, line)
        version = _str(entry.get("version")) or ""
        folder = key.replace("\\", "/")
        at = folder.rfind(_MODULES)
        if at < 0 and not any(js_truthy(entry.get(k)) for k in ("resolved", "integrity")):
            # A folder outside node_modules: npm never fetches it (diff.js: fsChildren). One
            # naming a tarball is none npm writes: it is judged all the same.
            deps.append(Dependency(key, version, Source.LINK, key, line=line,
                                   requires=requires(entry, folder=True)))
            continue
        name = _str(entry.get("name")) or (
            folder[at + len(_MODULES):] if at >= 0 else name_from_folder(folder))
        resolved = _str(entry.get("resolved"))
        source = Source.LINK if js_truthy(entry.get("link")) else classify_resolved(resolved)
        deps.append(Dependency(name, version, source, key, _str(entry.get("integrity")),
                               resolved, line, None, js_truthy(entry.get("hasShrinkwrap")),
                               requires=requires(entry, folder=at < 0)))
    entries = {k: v for k, v in packages.items() if k}
    return _bundled(deps, bundlers(entries, manifests.root_bundles(packages.get("")), old))


def _scoped(deps: list[Dependency], entries: dict[str, Any], recorded: Any,
            root: Manifest | None) -> list[Dependency]:
    """The entries only development needs, marked so (npm_scope.py), from what the
    lockfile (``recorded``) and package.json say the project depends on in production."""
    try:
        names = npm_scope.production_names(recorded)
    except npm_scope.Unreadable:
        return deps  # npm_sync reports it; meanwhile everything is production
    names += [n for field in npm_scope.PRODUCTION for n in (root.declared[field] if root else ())]
    dev = npm_scope.development(entries, names)
    return [d._replace(dev=True) if d.path in dev else d for d in deps] if dev else deps


def _links(deps: list[Dependency]) -> list[Dependency]:
    """A v1 link into a node_modules folder: npm (shrinkwrap.js #metaFromLock) installs a
    package there from the link's own ``resolved`` and ``integrity``, unless the lockfile
    has an entry of its own at that place (which is then checked)."""
    paths = {d.path for d in deps}
    return [d._replace(source=Source.LINK) if d.source is Source.OTHER and d.resolved in paths
            and d.version.lower().startswith("file:") else d for d in deps]


def _bundled(deps: list[Dependency], found: dict[str, str]) -> list[Dependency]:
    return [d._replace(bundled_in=found[d.path]) if d.path in found else d for d in deps]


def _from_dependencies(
    path: Path, dependencies: Any, parent: str, lines: KeyLines, folders: bool = False,
    tree: dict[str, dict[str, Any]] | None = None,
) -> list[Dependency]:
    """Entries of a v1 ``dependencies`` tree below ``parent`` (or a v2 file's copy of it:
    ``folders``), each read as npm reads it (spec-from-lock.js, shrinkwrap.js
    #metaFromLock); ``tree`` collects them in the shape of ``packages`` (for bundles)."""
    if not isinstance(dependencies, dict):
        raise LockfileError('"dependencies" must be an object', path)
    deps = []
    for key, raw in dependencies.items():
        line = lines.of(key)
        entry = _entry(path, key, raw, line)
        where = key if key.startswith("../") else f"{parent}{_MODULES}{key}"
        name, version = key, _str(entry.get("version")) or ""
        resolved, integrity = _str(entry.get("resolved")), _str(entry.get("integrity"))
        spec = spec_from_lock(entry)
        if spec.kind == "alias" and spec.name:
            name, version = spec.name, spec.target
        target = local_target(spec)
        if key.startswith("."):  # a folder in npm 7's copy of a v2 file; else a package
            source = Source.LINK if folders else Source.OTHER
        elif spec.kind == "directory" and target is not None and (
                folders or not in_node_modules(target)):
            source, resolved = Source.LINK, target  # npm 6, the only reader of a copy, links
        elif spec.kind == "directory" and target is not None:
            source, resolved = Source.OTHER, target  # _links decides
        elif spec.kind in ("registry", "alias"):
            source = classify_resolved(resolved)
        else:  # git, a tarball on disk or elsewhere, what is not read with certainty
            source, resolved = Source.OTHER, resolved or version or None
        needs = requires({"dependencies": entry.get("requires")}, folder=False)
        deps.append(Dependency(name, version, source, where, integrity, resolved, line,
                               requires=needs))
        if tree is not None:
            tree[where] = {"inBundle": entry.get("bundled"), "link": source is Source.LINK,
                           "dependencies": entry.get("requires"), "dev": entry.get("dev")}
        nested = entry.get("dependencies")
        if js_truthy(nested):
            deps.extend(_from_dependencies(path, nested, posixpath.join(where, ""), lines,
                                           folders, tree))
    return deps
