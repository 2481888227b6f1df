"""A fake npm registry on 127.0.0.1 (http.server in a thread), and tarballs built in tests.

It serves packuments (``/<name>``) and tarballs (``/<name>/-/<file>.tgz``) the test
publishes, and can be told to fail a path a few times with an HTTP status, or never to
answer it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from support import integrity_of

LEFT_PAD_INDEX = b"""module.exports = leftPad;
function leftPad (str, len, ch) {
  str = str + '';
  len = len - str.length;
  if (len <= 0) return str;
  if (!ch && ch !== 0) ch = ' ';
  ch = ch + '';
  var pad = '';
  while (true) {
    if (len & 1) pad += ch;
    len >>= 1;
    if (len) ch += ch;
    else break;
  }
  return pad + str;
}
"""


def manifest(name: str, version: str, **extra: Any) -> bytes:
    return json.dumps({"name": name, "version": version, **extra}, indent=2).encode()


def tgz(files: dict[str, bytes], prefix: str = "package/",
        members: Iterable[tuple[tarfile.TarInfo, bytes | None]] = ()) -> bytes:
    """A gzipped tarball: ``files`` under ``prefix``, then raw ``members`` as given."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(prefix + path)
            info.size, info.mode, info.mtime = len(data), 0o644, 499162500
            tar.addfile(info, io.BytesIO(data))
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x",
          linkname: str = "") -> tuple[tarfile.TarInfo, bytes | None]:
    """One raw tar member (for hostile tarballs)."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


def left_pad(version: str = "1.3.0", **files: bytes) -> bytes:
    """A small stand-in for left-pad's tarball."""
    return tgz({"package.json": manifest("left-pad", version, main="index.js", license="WTFPL"),
                "index.js": LEFT_PAD_INDEX, **files})


@dataclass
class Published:
    tarball: bytes
    integrity: str | None
    shasum: str | None
    url: str


class FakeRegistry:
    """An npm registry serving what the test publishes; a context manager."""

    def __init__(self) -> None:
        self.packages: dict[str, dict[str, Published]] = {}
        self.failures: dict[str, list[int]] = {}  # path -> statuses to answer first
        self.silent: set[str] = set()  # paths that never get an answer
        self.requests: list[str] = []
        self._stop = threading.Event()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                registry.requests.append(self.path)
                path = urlsplit(self.path).path
                if path in registry.silent:
                    registry._stop.wait(30)
                    return
                failures = registry.failures.get(path)
                if failures:
                    self._send(failures.pop(0), b"failure")
                    return
                status, body = registry.answer(path)
                self._send(status, body)

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def __enter__(self) -> FakeRegistry:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def tarball_path(self, name: str, version: str) -> str:
        return f"/{name}/-/{name.split('/')[-1]}-{version}.tgz"

    def publish(self, name: str, version: str, tarball: bytes, *, integrity: str | None = "",
                shasum: str | None = "") -> Published:
        """Serve ``tarball`` as name@version; integrity and shasum default to the true ones."""
        published = Published(
            tarball,
            integrity_of(tarball) if integrity == "" else integrity,
            hashlib.sha1(tarball).hexdigest() if shasum == "" else shasum,
            self.url.rstrip("/") + self.tarball_path(name, version),
        )
        self.packages.setdefault(name, {})[version] = published
        return published

    def answer(self, path: str) -> tuple[int, bytes]:
        if "/-/" in path:
            for name, versions in self.packages.items():
                for version, p in versions.items():
                    if path == self.tarball_path(name, version):
                        return 200, p.tarball
            return 404, b"not found"
        name = unquote(path[1:])
        if name not in self.packages:
            return 404, b'{"error":"Not found"}'
        versions = {
            v: {"name": name, "version": v,
                "dist": {k: val for k, val in (("tarball", p.url), ("integrity", p.integrity),
                                               ("shasum", p.shasum)) if val is not None}}
            for v, p in self.packages[name].items()
        }
        latest = list(versions)[-1]
        body = {"name": name, "dist-tags": {"latest": latest}, "versions": versions}
        return 200, json.dumps(body).encode()


def sha512_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha512(data).digest()).decode()
