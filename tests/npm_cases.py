"""The packages the differential tests publish and audit, and the projects they install.

``build_universe`` publishes every tarball on the local registry and signs, with one test
key, a statement for each honest one (with the ``bundled`` and ``shrinkwrap`` fields where
the case needs them). Each ``Case`` writes one project: package.json, lockfiles, policy
exemptions, files on disk. Hostile cases are lockfiles an attacker could commit; honest
ones are lockfiles npm itself writes (``npm install --package-lock-only``).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npm_harness import sha512_b64
from npm_registry import NpmRegistry, package_tgz, tarball_files, tarball_name
from support import Auditors, Key, integrity_of

NPMJS = "https://registry.npmjs.org/"  # npm fetches what it names from the configured registry
Files = dict[str, Any]  # path in the project -> text, bytes, or a JSON value


@dataclass
class Spec:
    """One tarball: name@version, a ``variant`` of it (other bytes under the same name and
    version, served at a path of the registry's layout), and whether the ledger audits it."""

    name: str
    version: str
    variant: str = ""
    audited: bool = True
    manifest: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    verdict: str = "audited"
    new_fields: bool = True  # the statement records ``bundled`` and ``shrinkwrap``

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}" + (f"#{self.variant}" if self.variant else "")


@dataclass
class Universe:
    """Every tarball the registry serves, by spec key."""

    tarballs: dict[str, bytes]
    paths: dict[str, str]  # below the registry's URL
    audited: set[str]  # sha512 (base64) of every tarball the ledger audits


def _specs() -> list[Spec]:
    inner = {"node_modules/inner/package.json":
             json.dumps({"name": "inner", "version": "1.0.0"}).encode(),
             "node_modules/inner/index.js": b"module.exports = 'inner, bundled';\n"}
    return [
        Spec("left-pad", "1.2.0"),
        Spec("left-pad", "1.3.0"),
        Spec("left-pad", "1.4.0", audited=False),
        Spec("left-pad", "1.3.0", "evil", audited=False),
        Spec("a", "1.0.0"),
        Spec("a", "1.0.1", audited=False),
        Spec("evil", "1.0.0", audited=False),
        Spec("@scope/pkg", "1.0.0"),
        Spec("bundler", "1.0.0", manifest={"dependencies": {"a": "^1.0.0"}}),
        Spec("bundler-old", "1.0.0", manifest={"dependencies": {"a": "^1.0.0"}},
             new_fields=False),
        Spec("real-bundle", "1.0.0", files=inner,
             manifest={"dependencies": {"inner": "^1.0.0"}, "bundleDependencies": ["inner"]}),
        Spec("bundle-and-dep", "1.0.0", files=inner,
             manifest={"dependencies": {"inner": "^1.0.0", "a": "^1.0.0"},
                       "bundleDependencies": ["inner"]}),
        Spec("swp", "1.0.0", manifest={"dependencies": {"a": "^1.0.0"}}),  # pins a@1.0.0
        Spec("sw-pins", "1.0.0", manifest={"dependencies": {"a": "^1.0.0"}}),  # a@1.0.1
        Spec("sw-old", "1.0.0", manifest={"dependencies": {"a": "^1.0.0"}}, new_fields=False),
        Spec("plat-main", "1.0.0",
             manifest={"optionalDependencies": {"plat-linux": "1.0.0", "plat-win": "1.0.0"}}),
        Spec("plat-linux", "1.0.0", manifest={"os": ["linux"]}),
        Spec("plat-win", "1.0.0", manifest={"os": ["win32"], "cpu": ["x64"]}),
        Spec("peer-host", "1.0.0"),
        Spec("peer-plugin", "1.0.0", manifest={"peerDependencies": {"peer-host": "^1.0.0"}}),
        Spec("evil-peer-plugin", "1.0.0", manifest={"peerDependencies": {"evil": "^1.0.0"}}),
        Spec("uses-old-lp", "1.0.0", manifest={"dependencies": {"left-pad": "1.2.0"}}),
        Spec("exempted", "1.0.0", audited=False),
        Spec("exempted", "1.0.0", "b", audited=False),
        Spec("rejected-pkg", "1.0.0", audited=False, verdict="rejected"),
    ]


SHRINKWRAPS = {"swp": "a@1.0.0", "sw-pins": "a@1.0.1", "sw-old": "a@1.0.1"}


def _tarball(spec: Spec, pins: dict[str, Any] | None) -> bytes:
    manifest = {"name": spec.name, "version": spec.version, **spec.manifest}
    label = spec.key
    files = {"index.js": f"module.exports = {json.dumps(label)};\n".encode(), **spec.files}
    if pins is not None:
        files["npm-shrinkwrap.json"] = json.dumps(pins, indent=2).encode()
    return package_tgz(manifest, files)


def _shrinkwrap(spec: Spec, pin_key: str, u: Universe) -> dict[str, Any]:
    name, version = pin_key.split("@")
    deps = spec.manifest.get("dependencies", {})
    return {"name": spec.name, "version": spec.version, "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": spec.name, "version": spec.version, "dependencies": deps},
                         f"node_modules/{name}": {
                             "version": version, "resolved": NPMJS + u.paths[pin_key],
                             "integrity": integrity_of(u.tarballs[pin_key])}}}


def statement_fields(tarball: bytes) -> dict[str, Any]:
    """``bundled`` and ``shrinkwrap``, as ``sign`` records them for this tarball."""
    files = tarball_files(tarball)
    bundled = []
    for path in sorted(files):
        if path.startswith("node_modules/") and path.endswith("/package.json"):
            manifest = json.loads(files[path])
            bundled.append({"path": path.removesuffix("/package.json"),
                            "name": manifest.get("name"), "version": manifest.get("version")})
    shrinkwrap = None
    if "npm-shrinkwrap.json" in files:
        packages = json.loads(files["npm-shrinkwrap.json"]).get("packages", {})
        shrinkwrap = [{"path": k, "name": v.get("name") or k.rsplit("node_modules/", 1)[-1],
                       "version": v.get("version"), "integrity": v.get("integrity"),
                       "resolved": v.get("resolved")} for k, v in packages.items() if k]
    return {"bundled": bundled, "shrinkwrap": shrinkwrap}


