"""The package.json files npm reads beside a lockfile, held against it (manifest.py):
the project's, each linked folder's (workspaces among them), and the folders the
project's ``workspaces`` patterns take in (@npmcli/map-workspaces), which the lockfile
must already hold."""

from __future__ import annotations

import json
import os
import posixpath
import re
from pathlib import Path
from typing import Any

from package_trust.check.lockfile import manifest, npm_edges, npmrc
from package_trust.check.lockfile.interface import Dependency, OutOfSync, Source
from package_trust.check.lockfile.manifest import FIX, Locked, Manifest
from package_trust.check.lockfile.npm_bundles import name_from_folder
from package_trust.check.lockfile.npm_spec import js_truthy

_UNREAD_GLOB = re.compile(r"[{}()!+@\\]|(^|/)\.\.?(/|$)|^/")  # brace, extglob, a dot segment
_MAX_DIRS = 20000  # folders walked for workspaces patterns before giving up (fail closed)


class Manifests:
    """The package.json files of one lockfile's project, each read once."""

    def __init__(self, lockfile: Path) -> None:
        self.lockfile, self.folder = lockfile, lockfile.parent
        self.read: list[Path] = []  # every file and folder looked at
        self._cache: dict[str, Manifest | None] = {}

    def get(self, rel: str) -> Manifest | None:
        """The package.json of a folder (relative to the lockfile's), if it has one."""
        if rel not in self._cache:
            path = self.folder / rel / "package.json" if rel else self.folder / "package.json"
            self.read.append(path)
            self._cache[rel] = manifest.read(path, rel)
        return self._cache[rel]

    def root_bundles(self, recorded: Any) -> dict[str, list[str]]:
        """What the project bundles: its package.json's say, else the lockfile's."""
        found = self.get("")
        source = found.data if found is not None else recorded
        return {"": bundle_dependencies(source if isinstance(source, dict) else {})}

    def check_packages(self, packages: dict[str, Any]) -> list[OutOfSync]:
        """A lockfile with ``packages`` (it records each package.json)."""
        root = self.get("")
        if root is None:
            return []
        find = _locked(packages)
        recorded = packages.get("")
        recorded = recorded if isinstance(recorded, dict) else {}
        peers = not npmrc.legacy_peer_deps(self.folder)
        out = manifest.compare(root, recorded) + manifest.check_met(root, find, False, peers)
        out += npm_edges.check(packages, find, root, self.lockfile, peers)
        overrides = npm_edges.plain_overrides(root) or {}
        for folder in _link_targets(packages):
            found = self.get(folder)
            if found is not None:
                out += manifest.compare(found, packages[folder])
                out += manifest.check_met(found, find, False, peers, overrides)
        return _once(out + self._workspaces(root, root.data.get("workspaces"), recorded,
                                            packages))

    def check_v1(self, deps: list[Dependency], tree: dict[str, Any]) -> list[OutOfSync]:
        """A lockfile without ``packages``: each declared dependency against its entry,
        and each locked package's ``requires`` against theirs."""
        root = self.get("")
        if root is None:
            return []
        find = {d.path: Locked(d.path, d.version, d.resolved, d.source is Source.LINK, d.name)
                for d in deps}
        top = {k: v for k, v in find.items() if k.count("node_modules/") == 1}
        peers = not npmrc.legacy_peer_deps(self.folder)
        return _once(manifest.check_met(root, top, True, peers)
                     + npm_edges.check(tree, find, root, self.lockfile, peers))

    def _workspaces(self, root: Manifest, declared: Any, recorded: dict[str, Any],
                    packages: dict[str, Any]) -> list[OutOfSync]:
        held = recorded.get("workspaces")
        if (declared or None) != (held or None):
            return [OutOfSync("workspaces", json.dumps(declared), root.path, None,
                              "out of sync with the lockfile: package.json's workspaces "
                              f"differ from what the lockfile records: {FIX}")]
        patterns = declared.get("packages") if isinstance(declared, dict) else declared
        if not patterns:
            return []
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            return [_unread(root, str(patterns))]
        bad = [p for p in patterns if _UNREAD_GLOB.search(p.removeprefix("!"))]
        if bad:
            return [_unread(root, p) for p in bad]
        folders = self._matching(patterns)
        if folders is None:
            return [_unread(root, " ".join(patterns))]
        return [OutOfSync(f, "workspace", root.path, None,
                          f"out of sync with the lockfile: the workspaces patterns take in {f}, "
                          f"which the lockfile does not hold, so npm would install its "
                          f"dependencies unseen: {FIX}")
                for f in folders if f not in packages]

    def _matching(self, patterns: list[str]) -> list[str] | None:
        """The folders holding a package.json that the patterns take in (None: too many
        folders to walk)."""
        take = [_glob(p) for p in patterns if not p.startswith("!")]
        drop = [_glob(p[1:]) for p in patterns if p.startswith("!")]
        depth = None if any("**" in p for p in patterns) else max(
            p.strip("/").count("/") + 1 for p in patterns)
        found = []
        for walked, (top, dirs, files) in enumerate(os.walk(self.folder)):
            if walked >= _MAX_DIRS:
                return None
            rel = Path(top).relative_to(self.folder).as_posix()
            rel = "" if rel == "." else rel
            self.read.append(Path(top))
            level = rel.count("/") + 1 if rel else 0
            dirs[:] = sorted(d for d in dirs if d != "node_modules" and not d.startswith(".")
                             and (depth is None or level < depth))
            if rel and "package.json" in files and any(t.fullmatch(rel + "/") for t in take) \
                    and not any(d.fullmatch(rel + "/") for d in drop):
                found.append(rel)
        return found


