"""What npm makes of a dependency spec or a ``resolved`` value, after npm-package-arg's
npa.js and hosted-git-info (the copies inside npm 11): the distinctions the check needs.

Only what npm fetches from the registry, or from a registry-shaped tarball URL, with the
lockfile's integrity checked, is a registry package; a folder link is first party; all
else (git, which npm never checks against an integrity, tarballs on disk or elsewhere,
and whatever is not read here with certainty) cannot be bound to an audit.
"""

import functools
import posixpath
import re
from typing import Any, NamedTuple

from package_trust.check.lockfile import semver
from package_trust.check.lockfile.interface import Source
from package_trust.check.names import is_valid_name
from package_trust.check.statement import JS_SPACE

_IS_URL = re.compile(r"(?:git\+)?[a-z]+:", re.IGNORECASE)  # npa's isURL
_FILE_TYPE = re.compile(r"\.(?:tgz|tar\.gz|tar)$", re.IGNORECASE)  # npa's isFileType
_POSIX_FILE = re.compile(r"(?:\.|~/|/|[a-zA-Z]:)")  # npa's isPosixFile
_GIT_SCP = re.compile(r"git\+ssh://([^:#]+:[^#]+)(?:#.*)?", re.IGNORECASE | re.DOTALL)
_PORT = re.compile(r":[0-9]+(/|$)")
_GIT_PROTOCOLS = ("git", "git+http", "git+https", "git+rsync", "git+ftp", "git+file", "git+ssh")
_TAG = re.compile(r"[A-Za-z0-9_.!~*'()-]*")  # what encodeURIComponent leaves as it is
# An http(s) URL read here with certainty: printable ASCII, a plain host, no user or
# backslash (which the URL standard reads in ways not repeated here).
_HTTP = re.compile(r"(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+)(?::[0-9]{1,5})?"
                   r"(?P<path>/[!-\"$-/0->@-\[\]-~]*)?(?:[?#][!-\[\]-~]*)?", re.IGNORECASE)
_DOT = re.compile(r"(?:\.|%2e){1,2}", re.IGNORECASE)  # the URL standard's dot segments
# hosted-git-info's hosts: the protocols each accepts as a git URL.
_GIT_HOSTS = {
    "github.com": ("http", "https"),
    "bitbucket.org": ("https",),
    "gitlab.com": ("https",),
    "gist.github.com": ("https",),
    "git.sr.ht": ("https",),
}


class Spec(NamedTuple):
    """A spec as npm reads it. ``kind``: registry (a version, range or tag), alias,
    directory, file (a tarball on disk), git, remote (a tarball URL) or other (invalid,
    or not read here with certainty)."""

    kind: str
    target: str = ""  # registry: the range; alias: the range of ``name``; else the spec
    name: str | None = None  # alias: the real package name


def js_truthy(value: Any) -> bool:
    """Whether a JSON value is true to JavaScript (npm tests most lockfile flags so)."""
    if value is None or value is False or value == "":
        return False
    return not (type(value) in (int, float) and value == 0)


def resolve_spec(spec: Any) -> Spec:
    """npa.resolve(name, spec) reduced to its kind."""
    return _resolve_str(spec) if isinstance(spec, str) else Spec("other", str(spec))


@functools.lru_cache(maxsize=4096)
def _resolve_str(spec: str) -> Spec:
    if "\\" in spec:  # backslashes: a path on Windows only
        return Spec("other", spec)
    if spec.lower().startswith("file:") or _POSIX_FILE.match(spec):
        return Spec("file" if _FILE_TYPE.search(spec) else "directory", spec)
    if spec.lower().startswith("npm:"):
        return _alias(spec[4:])
    if _is_git_shorthand(spec):
        return Spec("git", spec)
    if _IS_URL.match(spec):
        return _url(spec)
    if "/" in spec or _FILE_TYPE.search(spec):
        return Spec("other", spec)  # a relative path, or a hosted git shorthand
    target = spec.strip(JS_SPACE) or "*"  # dep-valid.js: '' is equivalent to '*'
    known = semver.parse_range(target) is not None or _TAG.fullmatch(target)
    return Spec("registry", target) if known else Spec("other", spec)


def _alias(sub: str) -> Spec:
    """``npm:name@range``: only a registry package under its real name."""
    at = sub.find("@", 1)
    name, target = (sub[:at], sub[at + 1:] or "*") if at > 0 else (sub, "*")
    if not is_valid_name(name) or _FILE_TYPE.search(name) or _IS_URL.match(sub):
        return Spec("other", sub)
    inner = resolve_spec(target)
    return Spec("alias", inner.target, name) if inner.kind == "registry" else Spec("other", sub)


