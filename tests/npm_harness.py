"""Differential testing against the real npm client: run ``package-trust check`` and
``npm ci`` (or ``npm install``) on one project, and judge what npm installed by what the
check passed.

The oracle: every tarball the registry served to npm, and every package folder npm put on
disk, must come from a tarball the check reported ``audited`` or ``exempt`` with that very
sha512 (a bundled package: a folder inside such a tarball, file for file). npm reaches
nothing but 127.0.0.1 (a proxy that refuses and notes every request; no git over ssh),
with a fresh cache, an empty user and global npmrc, and no scripts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from npm_registry import NpmRegistry, tarball_files

NPM = shutil.which("npm")
# JavaScript's \s, which ssri splits an integrity on (Python's str.split() misses U+FEFF).
_JS_SPACE = re.compile(
    "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+")
_WEAKER = {"md5", "sha1", "sha224", "sha256", "sha384"}  # below sha512 in ssri's priority
_SHA512 = re.compile(r"^sha512-([A-Za-z0-9+/]{86}==)$")
PASSING = ("audited", "exempt")


@functools.cache
def npm_version() -> str | None:
    if NPM is None:
        return None
    proc = subprocess.run([NPM, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def sha512_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha512(data).digest()).decode()


def bound_sha512(integrity: object) -> str | None:
    """The one sha512 an integrity binds npm to, or None when npm would accept another
    tarball too (a second sha512, an algorithm npm ranks above it, a malformed hash)."""
    if not isinstance(integrity, str):
        return None
    digests = set()
    for token in _JS_SPACE.split(integrity):
        if not token:
            continue
        algo = token.partition("-")[0]
        m = _SHA512.match(token)
        if m:
            digests.add(m.group(1))
        elif algo not in _WEAKER:
            return None
    return digests.pop() if len(digests) == 1 else None


def files_of(folder: Path) -> dict[str, bytes]:
    """A package folder's regular files, its own node_modules/ left out."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        if here == folder and "node_modules" in dirnames:
            dirnames.remove("node_modules")
        for name in filenames:
            path = here / name
            if path.is_file() and not path.is_symlink():
                out[path.relative_to(folder).as_posix()] = path.read_bytes()
    return out


