"""A local npm registry that the real npm client can install from, and the tarballs it serves.

``NpmRegistry`` extends the FakeRegistry of registry_server.py: it serves whole packuments
(every version's manifest, as read from its tarball's package.json, with ``dist.tarball``,
``dist.integrity`` and ``dist.shasum``; scoped names at their %2f-encoded path), any other
file a test puts at a path, and it logs every tarball it sends. Each client (one npm run)
talks to its own base URL, ``<url>c/<client>/``, so that what npm fetched is known per run
even when runs overlap. ``also_at()`` opens a second server (another host:port) answering
the same paths, to play a host that is not the registry.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from registry_server import FakeRegistry, tgz
from support import integrity_of


def package_tgz(manifest: dict[str, Any], files: dict[str, bytes] | None = None,
                prefix: str = "package/") -> bytes:
    """A package tarball: ``package/package.json`` from ``manifest``, then ``files``."""
    body = {"package.json": json.dumps(manifest, indent=2).encode() + b"\n"}
    body.update(files or {})
    return tgz(body, prefix=prefix)


def tarball_files(tarball: bytes) -> dict[str, bytes]:
    """The regular files of a package tarball, by path below its top folder (as npm
    unpacks it: the first path component stripped)."""
    files = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:*") as tar:
        for member in tar:
            path = member.name.split("/", 1)[1] if "/" in member.name else ""
            f = tar.extractfile(member) if member.isreg() else None
            if f is not None and path:
                files[path] = f.read()
    return files


def tarball_name(name: str, version: str) -> str:
    return f"{name.split('/')[-1]}-{version}.tgz"


@dataclass(frozen=True)
class Served:
    """One tarball (or file) the registry sent: to which client, from which host."""

    seq: int
    client: str
    host: str
    path: str
    data: bytes

    @property
    def integrity(self) -> str:
        return integrity_of(self.data)


class NpmRegistry(FakeRegistry):
    """An npm registry on 127.0.0.1 for the real npm client; a context manager."""

    def __init__(self) -> None:
        self.manifests: dict[str, dict[str, dict[str, Any]]] = {}  # name -> version -> manifest
        self.files: dict[str, bytes] = {}  # any other path (below a client's base) -> bytes
        self.served: list[Served] = []
        self._lock = threading.Lock()
        self._others: list[_OtherHost] = []
        super().__init__()

    def close(self) -> None:
        for other in self._others:
            other.close()
        super().close()

    def client_url(self, client: str, host: str | None = None) -> str:
        """The registry URL one npm run uses (``--registry``), or its paths on ``host``."""
        return f"{host or self.url}c/{quote(client, safe='')}/"

    def also_at(self) -> str:
        """Another host (a second port) serving the same paths: its base URL."""
        other = _OtherHost(self)
        self._others.append(other)
        return other.url

    def publish_package(self, tarball: bytes, manifest: dict[str, Any]) -> str:
        """Serve ``tarball`` as the version its ``manifest`` names; return its integrity."""
        name, version = manifest["name"], manifest["version"]
        if "npm-shrinkwrap.json" in tarball_files(tarball):  # as the npm registry says it
            manifest = {**manifest, "_hasShrinkwrap": True}
        self.manifests.setdefault(name, {})[version] = manifest
        self.publish(name, version, tarball)
        return integrity_of(tarball)

    def put(self, path: str, data: bytes) -> None:
        """Serve ``data`` at ``path`` (below every client's base URL, e.g. ``evil/x.tgz``)."""
        self.files["/" + path.lstrip("/")] = data

    def served_since(self, client: str, seq: int) -> list[Served]:
        with self._lock:
            return [s for s in self.served if s.client == client and s.seq >= seq]

    def mark(self) -> int:
        with self._lock:
            return len(self.served)

    def answer(self, path: str) -> tuple[int, bytes]:
        return self.answer_at(self.url, path)

    def answer_at(self, host: str, path: str) -> tuple[int, bytes]:
        """What ``host`` answers for ``path``: ``/c/<client>/<rest>``."""
        parts = path.split("/", 3)
        if len(parts) < 4 or parts[1] != "c":
            return 404, b'{"error":"no client in the path"}'
        client, rest = unquote(parts[2]), "/" + parts[3]
        status, body, tarball = self._answer(client, rest)
        if status == 200 and tarball:
            with self._lock:
                self.served.append(Served(len(self.served), client, host, rest, body))
        return status, body

    def _answer(self, client: str, rest: str) -> tuple[int, bytes, bool]:
        if rest in self.files:
            return 200, self.files[rest], True
        if "/-/" in rest:
            status, body = super().answer(rest)
            return status, body, status == 200
        name = unquote(rest[1:])
        if name not in self.manifests:
            return 404, b'{"error":"Not found"}', False
        return 200, self.packument(client, name), False

    def packument(self, client: str, name: str) -> bytes:
        base = self.client_url(client).rstrip("/")
        versions = {}
        for version, manifest in self.manifests[name].items():
            p = self.packages[name][version]
            dist = {"tarball": base + self.tarball_path(name, version),
                    "integrity": p.integrity, "shasum": hashlib.sha1(p.tarball).hexdigest()}
            versions[version] = {**manifest, "_id": f"{name}@{version}", "dist": dist}
        latest = max(versions, key=_semver_key)
        body = {"_id": name, "name": name, "dist-tags": {"latest": latest},
                "versions": versions}
        return json.dumps(body).encode()


def _semver_key(version: str) -> tuple[int, ...]:
    core = version.split("-")[0].split("+")[0]
    return tuple(int(p) if p.isdigit() else 0 for p in core.split("."))


class _OtherHost(FakeRegistry):
    """A second server answering what the primary registry answers."""

    def __init__(self, primary: NpmRegistry) -> None:
        self.primary = primary
        super().__init__()

    def answer(self, path: str) -> tuple[int, bytes]:
        return self.primary.answer_at(self.url, path)
