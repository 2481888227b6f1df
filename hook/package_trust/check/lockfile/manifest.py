"""package.json against the lockfile, as npm holds them: ``npm ci`` refuses a project whose
package.json the lockfile does not satisfy, and ``npm install`` fetches afresh whatever it
does not, which the check never saw.

Each package.json npm reads (the project's, each workspace's and each linked folder's: the
lockfile's entries outside node_modules) must declare what the lockfile records of it
(lockfileVersion 2 and 3: arborist's load-virtual.js #checkRootEdges), and each dependency
it declares must be met by the entry npm resolves it to, as arborist's dep-valid.js judges
(lockfileVersion 1, which records no package.json: that alone). What cannot be judged
here with certainty is reported too: the check fails closed.
"""

import json
import posixpath
import re
from pathlib import Path
from typing import Any, NamedTuple

from package_trust.check import safejson
from package_trust.check.lockfile import semver
from package_trust.check.lockfile.interface import OutOfSync
from package_trust.check.lockfile.npm_spec import js_truthy, local_target, resolve_spec
from package_trust.errors import LockfileError

FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
FIX = "run npm install --package-lock-only, and commit the lockfile"


class Manifest(NamedTuple):
    path: Path
    folder: str  # where it is, relative to the lockfile's folder ("" for the project)
    declared: dict[str, dict[str, str]]  # field -> name -> spec, normalized as npm does
    optional_peers: frozenset[str]
    text: str
    data: dict[str, Any]  # the whole package.json


class Locked(NamedTuple):
    """What npm makes of the entry a dependency resolves to."""

    key: str
    version: str
    resolved: str | None
    link: bool
    name: str  # the real package name (an alias's)