def fingerprint(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return h.hexdigest()


def subtrees(files: dict[str, bytes]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Each package a tarball holds: ("", the package), ("node_modules/x", a bundled one)…,
    each without its own node_modules/."""
    roots = {""} | {p.rsplit("/", 1)[0] for p in files
                    if p.endswith("/package.json") and "node_modules/" in p}
    for root in roots:
        prefix = f"{root}/" if root else ""
        sub = {p[len(prefix):]: d for p, d in files.items() if p.startswith(prefix)}
        yield root, {p: d for p, d in sub.items() if not p.startswith("node_modules/")}


@dataclass
class Tarball:
    """A tarball npm could unpack: one the registry served, or a file in the project."""

    origin: str
    data: bytes

    @property
    def sha512(self) -> str:
        return sha512_b64(self.data)


@dataclass
class Installed:
    """A package folder npm left on disk, and the tarballs it can be traced to."""

    folder: str
    label: str  # name@version from its package.json
    sources: list[tuple[str, str]]  # (tarball sha512, path inside the tarball)


@dataclass
class NpmRun:
    command: list[str]
    code: int
    output: str
    served: list[Tarball]
    local: list[Tarball]
    installed: list[Installed]
    strays: list[str]  # links to anything but the project's folders; other files written

    def unjudged(self, digests: set[str]) -> list[str]:
        """Whatever npm fetched or installed that no tarball in ``digests`` accounts for."""
        found = [f"served {t.origin} (sha512-{t.sha512[:12]}…)" for t in self.served
                 if t.sha512 not in digests]
        found += [f"installed {i.folder} ({i.label})" for i in self.installed
                  if not any(sha in digests for sha, _ in i.sources)]
        return found + self.strays

    def tail(self) -> str:
        return "\n".join(self.output.strip().splitlines()[-12:])


@dataclass
class CheckRun:
    args: list[str]
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None = field(default=None)

    @property
    def passing(self) -> set[str]:
        """The sha512 of every tarball the check passed and bound to its bytes."""
        if self.report is None:
            return set()
        found = {bound_sha512(p.get("integrity")) for p in self.report.get("packages", [])
                 if p.get("status") in PASSING}
        return {d for d in found if d is not None}

    def failing(self) -> list[str]:
        if self.report is None:
            return [(self.stderr or self.stdout).strip()[:400]]
        return [f"{p['name']}@{p['version']}: {p['status']}: {'; '.join(p['problems'])}"
                for p in self.report.get("packages", [])
                if p.get("status") not in (*PASSING, "skipped")]


def run_check(project: Path, cache: Path, registry_url: str, args: list[str],
              use_cache: bool = False) -> CheckRun:
    """``package-trust check ARGS --format json`` in ``project``, as a user runs it."""
    cmd = [sys.executable, "-m", "package_trust", "check", *args, "--format", "json"]
    if not use_cache:
        cmd.append("--no-cache")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "NPM_CONFIG_REGISTRY": registry_url,
           "GNUPGHOME": str(cache / "no-such-gnupghome")}
    env.pop("PACKAGE_TRUST_NO_CACHE", None)
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    report = None
    if proc.stdout.strip():
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            report = None
    return CheckRun(args, proc.returncode, proc.stdout, proc.stderr, report)


class Trap:
    """The only proxy npm and git are given: it answers every request 403 and notes it, so
    that nothing but the registry on 127.0.0.1 (which bypasses it) is ever reached."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _refuse(self) -> None:
                trap.requests.append(self.requestline)
                self.send_error(403, "the npm differential tests reach only 127.0.0.1")

            do_GET = do_POST = do_PUT = do_HEAD = do_CONNECT = _refuse

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def npm_env(scratch: Path, proxy: str) -> dict[str, str]:
    """npm with no configuration of the user's, no proxy of the machine's, no way out."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "npmrc").write_text("")
    (scratch / "globalrc").write_text("")
    env = {k: v for k, v in os.environ.items()
           if not k.lower().startswith(("npm_", "http_proxy", "https_proxy", "no_proxy"))}
    env.update({
        "npm_config_userconfig": str(scratch / "npmrc"),
        "npm_config_globalconfig": str(scratch / "globalrc"),
        "npm_config_update_notifier": "false",
        "http_proxy": proxy, "https_proxy": proxy, "no_proxy": "127.0.0.1",
        "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "NO_PROXY": "127.0.0.1",
        "GIT_SSH_COMMAND": "false", "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(scratch),
    })
    return env


def npm(project: Path, scratch: Path, registry_url: str, args: list[str],
        trap: Trap) -> tuple[int, str]:
    """Run npm in ``project`` against the registry at ``registry_url``, with a fresh cache."""
    assert NPM is not None
    cache = scratch / f"cache-{len(list(scratch.glob('cache-*')))}"
    cmd = [NPM, *args, "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-online",
           "--registry", registry_url, "--cache", str(cache), "--fetch-retries", "0",
           "--fetch-timeout", "20000", "--loglevel", "warn"]
    proc = subprocess.run(cmd, cwd=project, env=npm_env(scratch, trap.url),
                          capture_output=True, text=True, timeout=180, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def in_node_modules(folder: str) -> bool:
    return "node_modules" in folder.split("/")


def project_files(root: Path) -> dict[str, str]:
    """Every file outside node_modules/ (links not followed), with the SHA-256 of its bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "node_modules"]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[path.relative_to(root).as_posix()] = digest
    return out


def module_folders(root: Path) -> Iterator[str]:
    """Every folder npm unpacks a package into: each entry of a node_modules/ (and of an
    @scope/ in it), links and .bin left out; npm's own dot folders (.store) are searched."""
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        parent = here.parent.name if here.name.startswith("@") else here.name
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
            elif parent == "node_modules" and not d.startswith((".", "@")):
                yield (here / d).relative_to(root).as_posix()


_MANIFESTS = ("package.json", "package-lock.json", "npm-shrinkwrap.json")  # npm rewrites


def written(root: Path, before: dict[str, str]) -> tuple[set[str], list[str]]:
    """What npm added or changed outside node_modules/: the new package folders, and any
    other file (npm may rewrite only the manifests and lockfiles of the project's folders)."""
    after = project_files(root)
    folders, stray = set(), []
    for path in sorted(p for p in after if before.get(p) != after[p]):
        folder = next((str(f) for f in Path(path).parents
                       if (f / "package.json").as_posix() in after), ".")
        if f"{folder}/package.json".removeprefix("./") not in before:
            folders.add(folder)
        elif Path(path).name not in _MANIFESTS or str(Path(path).parent) != folder:
            stray.append(path)
    return folders, stray


def install(project: Path, work: Path, registry: NpmRegistry, client: str,
            args: list[str], trap: Trap) -> NpmRun:
    """Copy ``project`` and let npm install into the copy; collect what it fetched and put."""
    copy = work / "install"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project, copy, symlinks=True,
                    ignore=shutil.ignore_patterns("node_modules", "keys", "signatures"))
    before = project_files(copy)
    mark = registry.mark()
    code, output = npm(copy, work / "npm", registry.client_url(client), args, trap)
    served = [Tarball(f"{s.host}c/{client}{s.path}", s.data)
              for s in registry.served_since(client, mark)]
    local = [Tarball(str(p.relative_to(copy)), p.read_bytes()) for p in _local_tarballs(copy)]
    index = _index([*served, *local])
    new_folders, stray = written(copy, before)
    installed = []
    for folder in sorted({*module_folders(copy), *new_folders}):
        files = files_of(copy / folder)
        installed.append(Installed(folder, _label(files), index.get(fingerprint(files), [])))
    first_party = {str(Path(p).parent) for p in before if Path(p).name == "package.json"}
    return NpmRun(["npm", *args], code, output, served, local, installed,
                  _odd_links(copy, first_party) + [f"wrote {p}" for p in stray])


