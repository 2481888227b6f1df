"""The npm registry over HTTP: a version's dist (tarball URL, integrity) and its bytes.

Requests time out (``PACKAGE_TRUST_TIMEOUT`` seconds) and transient failures (connection
errors, HTTP 5xx) are retried (``PACKAGE_TRUST_RETRIES`` times). Downloaded bytes are
hashed as they arrive; ``check_integrity`` compares them with what the registry published.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from package_trust import __version__, filenames
from package_trust.audit.tarball import MAX_BYTES_ENV
from package_trust.check import safejson, statement
from package_trust.errors import PackageTrustError

DEFAULT_REGISTRY = "https://registry.npmjs.org/"
TIMEOUT_ENV = "PACKAGE_TRUST_TIMEOUT"
RETRIES_ENV = "PACKAGE_TRUST_RETRIES"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
MAX_PACKUMENT_BYTES = 128 * 1024 * 1024
PROGRESS_FROM_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
# npm's abbreviated packument: every version's dist, without readmes.
_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


class RegistryError(PackageTrustError):
    """The registry could not be reached, or did not have what was asked for."""


class IntegrityError(PackageTrustError):
    """Downloaded bytes differ from what the registry published."""


@dataclass(frozen=True)
class Dist:
    """Where a version's tarball is and the hashes the registry published for it."""

    tarball: str
    integrity: str | None
    shasum: str | None


@dataclass(frozen=True)
class Packument:
    """A package's versions as the registry lists them."""

    name: str
    versions: dict[str, Dist] = field(default_factory=dict)


@dataclass(frozen=True)
class Digests:
    """Hashes of a tarball: sha512 as in npm's integrity (base64), sha1 as in shasum (hex)."""

    sha512: bytes
    sha1: str
    size: int

    @property
    def integrity(self) -> str:
        return "sha512-" + self.sha512_b64

    @property
    def sha512_b64(self) -> str:
        return base64.b64encode(self.sha512).decode()


class Hasher:
    """Digests of bytes that arrive in chunks."""

    def __init__(self) -> None:
        self._sha512, self._sha1, self.size = hashlib.sha512(), hashlib.sha1(), 0

    def update(self, chunk: bytes) -> None:
        self._sha512.update(chunk)
        self._sha1.update(chunk)
        self.size += len(chunk)

    def digests(self) -> Digests:
        return Digests(self._sha512.digest(), self._sha1.hexdigest(), self.size)


def registry_url(explicit: str | None = None) -> str:
    """--registry, else the registry npm's environment names (NPM_CONFIG_REGISTRY in any
    case: the last set, as npm reads them), else the public registry."""
    named = filenames.npm_env(filenames.REGISTRY)
    url = explicit or (named[-1][1] if named else DEFAULT_REGISTRY)
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise RegistryError(f"registry {url!r} is not an http(s) URL")
    return url if url.endswith("/") else url + "/"


def _number(env: str, default: float) -> float:
    raw = os.environ.get(env)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise PackageTrustError(f"{env}={raw!r} is not a number of at least 0")
    return value


def check_integrity(digests: Digests, dist: Dist, what: str) -> list[str]:
    """Compare ``digests`` with every hash the registry gave; return the ones checked."""
    checked = []
    expected = statement.sha512_of(dist.integrity)
    if expected is not None:
        if expected != digests.sha512:
            raise IntegrityError(
                f"{what}: the tarball's sha512 does not match the registry's integrity "
                f"({dist.integrity}, got {digests.integrity}); refusing it"
            )
        checked.append("sha512")
    elif any(not part.startswith("sha1-") for part in (dist.integrity or "").split()):
        # only a sha1-only integrity may fall back to the shasum
        raise IntegrityError(
            f"{what}: unsupported integrity {dist.integrity!r} (not exactly one sha512)")
    if dist.shasum is not None:
        if dist.shasum.lower() != digests.sha1:
            raise IntegrityError(
                f"{what}: the tarball's sha1 does not match the registry's shasum "
                f"({dist.shasum}, got {digests.sha1}); refusing it"
            )
        checked.append("sha1")
    if not checked:
        raise IntegrityError(f"{what}: the registry publishes no hash for it; refusing it")
    return checked


