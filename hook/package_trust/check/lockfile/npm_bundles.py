"""Which lockfile entries npm takes from another package's tarball instead of fetching
them: arborist's ``Node.getBundler`` and ``inDepBundle`` (node.js), read off the tree the
lockfile describes (load-virtual.js; for lockfiles older than version 2, its
``#assignBundles`` first).

npm decides from the bundler's ``bundleDependencies`` as the lockfile records it (not from
the ``inBundle`` flags) and from dependency edges; the flags only narrow what is taken as
bundled here. Whatever npm would count as bundled by the project itself, a workspace or
another folder outside ``node_modules`` (npm then installs it on its own) is not bundled.
A tree npm could read two ways (a hostile key order, entries between a package and its
``node_modules``) and a walk deeper than a real tree goes count as not bundled either.
"""

from __future__ import annotations

import posixpath
from typing import Any

from package_trust.check.lockfile.npm_spec import js_truthy

_MAX_DEPTH = 150  # getBundler's walk: parents and dependents within one another


class _Node:
    __slots__ = ("bd", "children", "deps", "edges_in", "flag", "fs_parent", "key", "name",
                 "parent", "top", "uncertain")

    def __init__(self, key: str, entry: dict[str, Any]) -> None:
        self.key, self.name = key, name_from_folder(key)
        self.flag = js_truthy(entry.get("inBundle"))
        bd = entry.get("bundleDependencies")
        self.bd = [b for b in bd if isinstance(b, str)] if isinstance(bd, list) else []
        self.deps = [n for field in ("peerDependencies", "dependencies", "optionalDependencies")
                     for n in _names(entry.get(field))]
        self.parent: _Node | None = None
        self.fs_parent: _Node | None = None
        self.children: dict[str, _Node] = {}
        self.edges_in: list[_Node] = []
        self.top = False  # outside any node_modules: the project, a workspace, a link target
        self.uncertain = False


class _TooDeep(Exception):
    pass


def name_from_folder(location: str) -> str:
    """The package folder's name, with its scope (@npmcli/name-from-folder)."""
    head, _, name = location.rpartition("/")
    scope = head.rpartition("/")[2]
    return f"{scope}/{name}" if scope.startswith("@") else name


def bundlers(entries: dict[str, dict[str, Any]], tops: dict[str, list[str]], old: bool
             ) -> dict[str, str]:
    """For each entry npm takes from a package's tarball: the location of that package.

    ``entries``: location -> lockfile entry, in the file's order, the project ("") left
    out; ``tops``: the bundleDependencies of folders outside node_modules (the project's
    from its package.json, or else the lockfile); ``old``: a lockfile before version 2.
    """
    if not any(js_truthy(e.get("inBundle")) for e in entries.values()):
        return {}  # only an entry marked inBundle is credited as bundled (below); the
        # others are judged as packages of their own
    nodes = _tree(entries, tops)
    if old:
        _assign_bundles(nodes)
    found = {}
    for node in nodes.values():
        if node.parent is None or not node.flag or node.uncertain:
            continue
        try:
            bundler = _get_bundler(node, set(), 0)
        except _TooDeep:
            continue
        if bundler is not None and not bundler.top and not bundler.uncertain:
            found[node.key] = bundler.key
    return found


def _tree(entries: dict[str, dict[str, Any]], tops: dict[str, list[str]]) -> dict[str, _Node]:
    links = {k for k, e in entries.items() if js_truthy(e.get("link"))}
    nodes = {"": _Node("", {})}
    for key, entry in entries.items():
        if key and key not in links:
            nodes[key] = _Node(key, entry)
    for key, node in nodes.items():
        above = parent_key(key)
        if above is not None and above in nodes:
            node.parent = parent = nodes[above]
            parent.children[node.name] = node
            node.uncertain = any(k in nodes or k in links for k in _between(above, key))
        elif key:
            node.top, node.fs_parent = True, _fs_parent(key, nodes)
    nodes[""].top = True
    for key, bd in tops.items():
        if key in nodes:
            nodes[key].bd = sorted({*nodes[key].bd, *bd})
    for node in nodes.values():
        if node.top:  # what the project or a folder of its own may bundle: never covered
            node.bd = sorted({*node.bd, *(c.name for c in node.children.values() if c.flag)})
        for name in node.deps if node.parent is not None else ():
            to = _resolve(node, name)
            if to is not None:
                to.edges_in.append(node)
    return nodes


def parent_key(key: str) -> str | None:
    """Where the package that has this one in its node_modules would be."""
    suffix = "node_modules/" + name_from_folder(key)
    if key == suffix:
        return ""
    return key[: -len(suffix) - 1] if key.endswith("/" + suffix) else None


def _between(parent_key: str, key: str) -> list[str]:
    """Folders between a package and its child (``node_modules``, a scope)."""
    out, folder = [], posixpath.dirname(key)
    while folder and folder != parent_key:
        out.append(folder)
        folder = posixpath.dirname(folder)
    return out


def _fs_parent(key: str, nodes: dict[str, _Node]) -> _Node:
    folder = posixpath.dirname(key)
    while folder and folder not in nodes:
        folder = posixpath.dirname(folder)
    return nodes.get(folder) or nodes[""]


def _resolve(node: _Node, name: str) -> _Node | None:
    """Node.resolve: the package by that name the node's require() finds."""
    at: _Node | None = node
    for _ in range(_MAX_DEPTH):
        if at is None:
            return None
        if name in at.children:
            return at.children[name]
        at = at.parent or at.fs_parent
    return None


def _assign_bundles(nodes: dict[str, _Node]) -> None:
    """load-virtual.js #assignBundles: an old lockfile's bundled flags become the
    parent's bundleDependencies, where the parent depends on the package."""
    for node in nodes.values():
        parent = node.parent
        if parent is None or not node.flag or parent.flag or parent.top:
            continue
        if node.name in parent.deps and node.name not in parent.bd:
            parent.bd.append(node.name)


def _get_bundler(node: _Node, path: set[_Node], depth: int) -> _Node | None:
    """Node.getBundler, with its one ``path`` of nodes seen shared by the whole walk."""
    if depth > _MAX_DEPTH:
        raise _TooDeep
    if node in path:
        return None
    path.add(node)
    parent = node.parent
    if parent is None:
        return None
    found = _get_bundler(parent, path, depth + 1)
    if found is not None:
        return found
    if node.name in parent.bd:
        return parent
    for source in node.edges_in:
        if _get_bundler(source, path, depth + 1) is parent:
            return parent
    return None


def _names(deps: Any) -> list[str]:
    return [n for n in deps if isinstance(n, str)] if isinstance(deps, dict) else []