def _local_tarballs(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        lower = path.name.lower()
        if path.is_file() and lower.endswith((".tgz", ".tar.gz", ".tar")) \
                and "node_modules" not in path.parts:
            yield path


def _index(tarballs: list[Tarball]) -> dict[str, list[tuple[str, str]]]:
    """Every package inside the tarballs, by the fingerprint of its files."""
    index: dict[str, list[tuple[str, str]]] = {}
    for t in tarballs:
        try:
            files = tarball_files(t.data)
        except (tarfile.TarError, OSError, EOFError):
            continue
        for root, sub in subtrees(files):
            index.setdefault(fingerprint(sub), []).append((t.sha512, root))
    return index


def _label(files: dict[str, bytes]) -> str:
    try:
        manifest = json.loads(files.get("package.json", b"{}"))
        return f"{manifest.get('name')}@{manifest.get('version')}"
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return "?"


def _odd_links(root: Path, first_party: set[str]) -> list[str]:
    """Links npm made in node_modules to anything but a folder of the project itself."""
    odd = []
    for dirpath, dirnames, _ in os.walk(root):
        for d in list(dirnames):
            path = Path(dirpath) / d
            if not path.is_symlink():
                continue
            target = path.resolve()
            inside = target.is_relative_to(root.resolve())
            rel = target.relative_to(root.resolve()).as_posix() if inside else str(target)
            if target.exists() and (not inside or (rel not in first_party
                                                   and not in_node_modules(rel))):
                odd.append(f"linked {path.relative_to(root)} -> {rel}")
    return odd