class Registry:
    """A client for one registry, with timeouts and retries."""

    def __init__(self, url: str | None = None):
        self.url = registry_url(url)
        self.timeout = _number(TIMEOUT_ENV, DEFAULT_TIMEOUT)
        retries = int(_number(RETRIES_ENV, DEFAULT_RETRIES))
        retry = Retry(
            total=retries,
            connect=retries,
            read=min(retries, 1),  # a server that stopped answering gets one more chance
            status=retries,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            backoff_factor=0.5,
            raise_on_status=False,
        )
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"package-trust/{__version__}"
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def _get(self, url: str, accept: str) -> requests.Response:
        try:
            response = self.session.get(
                url, headers={"Accept": accept}, timeout=self.timeout, stream=True
            )
        except requests.RequestException as e:
            raise RegistryError(f"cannot reach the registry at {url}: {_reason(e)}") from None
        return response

    def packument(self, name: str) -> Packument:
        """Every published version of ``name`` with its dist."""
        url = self.url + quote(name, safe="@")
        with self._get(url, _ACCEPT) as response:
            if response.status_code == 404:
                raise RegistryError(f"package {name} does not exist in the registry {self.url}")
            _raise_for_status(response, url)
            body = _read(response, MAX_PACKUMENT_BYTES, url)
        try:
            data = safejson.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RegistryError(f"the registry's answer for {name} is not JSON ({url})") from None
        versions = data.get("versions") if isinstance(data, dict) else None
        if not isinstance(versions, dict):
            raise RegistryError(f"the registry's answer for {name} lists no versions ({url})")
        return Packument(name, {v: d for v, m in versions.items() if (d := _dist(m)) is not None})

    def dist(self, name: str, version: str) -> Dist:
        """The dist of ``name@version``; a version that was never published is an error."""
        found = self.packument(name).versions.get(version)
        if found is None:
            raise RegistryError(f"{name}@{version} does not exist in the registry {self.url}")
        return found

    def download(self, dist: Dist, out: IO[bytes], limit: int, label: str,
                 progress: bool = True) -> Digests:
        """Stream the tarball into ``out`` (at most ``limit`` bytes), hashing as it comes;
        a large one with a progress bar (``progress``), on a terminal."""
        if urlsplit(dist.tarball).scheme not in ("http", "https"):
            raise RegistryError(f"{label}: tarball URL {dist.tarball!r} is not http(s)")
        hasher = Hasher()
        with self._get(dist.tarball, "application/octet-stream") as response:
            if response.status_code == 404:
                raise RegistryError(f"{label}: the tarball is missing ({dist.tarball}: HTTP 404)")
            _raise_for_status(response, dist.tarball)
            too_large = RegistryError(
                f"{label}: the tarball is over the limit of {limit} bytes "
                f"(raise the limit with {MAX_BYTES_ENV})"
            )
            total = _content_length(response)
            if total is not None and total > limit:
                raise too_large
            bar = _Progress(label, total, progress)
            try:
                for chunk in response.iter_content(_CHUNK):
                    hasher.update(chunk)
                    if hasher.size > limit:
                        raise too_large
                    out.write(chunk)
                    bar.update(hasher.size)
            except requests.RequestException as e:
                raise RegistryError(f"{label}: download failed: {_reason(e)}") from None
            finally:
                bar.end()
        return hasher.digests()

    @contextlib.contextmanager
    def downloaded(self, dist: Dist, folder: Path, prefix: str, limit: int, label: str,
                   progress: bool = True) -> Iterator[tuple[Path, Digests, list[str]]]:
        """The tarball in a new file in ``folder``, its hashes checked against the
        registry's (and which were compared): the caller moves it into place, else it is
        removed."""
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=prefix, dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                digests = self.download(dist, out, limit, label, progress)
            yield Path(tmp), digests, check_integrity(digests, dist, label)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _dist(manifest: Any) -> Dist | None:
    dist = manifest.get("dist") if isinstance(manifest, dict) else None
    if not isinstance(dist, dict) or not isinstance(dist.get("tarball"), str):
        return None
    integrity, shasum = dist.get("integrity"), dist.get("shasum")
    return Dist(
        dist["tarball"],
        integrity if isinstance(integrity, str) else None,
        shasum if isinstance(shasum, str) else None,
    )


def _reason(e: requests.RequestException) -> str:
    if isinstance(e, requests.Timeout) or "timed out" in str(e).lower():
        return "timed out (set PACKAGE_TRUST_TIMEOUT to wait longer)"
    if isinstance(e, requests.exceptions.RetryError):
        return "the registry kept failing (HTTP 5xx)"
    if isinstance(e, requests.ConnectionError):
        return "connection failed (no network, or the registry is down)"
    return type(e).__name__


def _raise_for_status(response: requests.Response, url: str) -> None:
    if response.status_code != 200:
        raise RegistryError(f"the registry answered HTTP {response.status_code} for {url}")


def _content_length(response: requests.Response) -> int | None:
    raw = response.headers.get("Content-Length", "")
    return int(raw) if raw.isdigit() and "Content-Encoding" not in response.headers else None


def _read(response: requests.Response, limit: int, url: str) -> bytes:
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise RegistryError(f"the registry's answer is over {limit} bytes ({url})")
            chunks.append(chunk)
    except requests.RequestException as e:
        raise RegistryError(f"cannot read the registry's answer from {url}: {_reason(e)}") from None
    return b"".join(chunks)


class _Progress:
    """A progress bar on stderr for a large download, only when stderr is a terminal."""

    def __init__(self, label: str, total: int | None, shown: bool = True):
        self.label, self.total, self.done = label, total, 0
        self.enabled = shown and sys.stderr.isatty() and (
            total is None or total >= PROGRESS_FROM_BYTES)
        self.shown_at: float | None = None

    def update(self, done: int, final: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if not self.enabled or done < PROGRESS_FROM_BYTES:
            return
        if not final and self.shown_at is not None and now - self.shown_at < 0.1:
            return
        self.shown_at = now
        line = f"{self.label} {done / 1048576:.1f}"
        if self.total:
            bar = "#" * (30 * done // self.total)
            line = f"{self.label} [{bar:<30}] {done / 1048576:.1f}/{self.total / 1048576:.1f}"
        sys.stderr.write(f"\r{line} MiB")
        sys.stderr.flush()

    def end(self) -> None:
        if self.shown_at is not None:
            self.update(self.done, final=True)
            sys.stderr.write("\n")