def read(path: Path, folder: str) -> Manifest | None:
    """The package.json at ``path``, or None if there is none; LockfileError if npm could
    not read it either (it then installs nothing)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise LockfileError(f"cannot read package.json: {e}", path) from None
    try:
        data = safejson.loads(text.removeprefix("\ufeff"))
    except safejson.JsonError as e:
        raise LockfileError(f"not valid JSON: {e.msg}", path, e.lineno) from None
    if not isinstance(data, dict):
        raise LockfileError("package.json must be a JSON object", path, 1)
    declared = {}
    for field in FIELDS:
        deps = data.get(field)
        if deps is None:
            deps = {}
        if not isinstance(deps, dict) or not all(isinstance(v, str) for v in deps.values()):
            raise LockfileError(f'"{field}" must map package names to strings', path,
                                _line(text, field))
        declared[field] = dict(deps)
    for name in declared["optionalDependencies"]:  # PackageJson.normalize: optionalDedupe
        declared["dependencies"].pop(name, None)
    meta = data.get("peerDependenciesMeta")
    optional = frozenset(n for n, m in meta.items() if isinstance(m, dict) and js_truthy(
        m.get("optional"))) if isinstance(meta, dict) else frozenset()
    return Manifest(path, folder, declared, optional, text, data)


def compare(m: Manifest, recorded: dict[str, Any]) -> list[OutOfSync]:
    """What package.json declares against what the lockfile records of it."""
    out = []
    optional = recorded.get("optionalDependencies")
    for field in FIELDS:
        declared, held = m.declared[field], recorded.get(field)
        held = dict(held) if isinstance(held, dict) else {}
        if field == "dependencies" and isinstance(optional, dict):  # as #checkRootEdges does
            held = {n: s for n, s in held.items() if n not in optional}
        for name, spec in declared.items():
            if held.get(name) != spec:
                was = f"{name}@{held[name]}" if isinstance(held.get(name), str) else "nothing"
                out.append(_problem(m, field, name, spec,
                                    f"package.json asks for {name}@{spec} ({field}); the "
                                    f"lockfile records {was}"))
        for name in held:
            if name not in declared:
                out.append(OutOfSync(name, str(held[name]), m.path, _line(m.text, field),
                                     f"the lockfile records {name} in {field}, which "
                                     f"package.json no longer declares: {FIX}"))
    return out


def check_met(m: Manifest, find: dict[str, Locked], v1: bool, peers: bool,
              overrides: dict[str, str] | None = None) -> list[OutOfSync]:
    """Each declared dependency against the entry npm resolves it to (dep-valid.js);
    ``peers``: peer dependencies too (no ``legacy-peer-deps``); ``overrides`` (the
    project's) replace the specs of a workspace's dependencies."""
    out = []
    for field in FIELDS if peers else [f for f in FIELDS if f != "peerDependencies"]:
        for name, spec in m.declared[field].items():
            if field == "peerDependencies" and name in m.optional_peers:
                continue  # an optional peer: npm installs none that is missing
            # an override is read from the project's folder (arborist's from-path.js)
            overridden = bool(m.folder) and name in (overrides or {})
            spec = (overrides or {})[name] if overridden else spec
            base = "" if overridden else m.folder
            entry = _resolve(find, m.folder, name)
            problem: str | None
            if entry is None:
                problem = (f"package.json declares {name}@{spec} ({field}), which the "
                           "lockfile holds no entry for: npm would fetch one unseen")
            else:
                problem = unmet(entry, spec, base, v1, base)
                if problem is None:
                    continue
            out.append(_problem(m, field, name, spec, problem))
    return out


def _resolve(find: dict[str, Locked], folder: str, name: str) -> Locked | None:
    """The entry a folder's require(name) reaches: its node_modules, then its parents'."""
    while True:
        entry = find.get(f"{folder}/node_modules/{name}" if folder else f"node_modules/{name}")
        if entry is not None or folder in ("", "."):
            return entry
        folder = posixpath.dirname(folder)


def unmet(entry: Locked, spec: str, folder: str, v1: bool, tarballs: str | None
          ) -> str | None:
    """Why the entry does not meet ``spec`` (asked for from ``folder``, relative to the
    lockfile's, a ``file:`` tarball from ``tarballs``; None: not known), or None if it
    does (dep-valid.js)."""
    what = resolve_spec(spec)
    found = f"the lockfile's {entry.name}@{entry.version or '?'} ({entry.key})"
    if what.kind in ("registry", "alias"):
        if what.kind == "alias" and entry.name != what.name:
            return f"{found} is not {what.name}, which package.json asks for"
        if what.target == "*":
            return None
        if semver.parse_range(what.target) is None:  # a dist-tag
            ok = entry.resolved is not None and resolve_spec(entry.resolved).kind == "remote"
            return None if ok else f"{found} is not from a registry tarball"
        met = semver.satisfies(entry.version, what.target)
        if met is None:
            return f"cannot tell whether {found} satisfies {spec}"
        return None if met else f"{found} does not satisfy {spec}"
    want, base = local_target(what), tarballs if what.kind == "file" else folder
    if want is not None and base is not None:
        want = posixpath.normpath(posixpath.join(base, want))
    else:
        want = None
    if what.kind == "directory":
        ok = entry.link and want is not None and posixpath.normpath(entry.resolved or "") == want
        return None if ok else f"{found} is not a link to {spec}"
    if what.kind == "file" and not v1:  # the tarball it was resolved from, the same file
        have = resolve_spec(entry.resolved or "")
        ok = not entry.link and want is not None and have.kind == "file" and (
            local_target(have) == want)
        return None if ok else f"{found} is not from the tarball {spec}"
    if what.kind == "remote":
        return None if entry.resolved == spec else f"{found} does not come from {spec}"
    if what.kind == "git" and not v1:
        return None  # the lockfile records the spec (compare); the entry is unverifiable
    return f"cannot tell whether {found} is what {spec} asks for"


def _problem(m: Manifest, field: str, name: str, spec: str, why: str) -> OutOfSync:
    return OutOfSync(name, spec, m.path, _line(m.text, field, name),
                     f"out of sync with the lockfile: {why}: {FIX}")


def _line(text: str, field: str, name: str | None = None) -> int | None:
    """The line of ``"field": {`` in package.json, or of ``"name":`` within it."""
    found = re.search(re.escape(json.dumps(field)) + r"\s*:\s*\{", text)
    if found is None:
        return None
    at = found.start()
    if name is not None:
        key = re.compile(re.escape(json.dumps(name, ensure_ascii=False)) + r"\s*:")
        inner = key.search(text, found.end())
        at = inner.start() if inner else at
    return text.count("\n", 0, at) + 1