def build_universe(registry: NpmRegistry, auditors: Auditors, key: Key,
                   ledger: Path) -> Universe:
    """Publish every tarball; sign the honest ones into ``ledger`` (keys/, signatures/)."""
    u = Universe({}, {}, set())
    specs = _specs()
    for spec in sorted(specs, key=lambda s: s.name in SHRINKWRAPS):  # pinned ones first
        pins = _shrinkwrap(spec, SHRINKWRAPS[spec.name], u) if spec.name in SHRINKWRAPS else None
        data = _tarball(spec, pins)
        u.tarballs[spec.key] = data
        if spec.variant:
            base = tarball_name(spec.name, spec.version).removesuffix(".tgz")
            u.paths[spec.key] = f"{spec.name}/-/{base}-{spec.variant}.tgz"
            registry.put(u.paths[spec.key], data)
        else:
            registry.publish_package(data, {"name": spec.name, "version": spec.version,
                                            **spec.manifest})
            u.paths[spec.key] = registry.tarball_path(spec.name, spec.version).lstrip("/")
        if spec.audited:
            u.audited.add(sha512_b64(data))
        if spec.audited or spec.verdict != "audited":
            extra = statement_fields(data) if spec.new_fields else {}
            text = auditors.statement(key, spec.name, spec.version, integrity_of(data),
                                      verdict=spec.verdict, **extra)
            folder = ledger / "signatures" / spec.name / spec.version
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{key.fingerprint}.sig").write_bytes(text)
    registry.put("files/evil.tgz", u.tarballs["evil@1.0.0"])
    (ledger / "keys").mkdir(exist_ok=True)
    (ledger / "keys" / f"{key.fingerprint}.asc").write_bytes(auditors.export(key))
    return u


@dataclass
class Ctx:
    """What a case needs to write its project: the universe, this run's registry URLs."""

    u: Universe
    registry: str  # this run's registry (npm --registry, NPM_CONFIG_REGISTRY)
    other: str  # another host serving the same paths
    work: Path  # a scratch folder outside the project

    def integrity(self, key: str) -> str:
        return integrity_of(self.u.tarballs[key])

    def sha512(self, key: str) -> str:
        return self.integrity(key).removeprefix("sha512-")

    def resolved(self, key: str, host: str = NPMJS) -> str:
        return host + self.u.paths[key]

    def entry(self, key: str, **extra: Any) -> dict[str, Any]:
        """A lockfile entry for the tarball ``key``, as npm writes one."""
        version = key.split("#")[0].rsplit("@", 1)[1]
        return {"version": version, "resolved": self.resolved(key),
                "integrity": self.integrity(key), **extra}

    def git_repo(self, key: str) -> str:
        """A git repository holding the package ``key``: its git+file URL, at its commit."""
        repo = self.work / "git" / re.sub(r"[^a-z0-9.-]", "-", key)
        repo.mkdir(parents=True)
        for path, data in tarball_files(self.u.tarballs[key]).items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_bytes(data)
        env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo)}

        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=repo, env=env, check=True,
                                  capture_output=True, text=True).stdout.strip()

        git("init", "-q")
        git("add", ".")
        git("-c", "user.name=x", "-c", "user.email=x@example.org", "commit", "-qm", "x")
        return f"git+file://{repo}#{git('rev-parse', 'HEAD')}"


def package_json(deps: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "demo", "version": "1.0.0"}
    if deps:
        body["dependencies"] = deps
    return {**body, **extra}