def _url(spec: str) -> Spec:
    """npa's fromURL, after hosted-git-info has had its say."""
    scp = _GIT_SCP.fullmatch(spec) if spec.startswith("git+ssh:") else None
    if scp and not _PORT.search(scp.group(1)):
        return Spec("git", spec)
    scheme = spec.partition(":")[0].lower()
    if scheme in _GIT_PROTOCOLS:
        return Spec("git", spec)
    if scheme in ("http", "https"):
        http = _HTTP.fullmatch(spec)
        if http is None or _hosted_git(http) or not _plain_path(http.group("path") or ""):
            return Spec("other", spec)
        return Spec("remote", spec)
    return Spec("other", spec)


def _plain_path(path: str) -> bool:
    """No dot segments, which the URL standard resolves away before hosts are matched."""
    return not any(_DOT.fullmatch(segment) for segment in path.split("/"))


def _hosted_git(http: re.Match[str]) -> bool:
    """Whether hosted-git-info reads an http(s) URL as a git repository (npm then clones
    it, and never checks what it gets against the lockfile's integrity)."""
    host = http.group("host").lower()
    host = host[4:] if host.startswith("www.") else host
    if http.group("scheme").lower() not in _GIT_HOSTS.get(host, ()):
        return False
    path = http.group("path") or ""
    parts = [*path.split("/"), "", "", "", ""]
    user, project, aux = parts[1], parts[2].removesuffix(".git"), parts[3]
    if host == "github.com":
        return aux in ("", "tree") and bool(user and project)
    if host == "gitlab.com":
        inner = path[1:]
        if "/-/" in inner or "/archive.tar.gz" in inner:
            return False
        head, _, last = inner.rpartition("/")
        return bool(head and last.removesuffix(".git"))
    if host == "gist.github.com":
        return aux != "raw" and bool(user or project)
    exclude = "get" if host == "bitbucket.org" else "archive"
    return aux != exclude and bool(user and project)


def _is_git_shorthand(arg: str) -> bool:
    """hosted-git-info's isGitHubShorthand: ``user/repo``, ``user/repo#ref``."""
    hash_at = arg.find("#")
    head = arg if hash_at < 0 else arg[:hash_at]
    slash = head.find("/")
    return (
        slash > 0
        and head.find("/", slash + 1) < 0
        and not any(c in head for c in ":@")
        and not re.search(r"\s", head)
        and not head.endswith("/")
        and not arg.startswith(".")
    )


def classify_resolved(resolved: str | None) -> Source:
    """How an entry npm fetches from ``resolved`` is checked: a registry package when npm
    fetches it from the registry (no ``resolved``: by name and version) or from an http(s)
    tarball URL in the registry's layout (``/NAME/-/FILE``), both checked against the
    lockfile's integrity; anything else cannot be bound to an audit."""
    if resolved is None:
        return Source.REGISTRY
    http = _HTTP.fullmatch(resolved) if resolve_spec(resolved).kind == "remote" else None
    return Source.REGISTRY if http and "/-/" in (http.group("path") or "") else Source.OTHER


def spec_from_lock(entry: dict[str, Any]) -> Spec:
    """The spec npm reads a v1 lockfile entry as (arborist's spec-from-lock.js): its
    ``version``, unless there is no integrity and ``from`` or ``resolved`` says more. Where
    npm would throw (and fall back) or the spec is not read here, the answer is "other"."""
    version, from_, resolved = (entry.get(k) for k in ("version", "from", "resolved"))
    if js_truthy(version):
        spec = resolve_spec(version)
        if js_truthy(entry.get("integrity")) or spec.kind in ("git", "other"):
            return spec
    if js_truthy(from_):
        spec = resolve_spec(from_)
        if spec.kind in ("registry", "alias") and js_truthy(version):
            return resolve_spec(version)
        if spec.kind == "other" or not js_truthy(resolved):
            return spec
    if js_truthy(resolved):
        return resolve_spec(resolved)
    return resolve_spec(version if js_truthy(version) else "")


def local_target(spec: Spec) -> str | None:
    """Where a folder or tarball spec (``file:``) points, relative to the folder it is
    asked for from; None when that is not certain (escapes, a home, an absolute or a
    Windows path)."""
    path = spec.target[5:] if spec.target.lower().startswith("file:") else spec.target
    if spec.kind not in ("directory", "file") or "%" in path or path.startswith(("/", "~")) \
            or re.match(r"[A-Za-z]:", path) or (spec.kind == "file" and "\\" in path):
        return None  # (npm reads a tarball's backslashes as slashes: not done here)
    return posixpath.normpath(path)


def in_node_modules(location: str) -> bool:
    """Whether npm would install a package at this location (a node_modules folder)."""
    return "node_modules" in location.split("/")
