"""Every dependency a locked package declares must be met by the entry it resolves to:
where one is not, ``npm install`` fetches a package afresh (build-ideal-tree.js
#problemEdges), which the check never saw, and ``npm ci`` refuses the lockfile.

Peer dependencies are edges too (arborist's node.js loads them, ``peerOptional`` for
those ``peerDependenciesMeta`` marks optional, unless ``legacy-peer-deps`` is set; a
dependency of the same name replaces the peer's edge): a peer the lockfile lacks, npm
install fetches. They are skipped only where the project's npm settings (npmrc.py) say
``legacy-peer-deps=true``; a peer found in the dependent's own node_modules is an error
to npm too (edge.js, PEER LOCAL). npm may also keep a peer conflict it only warns of
(place-dep.js): that fails here too, closed.

As npm skips them, so are skipped: what a package bundles, what a package's own
npm-shrinkwrap.json decides, and missing optional peers. package.json ``overrides``
replace the specs of the dependencies they name; beyond plain ``"name": "spec"`` pairs,
npm's rules are not repeated here and the check fails closed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Container, Mapping
from pathlib import Path
from typing import Any

from package_trust.check.lockfile.interface import OutOfSync
from package_trust.check.lockfile.manifest import FIX, Locked, Manifest, unmet
from package_trust.check.lockfile.npm_spec import js_truthy

_FIELDS = ("dependencies", "optionalDependencies")
_PEERS = "peerDependencies"
_LEGACY_FIX = (" (npm may also have kept a peer conflict, which npm ls shows as invalid: "
               "resolve it; or, if the project installs with legacy-peer-deps, which "
               "installs no peers, say so in its .npmrc: legacy-peer-deps=true)")


def check(packages: dict[str, Any], find: dict[str, Locked], root: Manifest,
          lockfile: Path, peers: bool) -> list[OutOfSync]:
    """The unmet dependencies of the packages in ``packages`` (v2, v3 and converted v1);
    ``peers``: their peer dependencies too (no ``legacy-peer-deps``, npmrc.py)."""
    overrides = plain_overrides(root)
    if overrides is None:
        return [OutOfSync("overrides", "", root.path, None,
                          "cannot tell how package.json's overrides apply (only plain "
                          '"name": "version range" pairs are read here): check it with '
                          "npm ci --dry-run, or write them plainly")]
    fields = (*_FIELDS, _PEERS) if peers else _FIELDS
    out = []
    for key, entry in packages.items():
        if "node_modules/" not in key or not isinstance(entry, dict) or js_truthy(
                entry.get("link")) or _in_shrinkwrap(packages, key):
            continue
        bundled = entry.get("bundleDependencies")
        bundled = set(bundled) if isinstance(bundled, list) else set()
        for field in fields:
            deps = entry.get(field)
            if js_truthy(deps) and not isinstance(deps, dict):  # Object.entries reads an
                # array or a string as dependencies named 0, 1, ...: not read here
                out.append(OutOfSync(field, "", lockfile, None,
                                     f"the lockfile is not consistent: {key}'s {field} is "
                                     f"not an object of names and ranges: {FIX}"))
                continue
            for name, spec in deps.items() if isinstance(deps, dict) else ():
                if name in bundled or not isinstance(spec, str) or (
                        field == _PEERS and _also_dependency(entry, name)):
                    continue
                # a file: spec is read from the project's folder when overridden, else
                # from where the requiring tarball was (arborist's from-path.js): not here
                tarballs = "" if name in overrides else None
                spec = overrides.get(name, spec)
                target = _resolve(packages, find, key, name)
                if target is None and field == _PEERS and _optional_peer(entry, name):
                    continue  # npm installs no optional peer that is missing
                problem = (f"nothing in the lockfile meets it, so npm install would fetch "
                           f"{name}@{spec} unseen") if target is None else unmet(
                    target, spec, key, False, tarballs)
                if problem is None and field == _PEERS and target is not None and \
                        target.key == f"{key}/node_modules/{name}":
                    problem = ("it lies in the package's own node_modules, where npm does not "
                               "leave a peer, so npm install would place it afresh")
                if problem is not None:
                    fix = FIX + (_LEGACY_FIX if field == _PEERS else "")
                    out.append(OutOfSync(name, spec, lockfile, None,
                                         f"the lockfile is not consistent: {key} depends on "
                                         f"{name}@{spec} ({field}): {problem}: {fix}"))
    return out


def _also_dependency(entry: dict[str, Any], name: str) -> bool:
    """Whether the name is a dependency too: npm loads peers first, and the dependency's
    edge replaces the peer's (node.js, _loadDeps), so that edge is the one judged."""
    return any(isinstance(deps := entry.get(field), dict) and name in deps for field in _FIELDS)


def _optional_peer(entry: dict[str, Any], name: str) -> bool:
    """Whether ``peerDependenciesMeta`` marks the peer optional (anything else: required)."""
    meta = entry.get("peerDependenciesMeta")
    about = meta.get(name) if isinstance(meta, dict) else None
    return isinstance(about, dict) and js_truthy(about.get("optional"))


def plain_overrides(root: Manifest) -> dict[str, str] | None:
    """Plain overrides (``"name": "spec"``, ``"$name"`` meaning the project's own spec),
    or None when there are others."""
    raw = root.data.get("overrides")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return None
    out = {}
    for name, spec in raw.items():
        if not isinstance(spec, str) or "@" in name[1:]:
            return None
        if spec.startswith("$"):
            spec = next((d[spec[1:]] for d in root.declared.values() if spec[1:] in d), "")
            if not spec:
                return None
        out[name] = spec
    return out


def _resolve(packages: dict[str, Any], find: dict[str, Locked], key: str,
             name: str) -> Locked | None:
    found = resolve_key(packages, find, key, name)
    return None if found is None else find[found]


def resolve_key(packages: Mapping[str, Any], present: Container[str], key: str,
                name: str) -> str | None:
    """Node.resolve from the package at ``key``: its node_modules, then its parents', to
    the first key in ``present``."""
    folder = key
    while True:
        found = f"{folder}/node_modules/{name}" if folder else f"node_modules/{name}"
        if found in present:
            return found
        if not folder:
            return None
        folder = posixpath.dirname(folder)
        while folder and folder not in packages:
            folder = posixpath.dirname(folder)


def _in_shrinkwrap(packages: dict[str, Any], key: str) -> bool:
    """Whether a package above this one carries an npm-shrinkwrap.json (``hasShrinkwrap``):
    npm installs what lies below it from that file."""
    folder = posixpath.dirname(key)
    while folder:
        entry = packages.get(folder)
        if isinstance(entry, dict) and js_truthy(entry.get("hasShrinkwrap")):
            return True
        folder = posixpath.dirname(folder)
    return False
