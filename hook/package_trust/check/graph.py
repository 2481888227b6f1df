"""Why a package is installed, and whether a change brought it in.

``via``: the dependency chain from what the project (or one of its workspaces) depends on
down to the package, the shortest by the lockfile's own edges: each entry's declared
dependencies, resolved as Node resolves them (npm_edges.resolve_key), through links to
the folders they point to. ``new``: whether the lockfile before the change (read by the
face, from git) held the same install: name, version, integrity and, off the registry,
its source. Neither changes a verdict; both only explain it.
"""

from __future__ import annotations

import posixpath
from collections import deque
from collections.abc import Mapping

from package_trust.check.lockfile.interface import Dependency, Lockfile, Source
from package_trust.check.lockfile.npm_edges import resolve_key
from package_trust.check.result import CheckResult, PackageResult

_MODULES = "node_modules/"

Identity = tuple[str, str, str, str, str]


def installed_name(path: str) -> str:
    """The name a package is installed under: its folder below node_modules/."""
    at = path.rfind(_MODULES)
    return path[at + len(_MODULES):] if at >= 0 else posixpath.basename(path)


def identity(dep: Dependency) -> Identity:
    """What makes two lockfile entries the same install, wherever they sit."""
    where = "" if dep.source is Source.REGISTRY else dep.resolved or dep.version
    return dep.name, dep.version, dep.source.value, dep.integrity or "", where


class Graph:
    """One lockfile's entries by install path, and each one's shortest chain."""

    def __init__(self, lf: Lockfile) -> None:
        self.entries: dict[str, Dependency] = {}
        self._at: dict[str, list[Dependency]] = {}  # a v2 file's two sections may differ
        for dep in lf.dependencies:
            self.entries.setdefault(dep.path, dep)
            self._at.setdefault(dep.path, []).append(dep)
        self._chains: dict[str, list[str]] = {}
        self._walk(self._starts(lf))

    def identity_of(self, pkg: PackageResult) -> Identity | None:
        """The identity of the entry the package was judged from, when only one entry
        at its first path can be it."""
        found = {identity(d) for d in self._at.get(pkg.paths[0] if pkg.paths else "", ())
                 if (d.name, d.version, d.integrity, d.source.value) == (
                     pkg.name, pkg.version, pkg.integrity, pkg.source)}
        return found.pop() if len(found) == 1 else None

    def chain(self, path: str) -> list[str]:
        """The names from a top-level dependency down to the package at ``path``; for a
        path the lockfile does not hold (a pin of a package's own shrinkwrap), its nearest
        holder's chain, then the folders below. Empty when nothing reaches it."""
        found = self._chains.get(path)
        if found is not None or path in self.entries:
            return list(found or [])
        below: list[str] = []
        while path not in self._chains:
            at = path.rfind("/" + _MODULES)
            if at < 0:
                return []
            below.insert(0, path[at + 1 + len(_MODULES):])
            path = path[:at]
        return self._chains[path] + below

    def _target(self, path: str) -> str:
        """The folder whose dependencies the entry at ``path`` has: a link's target."""
        dep = self.entries[path]
        if dep.source is Source.LINK and dep.resolved and _MODULES in path:
            target = posixpath.normpath(dep.resolved)
            if target in self.entries:
                return target
        return path

    def _children(self, folder: str, names: tuple[str, ...]) -> list[str]:
        found = (resolve_key(self.entries, self.entries, folder, n) for n in names)
        return [key for key in found if key is not None]

    def _starts(self, lf: Lockfile) -> list[tuple[str, list[str]]]:
        """The top-level dependencies, with their chains: the project's (and the links to
        its workspaces), then those of folders no link reaches (a workspace npm did not
        link), each named by its folder."""
        top = [p for p in self.entries
               if p.startswith(_MODULES) and _MODULES not in p[len(_MODULES):]]
        names = lf.root_requires
        if not names:  # a lockfile that does not say: what no other entry requires
            required = {c for p, d in self.entries.items() for c in self._children(p, d.requires)}
            names = tuple(installed_name(p) for p in top if p not in required) or tuple(
                installed_name(p) for p in top)
        starts = [(key, [installed_name(key)]) for key in self._children("", names)]
        links = [p for p in top if self._target(p) != p]
        starts += [(p, [installed_name(p)]) for p in links]
        linked = {self._target(p) for p in self.entries if self._target(p) != p}
        for folder, dep in self.entries.items():
            if _MODULES not in folder and folder not in linked:
                starts += [(key, [posixpath.basename(folder), installed_name(key)])
                           for key in self._children(folder, dep.requires)]
        return starts

    def _walk(self, starts: list[tuple[str, list[str]]]) -> None:
        """Breadth first: the first chain to reach an entry is a shortest one."""
        queue = deque(starts)
        while queue:
            path, chain = queue.popleft()
            if path in self._chains:
                continue
            self._chains[path] = chain
            folder = self._target(path)
            self._chains.setdefault(folder, chain)  # a link and its target: one package
            for key in self._children(folder, self.entries[folder].requires):
                if key not in self._chains:
                    queue.append((key, [*chain, installed_name(key)]))


def shortest_via(pkg: PackageResult, graph: Graph) -> list[str]:
    """The shortest chain to any of the package's install paths."""
    chains = [c for c in (graph.chain(p) for p in pkg.paths) if c]
    return min(chains, key=len, default=[])


def annotate_via(result: CheckResult, lockfiles: list[Lockfile]) -> dict[str, Graph]:
    """Fill in ``via`` for each failing package, and ``origin`` for one from outside the
    registry; the graphs, by lockfile path."""
    graphs = {str(lf.path): Graph(lf) for lf in lockfiles}
    for pkg in result.failing:
        graph = graphs.get(pkg.lockfile)
        if graph is None:
            continue
        pkg.via = shortest_via(pkg, graph)
        found = graph.identity_of(pkg) if pkg.source == Source.OTHER.value else None
        pkg.origin = found[4] if found is not None else None
    return graphs


def mark_new(result: CheckResult, graphs: Mapping[str, Graph],
             before: Mapping[str, frozenset[Identity] | None]) -> None:
    """Mark each failing package new, or already present, against the entries each
    lockfile held before (``before``: None where there is nothing to compare with). A
    package the lockfile does not hold as such (a shrinkwrap's pin, a package.json out
    of sync) is left unknown."""
    for pkg in result.failing:
        graph, old = graphs.get(pkg.lockfile), before.get(pkg.lockfile)
        found = graph.identity_of(pkg) if graph is not None and old is not None else None
        if found is not None and old is not None:
            pkg.new = found not in old