def _once(found: list[OutOfSync]) -> list[OutOfSync]:
    """One report for each dependency of each package.json: the first found."""
    return list({(x.manifest, x.name): x for x in reversed(found)}.values())[::-1]


def bundle_dependencies(pkg: dict[str, Any]) -> list[str]:
    """package.json's bundleDependencies as npm normalizes it (@npmcli/package-json)."""
    bd = pkg.get("bundleDependencies")
    if bd is None:
        bd = pkg.get("bundledDependencies")
    if bd is True:
        deps = pkg.get("dependencies")
        return [n for n in deps if isinstance(n, str)] if isinstance(deps, dict) else []
    if isinstance(bd, dict):
        return list(bd)
    return [b for b in bd if isinstance(b, str)] if isinstance(bd, list) else []


def _locked(packages: dict[str, Any]) -> dict[str, Locked]:
    out = {}
    for key, entry in packages.items():
        if "node_modules/" not in key or not isinstance(entry, dict):
            continue
        link = js_truthy(entry.get("link"))
        resolved = entry.get("resolved") if isinstance(entry.get("resolved"), str) else None
        source = entry
        if link and resolved is not None:
            target = packages.get(posixpath.normpath(resolved))
            source = target if isinstance(target, dict) else {}
        version, name = source.get("version"), source.get("name")
        out[key] = Locked(key, version if isinstance(version, str) else "", resolved, link,
                          name if isinstance(name, str) and name else name_from_folder(key))
    return out


def _link_targets(packages: dict[str, Any]) -> list[str]:
    """The folders outside node_modules that links point to, whose package.json npm reads
    afresh (load-virtual.js #resolveLinks)."""
    found = []
    for entry in packages.values():
        resolved = entry.get("resolved") if isinstance(entry, dict) else None
        if not isinstance(resolved, str) or not js_truthy(entry.get("link")):
            continue
        target = posixpath.normpath(resolved)
        if target not in found and target in packages and not target.startswith("/") and (
                "node_modules" not in target.split("/")):
            found.append(target)
    return found


def _glob(pattern: str) -> re.Pattern[str]:
    """A workspaces pattern as a regular expression over ``folder/``."""
    out = ""
    for segment in pattern.removeprefix("./").strip("/").split("/"):
        if segment == "**":
            out += "(?:[^/]+/)*"
            continue
        part = re.escape(segment).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        out += part.replace(r"\[", "[").replace(r"\]", "]") + "/"
    return re.compile(out)


def _unread(root: Manifest, pattern: str) -> OutOfSync:
    return OutOfSync("workspaces", pattern, root.path, None,
                     f"cannot tell which folders the workspaces pattern {pattern!r} takes in "
                     "(braces, extglobs, dot segments): list them plainly")
