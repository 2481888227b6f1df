"""Development scope: the lockfile entries only development needs (a policy may ask
fewer signatures of them).

npm marks them ``"dev": true`` (calc-dep-flags.js); ``devOptional`` (in both the dev and
the optional trees) is production. The mark is the lockfile's word, so an entry counts as
development here only when, besides, no production edge reaches it: from the project's
and its workspaces' ``dependencies``, ``optionalDependencies`` and ``peerDependencies``,
and from every entry the lockfile does not mark dev, then every edge of what they reach,
resolved as Node resolves them (npm never marks dev what a package not marked dev depends
on). A lockfile that marks a production package dev cannot lower what that package needs;
what cannot be read with certainty is production.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from package_trust.check.lockfile.npm_edges import resolve_key
from package_trust.check.lockfile.npm_spec import js_truthy

PRODUCTION = ("dependencies", "optionalDependencies", "peerDependencies")
_MODULES = "node_modules/"


class Unreadable(Exception):
    """An entry names its dependencies in a shape npm would not read as names."""


def marked_dev(entry: Any) -> bool:
    """Whether a lockfile entry is marked for development alone."""
    return isinstance(entry, dict) and js_truthy(entry.get("dev")) and not js_truthy(
        entry.get("devOptional"))


def production_names(entry: Any) -> list[str]:
    """The names an entry depends on in production (Unreadable: not a mapping)."""
    names: list[str] = []
    for field in PRODUCTION:
        deps = entry.get(field) if isinstance(entry, dict) else None
        if deps is None:
            continue
        if not isinstance(deps, dict):
            raise Unreadable(field)
        names += deps
    return names


def development(entries: Mapping[str, Any], root_names: Iterable[str]) -> set[str]:
    """The keys of ``entries`` (install path -> entry, as in ``packages``) marked dev that
    no production edge reaches, from the project (``root_names``: what it depends on in
    production), every folder outside node_modules (its workspaces, link targets) and
    every entry not marked dev."""
    marked = {key for key, entry in entries.items() if marked_dev(entry)}
    if not marked:
        return set()
    try:
        todo = [("", name) for name in root_names]
        todo += [(key, name) for key, entry in entries.items()
                 if key not in marked or _MODULES not in key
                 for name in production_names(entry)]
        reached: set[str] = set()
        while todo and not marked <= reached:
            folder, name = todo.pop()
            key = resolve_key(entries, entries, folder, name)
            for found in _with_target(entries, key):
                if found not in reached:
                    reached.add(found)
                    todo += [(found, n) for n in production_names(entries[found])]
    except Unreadable:
        return set()
    return marked - reached


def _with_target(entries: Mapping[str, Any], key: str | None) -> list[str]:
    """``key``, and the folder it links to when it is a link."""
    if key is None:
        return []
    entry = entries[key]
    resolved = entry.get("resolved") if isinstance(entry, dict) else None
    if js_truthy(entry.get("link") if isinstance(entry, dict) else None) and isinstance(
            resolved, str):
        target = posixpath.normpath(resolved)
        return [key, target] if target in entries else [key]
    return [key]
