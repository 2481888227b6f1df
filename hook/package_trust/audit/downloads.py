"""Many tarballs at once, for ``suggest``: a registry client for each thread, tarballs
kept by sha512 (their integrity checked) and unpacked once each, and work done several
at a time with a progress bar.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from package_trust.audit import tarball
from package_trust.audit.packages import digests_of
from package_trust.audit.registry import (
    Dist,
    Packument,
    Registry,
    registry_url,
)
from package_trust.check import statement
from package_trust.check.folders import private_folder
from package_trust.errors import PackageTrustError

WORKERS = 8  # downloads at a time
T = TypeVar("T")
R = TypeVar("R")


class Clients:
    """A registry client for each thread (a session is not shared between threads)."""

    def __init__(self, url: str | None):
        self.url = registry_url(url)
        self._local = threading.local()
        self._all: list[Registry] = []
        self._lock = threading.Lock()

    def get(self) -> Registry:
        client: Registry | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = Registry(self.url)
            with self._lock:
                self._all.append(client)
        return client

    def __enter__(self) -> Clients:
        Registry(self.url).session.close()  # bad settings (timeout, retries) fail here, once
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._all:
            client.session.close()


class Tarballs:
    """Tarballs kept by sha512 (checked against the registry's integrity when fetched,
    against their name when reused), unpacked once each for this run."""

    def __init__(self, kept: Path, work: Path, limits: tarball.Limits, clients: Clients):
        self.kept, self.work, self.limits, self.clients = kept, work, limits, clients
        self._locks: dict[bytes, threading.Lock] = {}
        self._lock = threading.Lock()

    def unpacked(self, packument: Packument, version: str, expected: bytes | None) -> Path:
        """The folder of ``version`` unpacked: the registry's tarball, which must be the
        ``expected`` one (the lockfile's) when given."""
        spec = f"{packument.name}@{version}"
        dist = packument.versions.get(version)
        if dist is None:
            raise PackageTrustError(f"{spec} is not in the registry {self.clients.url}")
        digest = statement.sha512_of(dist.integrity)
        if digest is None:
            raise PackageTrustError(f"{spec}: the registry publishes no sha512 integrity")
        if expected is not None and digest != expected:
            raise PackageTrustError(f"{spec}: the registry serves another tarball than the "
                                    "lockfile's (its integrity differs)")
        with self._lock:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:
            folder = self.work / digest.hex()
            if not folder.is_dir():
                tarball.extract(self._tarball(spec, dist, digest), folder, self.limits)
            return folder

    def _tarball(self, spec: str, dist: Dist, digest: bytes) -> Path:
        path = self.kept / f"{digest.hex()}.tgz"
        if path.is_file() and digests_of(path).sha512 == digest:
            return path
        with self.clients.get().downloaded(dist, self.kept, f".{digest.hex()[:16]}.partial-",
                                           self.limits.max_bytes, spec, progress=False
                                           ) as (tmp, _, _):
            os.replace(tmp, path)
        return path


@contextlib.contextmanager
def work_folders(folder: Path | None) -> Iterator[tuple[Path, Path]]:
    """Where tarballs are kept (``folder``, else a temporary folder), and a temporary
    folder to unpack them in."""
    with tempfile.TemporaryDirectory(prefix="package-trust-suggest-") as tmp:
        kept = Path(tmp, "tarballs")
        if folder is not None:
            try:
                private_folder(folder)
                kept = folder
            except OSError:
                pass
        kept.mkdir(exist_ok=True)
        yield kept, Path(tmp, "unpacked")


def parallel(items: Sequence[T], work: Callable[[T], R], done: str
             ) -> list[R | PackageTrustError]:
    """``work`` on each item, several at a time, with a progress bar; what raised
    PackageTrustError (or a tarball's OSError) comes back as the error."""
    bar = Progress(done, len(items))

    def one(item: T) -> R | PackageTrustError:
        try:
            return work(item)
        except PackageTrustError as e:
            return e
        except OSError as e:
            return PackageTrustError(f"cannot keep or unpack a tarball: {e}")
        finally:
            bar.step()

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(one, items))
    finally:
        bar.end()


class Progress:
    """``[####      ] 12/40 packages sized`` on stderr, when it is a terminal."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.done = label, total, 0
        self.enabled = total > 0 and sys.stderr.isatty()
        self.shown_at: float | None = None
        self._lock = threading.Lock()

    def step(self) -> None:
        with self._lock:
            self.done += 1
            now = time.monotonic()
            if not self.enabled or (self.done < self.total and self.shown_at is not None
                                    and now - self.shown_at < 0.1):
                return
            self.shown_at = now
            bar = "#" * (30 * self.done // self.total)
            sys.stderr.write(f"\r[{bar:<30}] {self.done}/{self.total} {self.label}")
            sys.stderr.flush()

    def end(self) -> None:
        if self.shown_at is not None:
            sys.stderr.write("\n")

