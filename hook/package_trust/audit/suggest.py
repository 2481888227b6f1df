"""The review backlog (``package-trust suggest``): for every package that fails the check
or passes only by exemption, the cheapest review that would audit it, in lines read.

A full audit reads the tarball's text files (binary files counted apart, lines longer
than inspection.LONG_LINE flagged as minified); a delta from the nearest version the
ledgers' trusted keys already audited reads the diff (added and removed lines). Tarballs
come from the registry with their integrity checked, several at a time, and are kept by
sha512 in the user's cache folder.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shlex
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, TypeVar

from package_trust.audit import review, tarball
from package_trust.audit.inspection import LONG_LINE, is_binary, read_head, walk
from package_trust.audit.packages import digests_of
from package_trust.audit.registry import Dist, Packument, Registry, check_integrity
from package_trust.check import statement
from package_trust.check.interfaces import Memory
from package_trust.check.ledger import Ledger
from package_trust.check.names import is_valid_name, is_valid_version
from package_trust.check.policy import Policy
from package_trust.check.result import CheckResult, Status
from package_trust.errors import PackageTrustError

WORKERS = 8  # downloads at a time
WANTED = (Status.UNAUDITED, Status.EXEMPT)
T = TypeVar("T")
R = TypeVar("R")


class Candidate(NamedTuple):
    """A package the check does not pass on signatures: its tarball and its status."""

    name: str
    version: str
    sha512: bytes
    status: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


class Size(NamedTuple):
    """What a review reads: lines added and removed (a full audit: all added)."""

    added: int = 0
    removed: int = 0
    minified: int = 0  # lines among them longer than LONG_LINE characters
    binary: int = 0  # binary files (a delta: the binary files that changed)
    large: int = 0  # files too large to compare line by line, counted whole

    @property
    def lines(self) -> int:
        return self.added + self.removed


class Review(NamedTuple):
    """The cheapest review of a candidate: a delta from ``base``, or (None) in full."""

    candidate: Candidate
    base: str | None
    size: Size
    full_lines: int  # what a full audit would read

    @property
    def commands(self) -> list[str]:
        spec = shlex.quote(self.candidate.spec)
        if self.base is None:
            return [f"package-trust inspect {spec}",
                    f"package-trust sign {spec} --key YOUR-FINGERPRINT"]
        base = shlex.quote(self.base)
        return [f"package-trust inspect {spec} --diff-from {base}",
                f"package-trust sign {spec} --delta-from {base} --key YOUR-FINGERPRINT"]


class Unsized(NamedTuple):
    candidate: Candidate
    problem: str


class Backlog(NamedTuple):
    reviews: list[Review]  # smallest first
    unsized: list[Unsized]

    @property
    def lines(self) -> int:
        return sum(r.size.lines for r in self.reviews)


def candidates(result: CheckResult) -> list[Candidate]:
    """The registry packages that fail as unaudited or pass only by exemption, once each."""
    found: dict[tuple[str, str, bytes], Candidate] = {}
    for p in result.packages:
        digest = statement.sha512_of(p.integrity)
        if p.status in WANTED and p.source == "registry" and digest is not None and \
                is_valid_name(p.name) and is_valid_version(p.version):
            found.setdefault((p.name, p.version, digest),
                             Candidate(p.name, p.version, digest, p.status.value))
    return list(found.values())


def backlog(wanted: list[Candidate], policy: Policy, ledgers: Sequence[Ledger],
            registry_url: str | None, folder: Path | None, memory: Memory) -> Backlog:
    """Size the cheapest review of each candidate, with tarballs kept in ``folder`` (None:
    a temporary one)."""
    limits = tarball.Limits.from_env()
    with Clients(registry_url) as clients, _work(folder) as (kept, work):
        names = sorted({c.name for c in wanted})
        fetched = _parallel(names, lambda n: clients.get().packument(n), "packages listed")
        by_name = dict(zip(names, fetched, strict=True))
        audited = review.audited_many([p for p in fetched if isinstance(p, Packument)],
                                      policy, ledgers, memory)
        store = Tarballs(kept, work, limits, clients)

        def size(c: Candidate) -> Review:
            found = by_name[c.name]
            if not isinstance(found, Packument):
                raise found
            return _review(store, found, c, review.nearest(c.version, audited.get(c.name, [])))

        outcomes = _parallel(wanted, size, "packages sized")
    reviews = [r for r in outcomes if isinstance(r, Review)]
    unsized = [Unsized(c, str(r)) for c, r in zip(wanted, outcomes, strict=True)
               if not isinstance(r, Review)]
    reviews.sort(key=lambda r: (r.size.lines, r.candidate.name, r.candidate.version))
    return Backlog(reviews, sorted(unsized, key=lambda u: u.candidate.spec))


def _review(store: Tarballs, packument: Packument, c: Candidate, base: str | None) -> Review:
    """The cheaper of a full audit and a delta from ``base`` (when there is one)."""
    new = store.unpacked(packument, c.version, c.sha512)
    full = full_size(new)
    if base is not None:
        delta = delta_size(store.unpacked(packument, base, None), new)
        if delta.lines < full.lines:
            return Review(c, base, delta, full.lines)
    return Review(c, None, full, full.lines)


def full_size(folder: Path) -> Size:
    """What a full audit of an unpacked package reads."""
    lines = minified = binary = 0
    for _, path, st in walk(folder):
        if not stat.S_ISREG(st.st_mode):
            continue
        data = read_head(path, st.st_size)
        if is_binary(data):
            binary += 1
            continue
        text = data.split(b"\n")
        if text[-1] == b"":
            text.pop()
        lines += len(text)
        minified += sum(len(line) > LONG_LINE for line in text)
    return Size(lines, 0, minified, binary)


def delta_size(old: Path, new: Path) -> Size:
    """What a review of the diff between two unpacked versions reads."""
    added = removed = minified = binary = large = 0
    for c in review.changed_files(old, new, "a", "b"):
        if c.binary and not c.too_large:
            binary += 1
            continue
        a, b = c.lines()
        if c.too_large:
            large += 1
            added, removed = added + len(b), removed + len(a)
            continue
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes():
            if tag in ("replace", "delete"):
                removed += i2 - i1
            if tag in ("replace", "insert"):
                added += j2 - j1
                minified += sum(len(line) > LONG_LINE for line in b[j1:j2])
    return Size(added, removed, minified, binary, large)


class Clients:
    """A registry client for each thread (a session is not shared between threads)."""

    def __init__(self, url: str | None):
        self.url = url
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
        Registry(self.url).session.close()  # a bad URL fails here, once
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
            raise PackageTrustError(f"{spec} is not in the registry {self.clients.url or ''}")
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
        fd, tmp = tempfile.mkstemp(prefix=f".{digest.hex()[:16]}.partial-", dir=self.kept)
        try:
            with os.fdopen(fd, "wb") as out:
                got = self.clients.get().download(dist, out, self.limits.max_bytes, spec,
                                                  progress=False)
            check_integrity(got, dist, spec)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return path


@contextlib.contextmanager
def _work(folder: Path | None) -> Iterator[tuple[Path, Path]]:
    """Where tarballs are kept (``folder``, else a temporary folder), and a temporary
    folder to unpack them in."""
    from package_trust.check.folders import private_folder

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


def _parallel(items: Sequence[T], work: Callable[[T], R], done: str
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


def flags(size: Size) -> list[str]:
    """What a review's reader should know besides its lines."""
    out = [_count(size.minified, "minified line"), _count(size.binary, "binary file")]
    out.append(f"{_count(size.large, 'file')} too large to diff, counted whole"
               if size.large else "")
    return [f for f in out if f]


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}" if n else ""


def iter_lines(b: Backlog) -> Iterable[str]:
    """The backlog as text, smallest review first, the total last."""
    for r in b.reviews:
        what = "full audit" if r.base is None else \
            f"delta from {r.base} (+{r.size.added} -{r.size.removed})"
        extra = "".join(f", {f}" for f in flags(r.size))
        yield f"{r.size.lines} lines: {r.candidate.spec} ({r.candidate.status}): {what}{extra}"
        yield from (f"    {command}" for command in r.commands)
    if b.unsized:
        yield f"could not size {_count(len(b.unsized), 'package')}:"
        yield from (f"    {u.candidate.spec}: {u.problem.removeprefix(u.candidate.spec + ': ')}"
                    for u in b.unsized)
    yield f"audit backlog: {b.lines} lines ({len(b.reviews)} packages)"