def lock(deps: dict[str, str], packages: dict[str, Any], version: Any = 3,
         legacy: dict[str, Any] | None = None, root: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    """A lockfile with ``packages`` (the root entry made from ``deps``) and, given
    ``legacy``, a v1-style ``dependencies`` section."""
    top = {"name": "demo", "version": "1.0.0", **({"dependencies": deps} if deps else {}),
           **(root or {})}
    data: dict[str, Any] = {"name": "demo", "version": "1.0.0", "lockfileVersion": version,
                            "requires": True, "packages": {"": top, **packages}}
    if legacy is not None:
        data["dependencies"] = legacy
    return data


def lock_v1(dependencies: dict[str, Any]) -> dict[str, Any]:
    return {"name": "demo", "version": "1.0.0", "lockfileVersion": 1, "requires": True,
            "dependencies": dependencies}


def exemption(package: str, **extra: str) -> str:
    lines = [f'  - package: "{package}"', "    reason: differential test"]
    lines += [f"    {k}: {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Case:
    """One project, checked and then installed by npm.

    ``real``: npm really installs a tarball the ledger does not audit (a hostile case that
    is not vacuous). ``generate``: npm commands run in the project before the check (an
    honest lockfile, made by npm). ``first``: checks run before ``then`` rewrites files
    (the result cache); ``check``: the arguments of the check judged.
    """

    id: str
    about: str
    build: Callable[[Ctx], Files]
    honest: bool = False
    real: bool = True
    npm: tuple[str, ...] = ("ci",)
    check: tuple[str, ...] = ()
    generate: tuple[tuple[str, ...], ...] = ()
    exemptions: Callable[[Ctx], str] | None = None
    first: tuple[tuple[str, ...], ...] = ()
    then: Callable[[Ctx], Files] | None = None
    cache: bool = False


# --- building blocks ----------------------------------------------------------------------

LP, LP_EVIL = "left-pad@1.3.0", "left-pad@1.3.0#evil"


def one(ctx: Ctx, name: str, key: str, **extra: Any) -> Files:
    """A project depending on ``name``, locked to the tarball ``key``."""
    version = key.split("#")[0].rsplit("@", 1)[1]
    return {"package.json": package_json({name: version}),
            "package-lock.json": lock({name: version},
                                      {f"node_modules/{name}": ctx.entry(key, **extra)})}


def honest_lp(ctx: Ctx) -> Files:
    return one(ctx, "left-pad", LP)


def evil_lp(ctx: Ctx) -> Files:
    return one(ctx, "left-pad", LP_EVIL)


def duplicate(data: dict[str, Any], marker: str = "__DUP") -> str:
    """The JSON text of ``data`` with every key ending in ``marker`` written as a duplicate."""
    return json.dumps(data, indent=2).replace(marker + '"', '"')


# --- (1) bundled entries under a package whose tarball does not ship them ------------------

def bundled_v3(parent: str = "bundler", resolved: bool = True, integrity: bool = True,
               version: str = "1.0.1") -> Callable[[Ctx], Files]:
    def build(ctx: Ctx) -> Files:
        child: dict[str, Any] = {"version": version, "inBundle": True}
        if resolved:
            child["resolved"] = ctx.resolved(f"a@{version}")
        if integrity:
            child["integrity"] = ctx.integrity(f"a@{version}")
        packages: dict[str, Any] = {}
        if parent == "bundle-and-dep":  # ships inner, depends on a too
            packages[f"node_modules/{parent}"] = ctx.entry(
                f"{parent}@1.0.0", bundleDependencies=["inner"],
                dependencies={"inner": "^1.0.0", "a": "^1.0.0"})
            packages[f"node_modules/{parent}/node_modules/inner"] = {"version": "1.0.0",
                                                                     "inBundle": True}
        else:
            packages[f"node_modules/{parent}"] = ctx.entry(
                f"{parent}@1.0.0", dependencies={"a": "^1.0.0"})
        packages[f"node_modules/{parent}/node_modules/a"] = child
        return {"package.json": package_json({parent: "1.0.0"}),
                "package-lock.json": lock({parent: "1.0.0"}, packages)}
    return build


def bundled_other_version(ctx: Ctx) -> Files:
    """The lockfile says real-bundle ships inner@1.0.1; its tarball ships inner@1.0.0."""
    packages = {"node_modules/real-bundle": ctx.entry(
                    "real-bundle@1.0.0", bundleDependencies=["inner"],
                    dependencies={"inner": "^1.0.0"}),
                "node_modules/real-bundle/node_modules/inner": {"version": "1.0.1",
                                                                "inBundle": True}}
    return {"package.json": package_json({"real-bundle": "1.0.0"}),
            "package-lock.json": lock({"real-bundle": "1.0.0"}, packages)}


def bundled_legacy(ctx: Ctx, resolved: bool = True) -> dict[str, Any]:
    child: dict[str, Any] = {"version": "1.0.1", "bundled": True}
    if resolved:
        child.update(resolved=ctx.resolved("a@1.0.1"), integrity=ctx.integrity("a@1.0.1"))
    return {"bundler": {**ctx.entry("bundler@1.0.0"), "requires": {"a": "^1.0.0"},
                        "dependencies": {"a": child}}}


def bundled_v2(ctx: Ctx) -> Files:
    files = bundled_v3()(ctx)
    data = files["package-lock.json"]
    data["lockfileVersion"] = 2
    data["dependencies"] = bundled_legacy(ctx)
    return files


def bundled_dependencies_only(version: int) -> Callable[[Ctx], Files]:
    """A version 2 or 3 lockfile with only the version 1 section: npm turns bundled flags
    into bundles only in a file that says it is version 1, so it fetches inner from its
    own resolved (evil's tarball)."""
    def build(ctx: Ctx) -> Files:
        inner = {"version": "1.0.0", "bundled": True, "resolved": ctx.resolved("evil@1.0.0"),
                 "integrity": ctx.integrity("evil@1.0.0")}
        data = lock_v1({"real-bundle": {**ctx.entry("real-bundle@1.0.0"),
                                        "requires": {"inner": "^1.0.0"},
                                        "dependencies": {"inner": inner}}})
        data["lockfileVersion"] = version
        return {"package.json": package_json({"real-bundle": "1.0.0"}),
                "package-lock.json": data}
    return build


def bundled_v1(resolved: bool) -> Callable[[Ctx], Files]:
    def build(ctx: Ctx) -> Files:
        return {"package.json": package_json({"bundler": "1.0.0"}),
                "package-lock.json": lock_v1(bundled_legacy(ctx, resolved))}
    return build


# --- (2) `packages` in a file whose lockfileVersion says 1 ---------------------------------

def lockfile_version(version: Any, dup: bool = False) -> Callable[[Ctx], Files]:
    def build(ctx: Ctx) -> Files:
        data = lock({"left-pad": "1.3.0"}, {"node_modules/left-pad": ctx.entry(LP_EVIL)},
                    version=3 if dup else version,
                    legacy={"left-pad": ctx.entry(LP)})
        if dup:
            data["lockfileVersion__DUP"] = version
            return {"package.json": package_json({"left-pad": "1.3.0"}),
                    "package-lock.json": duplicate(data)}
        if version is None:
            del data["lockfileVersion"]
        return {"package.json": package_json({"left-pad": "1.3.0"}), "package-lock.json": data}
    return build


# --- (3) npm-shrinkwrap.json beside package-lock.json -------------------------------------

def shrinkwrap_beside(ctx: Ctx) -> Files:
    return {**honest_lp(ctx), "npm-shrinkwrap.json": evil_lp(ctx)["package-lock.json"]}


def shrinkwrap_v1_beside(ctx: Ctx) -> Files:
    return {**honest_lp(ctx),
            "npm-shrinkwrap.json": lock_v1({"left-pad": ctx.entry(LP_EVIL)})}


def shrinkwrap_unreadable_beside(ctx: Ctx) -> Files:
    """npm reads the shrinkwrap, fails, and resolves package.json afresh (npm install)."""
    files = honest_lp(ctx)
    files["package.json"] = package_json({"left-pad": "^1.3.0"})
    files["package-lock.json"]["packages"][""]["dependencies"] = {"left-pad": "^1.3.0"}
    return {**files, "npm-shrinkwrap.json": "{ not json"}


# --- (4) integrity strings npm reads otherwise --------------------------------------------

def integrity(form: Callable[[str, str], str], key: str = LP_EVIL,
              raw: Any = None) -> Callable[[Ctx], Files]:
    def build(ctx: Ctx) -> Files:
        files = one(ctx, "left-pad", key)
        entry = files["package-lock.json"]["packages"]["node_modules/left-pad"]
        entry["integrity"] = raw if raw is not None else form(ctx.integrity(LP),
                                                             ctx.integrity(LP_EVIL))
        return files
    return build


def sha3_of_evil(ctx: Ctx) -> str:
    import base64
    import hashlib

    return "sha3-512-" + base64.b64encode(
        hashlib.sha3_512(ctx.u.tarballs[LP_EVIL]).digest()).decode()


def integrity_sha3(ctx: Ctx) -> Files:
    files = one(ctx, "left-pad", LP)
    entry = files["package-lock.json"]["packages"]["node_modules/left-pad"]
    entry["integrity"] = f"{ctx.integrity(LP)} {sha3_of_evil(ctx)}"
    return files


def integrity_array(ctx: Ctx) -> Files:
    files = one(ctx, "left-pad", LP_EVIL)
    entry = files["package-lock.json"]["packages"]["node_modules/left-pad"]
    entry["integrity"] = [ctx.integrity(LP), ctx.integrity(LP_EVIL)]
    return files


# --- (5) hasShrinkwrap: the tarball's own npm-shrinkwrap.json decides ---------------------

def has_shrinkwrap(parent: str, flag: bool = True) -> Callable[[Ctx], Files]:
    def build(ctx: Ctx) -> Files:
        extra: dict[str, Any] = {"dependencies": {"a": "^1.0.0"}}
        if flag:
            extra["hasShrinkwrap"] = True
        packages = {f"node_modules/{parent}": ctx.entry(f"{parent}@1.0.0", **extra),
                    f"node_modules/{parent}/node_modules/a": ctx.entry("a@1.0.0")}
        return {"package.json": package_json({parent: "1.0.0"}),
                "package-lock.json": lock({parent: "1.0.0"}, packages)}
    return build


def has_shrinkwrap_v1(ctx: Ctx) -> Files:
    return {"package.json": package_json({"sw-pins": "1.0.0"}),
            "package-lock.json": lock_v1({"sw-pins": {
                **ctx.entry("sw-pins@1.0.0"), "requires": {"a": "^1.0.0"},
                "dependencies": {"a": ctx.entry("a@1.0.0")}}})}


# --- (6) file: tarballs (npm ci refuses a v1 file: entry: it has no version) ----------

def file_v1(on_disk: str) -> Callable[[Ctx], Files]:
    def build(ctx: Ctx) -> Files:
        spec = f"file:{on_disk}"
        return {on_disk: ctx.u.tarballs["evil@1.0.0"],
                "package.json": package_json({"evil": spec}),
                "package-lock.json": lock_v1({"evil": {
                    "version": spec, "integrity": ctx.integrity("evil@1.0.0")}})}
    return build


def file_v3(ctx: Ctx) -> Files:
    spec = "file:evil.TGZ"
    return {"evil.TGZ": ctx.u.tarballs["evil@1.0.0"],
            "package.json": package_json({"evil": spec}),
            "package-lock.json": lock({"evil": spec}, {"node_modules/evil": {
                "version": "1.0.0", "resolved": spec,
                "integrity": ctx.integrity("evil@1.0.0")}})}


# --- (7) package.json asks for what the lockfile does not hold (npm install) ---------------

def manifest_adds(**manifest: Any) -> Callable[[Ctx], Files]:
    def build(ctx: Ctx) -> Files:
        files = honest_lp(ctx)
        body = files["package.json"]
        for k, v in manifest.items():
            body[k] = {**body.get(k, {}), **v} if isinstance(v, dict) else v
        return files
    return build


def workspace_adds(ctx: Ctx) -> Files:
    packages = {"node_modules/w": {"resolved": "packages/w", "link": True},
                "packages/w": {"name": "w", "version": "1.0.0"}}
    return {"package.json": package_json(workspaces=["packages/w"]),
            "packages/w/package.json": {"name": "w", "version": "1.0.0",
                                        "dependencies": {"evil": "1.0.0"}},
            "package-lock.json": lock({}, packages, root={"workspaces": ["packages/w"]})}


def overrides(ctx: Ctx) -> Files:
    packages = {"node_modules/uses-old-lp": ctx.entry("uses-old-lp@1.0.0",
                                                      dependencies={"left-pad": "1.2.0"}),
                "node_modules/left-pad": ctx.entry("left-pad@1.2.0")}
    return {"package.json": package_json({"uses-old-lp": "1.0.0"},
                                         overrides={"left-pad": "1.4.0"}),
            "package-lock.json": lock({"uses-old-lp": "1.0.0"}, packages)}


def not_json_for_npm(ctx: Ctx) -> Files:
    """NaN: Python's json reads it, JavaScript's JSON.parse does not."""
    files = honest_lp(ctx)
    files["package.json"] = package_json({"left-pad": "^1.3.0"})
    data = files["package-lock.json"]
    data["packages"][""]["dependencies"] = {"left-pad": "^1.3.0"}
    text = json.dumps(data, indent=2).replace('"requires": true', '"requires": NaN')
    return {**files, "package-lock.json": text}


# --- (9) exemptions -------------------------------------------------------------------------

def exempted_at(ctx: Ctx, entry: dict[str, Any], spec: str = "1.0.0") -> Files:
    return {"package.json": package_json({"exempted": spec}),
            "package-lock.json": lock({"exempted": spec}, {"node_modules/exempted": entry})}


def exempt_other_host(ctx: Ctx) -> Files:
    key = "exempted@1.0.0#b"
    return exempted_at(ctx, {**ctx.entry(key), "resolved": ctx.resolved(key, ctx.other)})


def exempt_git(ctx: Ctx) -> Files:
    url = ctx.git_repo("exempted@1.0.0#b")
    return exempted_at(ctx, {"version": "1.0.0", "resolved": url}, url)


def exempted_from(url: Callable[[Ctx], str], key: str = "evil@1.0.0") -> Callable[[Ctx], Files]:
    """exempted@1.0.0 resolved to ``url`` (a path npm normalises), with ``key``'s bytes."""
    def build(ctx: Ctx) -> Files:
        return exempted_at(ctx, {"version": "1.0.0", "resolved": url(ctx),
                                 "integrity": ctx.integrity(key)})
    return build


def userinfo_host(ctx: Ctx) -> str:
    """registry.npmjs.org as the user name of a URL whose host is another."""
    return ctx.resolved("exempted@1.0.0#b", ctx.other.replace("://", "://registry.npmjs.org@"))


def exempt_source(ctx: Ctx) -> str:
    return exemption("exempted@1.0.0", source=ctx.git_repo("exempted@1.0.0"))


VENDORED = "file:vendor/exempted-1.0.0.tgz"


def vendored(key: str) -> Callable[[Ctx], Files]:
    """A tarball on disk (``key``'s bytes) that package.json asks for as VENDORED."""
    def build(ctx: Ctx) -> Files:
        return {VENDORED.removeprefix("file:"): ctx.u.tarballs[key],
                "package.json": package_json({"exempted": VENDORED, "left-pad": "1.3.0"})}
    return build


def vendored_locked(key: str) -> Callable[[Ctx], Files]:
    """The same, locked by hand: the entry resolved from VENDORED, with ``key``'s integrity."""
    def build(ctx: Ctx) -> Files:
        deps = {"exempted": VENDORED, "left-pad": "1.3.0"}
        return {**vendored(key)(ctx), "package-lock.json": lock(deps, {
            "node_modules/exempted": {"version": "1.0.0", "resolved": VENDORED,
                                      "integrity": ctx.integrity(key)},
            "node_modules/left-pad": ctx.entry(LP)})}
    return build


def exempt_vendored(ctx: Ctx) -> str:
    return exemption("exempted@1.0.0", source=VENDORED,
                     integrity=ctx.integrity("exempted@1.0.0"))


# --- variants from npm's code ----------------------------------------------------------------

def dup_entry(ctx: Ctx) -> Files:
    data = lock({"left-pad": "1.3.0"}, {"node_modules/left-pad": ctx.entry(LP),
                                        "node_modules/left-pad__DUP": ctx.entry(LP_EVIL)})
    return {"package.json": package_json({"left-pad": "1.3.0"}),
            "package-lock.json": duplicate(data)}


def dup_packages(ctx: Ctx) -> Files:
    data = lock({"left-pad": "1.3.0"}, {"node_modules/left-pad": ctx.entry(LP)})
    data["packages__DUP"] = lock({"left-pad": "1.3.0"},
                                 {"node_modules/left-pad": ctx.entry(LP_EVIL)})["packages"]
    return {"package.json": package_json({"left-pad": "1.3.0"}),
            "package-lock.json": duplicate(data)}


def text_form(prefix: str = "", newline: str = "\n") -> Callable[[Ctx], Files]:
    def build(ctx: Ctx) -> Files:
        files = evil_lp(ctx)
        text = json.dumps(files["package-lock.json"], indent=2) + "\n"
        return {**files, "package-lock.json": prefix + text.replace("\n", newline)}
    return build


def sections_disagree(ctx: Ctx) -> Files:
    files = evil_lp(ctx)
    files["package-lock.json"].update(lockfileVersion=2, dependencies={"left-pad": ctx.entry(LP)})
    return files


def packages_null(ctx: Ctx) -> Files:
    files = honest_lp(ctx)
    files["package-lock.json"].update(packages=None, dependencies={"left-pad":
                                                                    ctx.entry(LP_EVIL)})
    return files


def v3_without_packages(ctx: Ctx) -> Files:
    files = honest_lp(ctx)
    data = files["package-lock.json"]
    del data["packages"]
    data["dependencies"] = {"left-pad": ctx.entry(LP_EVIL)}
    return files


def outside_node_modules(ctx: Ctx) -> Files:
    """A link to a folder the lockfile gives a tarball; the folder is not in the project."""
    packages = {"node_modules/evil": {"resolved": "vendor/evil", "link": True},
                "vendor/evil": ctx.entry("evil@1.0.0")}
    return {"package.json": package_json({"evil": "file:vendor/evil"}),
            "package-lock.json": lock({"evil": "file:vendor/evil"}, packages)}


def workspace_resolved(ctx: Ctx) -> Files:
    """A workspace whose folder entry names a tarball, the folder missing from the project."""
    packages = {"node_modules/w": {"resolved": "packages/w", "link": True},
                "packages/w": {"name": "w", **ctx.entry("evil@1.0.0")}}
    return {"package.json": package_json(workspaces=["packages/w"]),
            "package-lock.json": lock({}, packages, root={"workspaces": ["packages/w"]})}


def under_workspace(ctx: Ctx) -> Files:
    packages = {"node_modules/w": {"resolved": "packages/w", "link": True},
                "packages/w": {"name": "w", "version": "1.0.0",
                               "dependencies": {"left-pad": "1.3.0"}},
                "packages/w/node_modules/left-pad": ctx.entry(LP_EVIL)}
    return {"package.json": package_json(workspaces=["packages/w"]),
            "packages/w/package.json": {"name": "w", "version": "1.0.0",
                                        "dependencies": {"left-pad": "1.3.0"}},
            "package-lock.json": lock({}, packages, root={"workspaces": ["packages/w"]})}


def bundled_under_workspace(ctx: Ctx) -> Files:
    manifest = {"name": "w", "version": "1.0.0", "dependencies": {"a": "^1.0.0"},
                "bundleDependencies": ["a"]}
    packages = {"node_modules/w": {"resolved": "packages/w", "link": True},
                "packages/w": {**manifest, "bundleDependencies": ["a"]},
                "packages/w/node_modules/a": {"version": "1.0.1", "inBundle": True,
                                              **{k: v for k, v in ctx.entry("a@1.0.1").items()
                                                 if k != "version"}}}
    return {"package.json": package_json(workspaces=["packages/w"]),
            "packages/w/package.json": manifest,
            "package-lock.json": lock({}, packages, root={"workspaces": ["packages/w"]})}


def alias_evil(ctx: Ctx) -> Files:
    spec = "npm:left-pad@1.3.0"
    return {"package.json": package_json({"lp": spec}),
            "package-lock.json": lock({"lp": spec}, {"node_modules/lp": {
                "name": "left-pad", **ctx.entry(LP_EVIL)}})}


def missing_peer(ctx: Ctx) -> Files:
    """A locked package whose peer dependency the lockfile lacks: npm installs the peer."""
    key = "evil-peer-plugin@1.0.0"
    entry = ctx.entry(key, peerDependencies={"evil": "^1.0.0"})
    return {"package.json": package_json({"evil-peer-plugin": "1.0.0"}),
            "package-lock.json": lock({"evil-peer-plugin": "1.0.0"},
                                      {"node_modules/evil-peer-plugin": entry})}


def legacy_peers(ctx: Ctx) -> Files:
    return {"package.json": package_json({"peer-plugin": "1.0.0"}),
            ".npmrc": f"registry={ctx.registry}\nlegacy-peer-deps=true\n"}


def optional_os(ctx: Ctx) -> Files:
    return {"package.json": package_json(optionalDependencies={"evil": "1.0.0"}),
            "package-lock.json": lock({}, {"node_modules/evil": ctx.entry(
                "evil@1.0.0", optional=True, os=["linux"])},
                root={"optionalDependencies": {"evil": "1.0.0"}})}


def exempt_resolved_other_package(ctx: Ctx) -> Files:
    return exempted_at(ctx, {**ctx.entry("evil@1.0.0"), "version": "1.0.0"})


# --- honest projects, locked by npm itself --------------------------------------------------

LOCK_ONLY = ("install", "--package-lock-only")


def project(deps: dict[str, str] | None = None, files: Files | None = None,
            **manifest: Any) -> Callable[[Ctx], Files]:
    def build(ctx: Ctx) -> Files:
        return {"package.json": package_json(deps, **manifest), **(files or {})}
    return build


WORKSPACES = project({"left-pad": "1.3.0"}, {
    "packages/w1/package.json": {"name": "w1", "version": "1.0.0",
                                 "dependencies": {"a": "1.0.0"}},
    "packages/w2/package.json": {"name": "w2", "version": "1.0.0",
                                 "dependencies": {"w1": "1.0.0", "left-pad": "1.2.0"}},
}, workspaces=["packages/w1", "packages/w2"])
SIMPLE = project({"left-pad": "1.3.0", "a": "1.0.0", "real-bundle": "1.0.0"})


def pin_exempted(ctx: Ctx) -> str:
    return exemption("exempted@1.0.0", integrity=ctx.integrity("exempted@1.0.0"))


def _exempt(package: str) -> Callable[[Ctx], str]:
    return lambda ctx: exemption(package)


def _pinned_b(ctx: Ctx) -> Files:
    return exempted_at(ctx, ctx.entry("exempted@1.0.0#b"))


def _feff_query(g: str, e: str) -> str:
    return f"{g}?x\ufeff{e}"


HOSTILE: list[Case] = [
    # (1) bundled entries under a registry package whose tarball does not ship them
    Case("bundled-v3-resolved", "inBundle child with resolved+integrity under a tarball "
         "shipping no node_modules", bundled_v3()),
    Case("bundled-v3-version-only", "inBundle child with only a version: npm fetches "
         "a@1.0.1 from the registry", bundled_v3(resolved=False, integrity=False)),
    Case("bundled-v3-integrity-only", "inBundle child with version and integrity",
         bundled_v3(resolved=False)),
    Case("bundled-v3-beside-real-bundle", "a second inBundle child under a parent that "
         "really bundles only inner", bundled_v3("bundle-and-dep")),
    Case("bundled-v3-old-statement", "inBundle child under a parent whose statement has no "
         "bundled field", bundled_v3("bundler-old")),
    Case("bundled-v3-other-version", "inBundle inner@1.0.1 where the audited tarball ships "
         "inner@1.0.0 (npm installs the tarball's)", bundled_other_version, real=False),
    Case("bundled-v2-both-sections", "inBundle in packages, bundled in dependencies",
         bundled_v2),
    Case("bundled-v1-resolved", "v1 bundled: true with resolved+integrity", bundled_v1(True)),
    Case("bundled-v1-version-only", "v1 bundled: true with only a version",
         bundled_v1(False)),
    Case("bundled-v3-dependencies-only", "lockfileVersion 3 with only dependencies: a "
         "bundled: true entry is fetched from its resolved", bundled_dependencies_only(3)),
    Case("bundled-v2-dependencies-only", "lockfileVersion 2 with only dependencies",
         bundled_dependencies_only(2)),
    # (2) lockfileVersion that is not 2 or 3, with packages
    Case("lockfile-version-1-packages", "lockfileVersion 1 with packages (npm reads them)",
         lockfile_version(1)),
    Case("lockfile-version-1.0-packages", "lockfileVersion 1.0", lockfile_version(1.0)),
    Case("lockfile-version-true-packages", "lockfileVersion true", lockfile_version(True)),
    Case("lockfile-version-missing-packages", "no lockfileVersion", lockfile_version(None)),
    Case("lockfile-version-string-packages", 'lockfileVersion "3"', lockfile_version("3")),
    Case("lockfile-version-4-packages", "lockfileVersion 4", lockfile_version(4)),
    Case("lockfile-version-duplicate-key", "lockfileVersion 3, then 1 again (the last "
         "counts, in Python and in JavaScript)", lockfile_version(1, dup=True)),
    # (3) npm-shrinkwrap.json beside package-lock.json
    Case("shrinkwrap-beside-lockfile", "npm installs from npm-shrinkwrap.json, check run "
         "with no lockfile named", shrinkwrap_beside),
    Case("shrinkwrap-beside-lockfile-named", "the same, check given package-lock.json",
         shrinkwrap_beside, check=("package-lock.json",)),
    Case("shrinkwrap-v1-beside-lockfile", "a v1 npm-shrinkwrap.json beside",
         shrinkwrap_v1_beside),
    Case("shrinkwrap-unreadable-beside-lockfile", "npm cannot read npm-shrinkwrap.json and "
         "resolves package.json afresh (npm install)", shrinkwrap_unreadable_beside,
         npm=("install",)),
    # (4) integrity
    Case("integrity-feff-after-query", "sha512-GOOD?x<U+FEFF>sha512-EVIL",
         integrity(_feff_query)),
    Case("integrity-feff", "sha512-GOOD<U+FEFF>sha512-EVIL",
         integrity(lambda g, e: f"{g}\ufeff{e}")),
    Case("integrity-nbsp", "sha512-GOOD<U+00A0>sha512-EVIL",
         integrity(lambda g, e: f"{g}\u00a0{e}")),
    Case("integrity-nbsp-after-query", "sha512-GOOD?x<U+00A0>sha512-EVIL",
         integrity(lambda g, e: f"{g}?x\u00a0{e}")),
    Case("integrity-line-separator", "sha512-GOOD<U+2028>sha512-EVIL",
         integrity(lambda g, e: f"{g}\u2028{e}")),
    Case("integrity-two-sha512", "sha512-GOOD sha512-EVIL",
         integrity(lambda g, e: f"{g} {e}")),
    Case("integrity-same-sha512-twice-evil", "sha512-EVIL sha512-EVIL",
         integrity(lambda g, e: f"{e} {e}")),
    Case("integrity-sha3-beside", "sha512-GOOD sha3-512-EVIL (npm ignores the sha3 token)",
         integrity_sha3, real=False),
    Case("integrity-uppercase-algorithm", "SHA512-…: npm parses no hash, so checks none",
         integrity(lambda g, e: "SHA512-" + e.removeprefix("sha512-"))),
    Case("integrity-array", "integrity as a JSON array (npm 11 fails)", integrity_array,
         real=False),
    # (5) hasShrinkwrap
    Case("has-shrinkwrap-pins-other", "the tarball's npm-shrinkwrap.json pins a@1.0.1, the "
         "lockfile lists a@1.0.0 under it", has_shrinkwrap("sw-pins")),
    Case("has-shrinkwrap-v1", "a v1 lockfile has no hasShrinkwrap; npm learns it from the "
         "registry's manifest (npm 11 does not install the pins)", has_shrinkwrap_v1,
         real=False),
    Case("has-shrinkwrap-old-statement", "the same, the parent's statement has no "
         "shrinkwrap field", has_shrinkwrap("sw-old")),
    # (6) file: tarballs
    Case("file-TGZ-v1", "v1 file:evil.TGZ (upper case)", file_v1("evil.TGZ"),
         npm=("install",)),
    Case("file-tgz-v1", "v1 file:evil.tgz", file_v1("evil.tgz"),
         npm=("install",)),
    Case("file-Tar.Gz-v1", "v1 file:vendor/evil.Tar.Gz", file_v1("vendor/evil.Tar.Gz"),
         npm=("install",)),
    Case("file-TGZ-v3", "v3 resolved file:evil.TGZ", file_v3),
    # (7) package.json not in the lockfile: npm install installs it
    Case("manifest-extra-dependency", "package.json depends on evil, the lockfile does not",
         manifest_adds(dependencies={"evil": "1.0.0"}), npm=("install",)),
    Case("manifest-range-outside-lock", "package.json asks ^1.4.0, the lockfile has 1.3.0",
         manifest_adds(dependencies={"left-pad": "^1.4.0"}), npm=("install",)),
    Case("manifest-extra-dev-dependency", "devDependencies",
         manifest_adds(devDependencies={"evil": "1.0.0"}), npm=("install",)),
    Case("manifest-extra-optional-dependency", "optionalDependencies",
         manifest_adds(optionalDependencies={"evil": "1.0.0"}), npm=("install",)),
    Case("manifest-extra-peer-dependency", "peerDependencies (npm installs the root's peers)",
         manifest_adds(peerDependencies={"evil": "1.0.0"}), npm=("install",)),
    Case("peer-missing-install", "a locked package's peer the lockfile lacks: npm install "
         "installs it", missing_peer, npm=("install",)),
    Case("peer-missing-ci", "the same, with npm ci (which refuses the lockfile)", missing_peer,
         real=False),
    Case("manifest-workspace-extra-dependency", "a workspace's package.json",
         workspace_adds, npm=("install",)),
    Case("manifest-overrides", "overrides in package.json move a locked version",
         overrides, npm=("install",)),
    Case("lockfile-nan", "a lockfile Python reads and npm cannot (NaN): npm install "
         "resolves package.json afresh", not_json_for_npm, npm=("install",)),
    # (9) exemptions
    Case("exempt-pinned-other-integrity", "exemption pinned to tarball A, lockfile has B",
         _pinned_b, exemptions=pin_exempted),
    Case("exempt-other-host", "exemption name@version, the tarball from another host",
         exempt_other_host, exemptions=_exempt("exempted@1.0.0")),
    Case("exempt-git-source", "exemption name@version, a git source calling itself that "
         "version", exempt_git, exemptions=_exempt("exempted@1.0.0")),
    Case("exempt-other-source", "exemption naming one git source, the lockfile another",
         exempt_git, exemptions=exempt_source),
    Case("exempt-file-other-bytes", "exemption pinned to a tarball on disk and its integrity; "
         "the file and the lockfile's integrity are another tarball's",
         vendored_locked("evil@1.0.0"), exemptions=exempt_vendored),
    Case("exempt-resolved-other-package", "exemption exempted@1.0.0, the entry resolved to "
         "evil's tarball", exempt_resolved_other_package, exemptions=_exempt("exempted@1.0.0")),
    Case("exempt-off-layout-path", "exemption name@version, resolved to a file on the "
         "registry host outside the registry's layout",
         exempted_from(lambda ctx: ctx.registry + "files/evil.tgz"),
         exemptions=_exempt("exempted@1.0.0")),
    Case("exempt-dot-dot-path", "resolved …/exempted/-/../../files/evil.tgz (npm's URL "
         "parser removes the dot segments)",
         exempted_from(lambda ctx: ctx.registry + "exempted/-/../../files/evil.tgz"),
         exemptions=_exempt("exempted@1.0.0")),
    Case("exempt-encoded-dot-dot-path", "resolved …/exempted/-/%2e%2e/%2E%2E/files/evil.tgz",
         exempted_from(lambda ctx: ctx.registry + "exempted/-/%2e%2e/%2E%2E/files/evil.tgz"),
         exemptions=_exempt("exempted@1.0.0")),
    Case("exempt-backslash-path", "resolved …/exempted/-/..\\..\\files/evil.tgz",
         exempted_from(lambda ctx: ctx.registry + "exempted/-/..\\..\\files/evil.tgz"),
         exemptions=_exempt("exempted@1.0.0")),
    Case("exempt-userinfo-host", "resolved http://registry.npmjs.org@<another host>/…",
         exempted_from(userinfo_host, "exempted@1.0.0#b"),
         exemptions=_exempt("exempted@1.0.0")),
    Case("exempt-rejected-wins", "a trusted rejected verdict beats an exemption",
         lambda ctx: one(ctx, "rejected-pkg", "rejected-pkg@1.0.0"),
         exemptions=_exempt("rejected-pkg@1.0.0")),
    # (11) the result cache
    Case("cache-policy-only-after-lockfile-changed", "check trust-policy.yml answered from "
         "the cache after package-lock.json changed", honest_lp, first=((),),
         then=evil_lp, check=("trust-policy.yml",), cache=True),
    Case("cache-policy-only-after-shrinkwrap-added", "the same after npm-shrinkwrap.json "
         "appeared", honest_lp, first=((),),
         then=lambda ctx: {"npm-shrinkwrap.json": evil_lp(ctx)["package-lock.json"]},
         check=("trust-policy.yml",), cache=True),
    Case("cache-policy-only-after-manifest-changed", "the same after package.json gained "
         "a dependency (npm install)", honest_lp, first=((),),
         then=lambda ctx: {"package.json": package_json({"left-pad": "1.3.0",
                                                         "evil": "1.0.0"})},
         check=("trust-policy.yml",), cache=True, npm=("install",)),
    # variants read in npm's code
    Case("duplicate-entry-key", "the same packages key twice (the last counts)", dup_entry),
    Case("duplicate-packages-key", "packages twice", dup_packages),
    Case("bom", "a UTF-8 byte order mark (npm strips it)", text_form(prefix="\ufeff")),
    Case("crlf", "CRLF line ends", text_form(newline="\r\n")),
    Case("v2-sections-disagree", "v2: packages and dependencies disagree (npm reads "
         "packages)", sections_disagree),
    Case("packages-null", "packages: null (npm reads dependencies)", packages_null),
    Case("v3-without-packages", "lockfileVersion 3 with only dependencies", v3_without_packages),
    Case("outside-node-modules", "a link whose target folder entry has resolved+integrity, "
         "the folder not in the project (npm 11 leaves it alone)", outside_node_modules,
         real=False),
    Case("workspace-folder-resolved", "a workspace folder entry with resolved+integrity, "
         "the folder missing (npm 11 leaves it alone)", workspace_resolved, real=False),
    Case("nested-under-workspace", "a package under a workspace's node_modules",
         under_workspace),
    Case("bundled-under-workspace", "inBundle under a workspace (the project's own bundle "
         "is installed from the registry; npm 11 installs nothing)", bundled_under_workspace,
         real=False),
    Case("alias", "an npm: alias to left-pad@1.3.0 with other bytes", alias_evil),
    Case("optional-os", "an optional dependency for this platform", optional_os),
    Case("has-shrinkwrap-flag-missing", "no hasShrinkwrap flag: npm does not read the "
         "tarball's shrinkwrap", has_shrinkwrap("sw-pins", flag=False), real=False),
]


HONEST: list[Case] = [
    Case("honest-simple", "registry packages and a real bundle", SIMPLE, honest=True,
         generate=(LOCK_ONLY,)),
    Case("honest-scoped-alias", "a scoped package and an npm: alias",
         project({"@scope/pkg": "1.0.0", "lp": "npm:left-pad@1.3.0"}), honest=True,
         generate=(LOCK_ONLY,)),
    Case("honest-workspaces", "workspaces", WORKSPACES, honest=True, generate=(LOCK_ONLY,)),
    Case("honest-optional-platform", "optional platform packages (os, cpu)",
         project({"plat-main": "1.0.0"}), honest=True, generate=(LOCK_ONLY,)),
    Case("honest-peer", "a peer dependency npm installs",
         project({"peer-plugin": "1.0.0"}), honest=True, generate=(LOCK_ONLY,)),
    Case("honest-legacy-peer-deps", "legacy-peer-deps in the project's .npmrc: npm locks "
         "and installs no peer", legacy_peers, honest=True, generate=(LOCK_ONLY,)),
    Case("honest-nested-versions", "two versions of one package",
         project({"left-pad": "1.3.0", "uses-old-lp": "1.0.0"}), honest=True,
         generate=(LOCK_ONLY,)),
    Case("honest-has-shrinkwrap", "a package whose tarball has npm-shrinkwrap.json",
         project({"swp": "1.0.0"}), honest=True, generate=(LOCK_ONLY,)),
    Case("honest-v1", "lockfileVersion 1", SIMPLE, honest=True,
         generate=((*LOCK_ONLY, "--lockfile-version", "1"),)),
    Case("honest-v2", "lockfileVersion 2", WORKSPACES, honest=True,
         generate=((*LOCK_ONLY, "--lockfile-version", "2"),)),
    Case("honest-npm-shrinkwrap", "npm-shrinkwrap.json alone", SIMPLE, honest=True,
         generate=(LOCK_ONLY, ("shrinkwrap",))),
    Case("honest-exemption-pinned", "an exemption pinned to the tarball's integrity",
         project({"exempted": "1.0.0", "left-pad": "1.3.0"}), honest=True,
         generate=(LOCK_ONLY,), exemptions=pin_exempted),
    Case("honest-exemption-file-tarball", "a tarball on disk (file:), exempted by its path "
         "and integrity", vendored("exempted@1.0.0"), honest=True, generate=(LOCK_ONLY,),
         exemptions=exempt_vendored),
    Case("honest-linked-strategy", "npm ci --install-strategy=linked (node_modules/.store)",
         SIMPLE, honest=True, generate=(LOCK_ONLY,), npm=("ci", "--install-strategy=linked")),
    Case("honest-npm-install", "npm install with a lockfile in sync", SIMPLE, honest=True,
         generate=(LOCK_ONLY,), npm=("install",)),
    Case("honest-cache-policy-only", "check trust-policy.yml answered from the cache",
         SIMPLE, honest=True, generate=(LOCK_ONLY,), first=((),),
         check=("trust-policy.yml",), cache=True),
]
