"""The review backlog (``package-trust suggest``): for every package that fails the check
or passes only by exemption, the cheapest review that would audit it, in lines read.

A full audit reads the tarball's text files (binary files counted apart, lines longer
than inspection.LONG_LINE flagged as minified); a delta from the nearest version the
ledgers' trusted keys already audited reads the diff (added and removed lines). Tarballs
come from the registry several at a time (downloads.py), kept by sha512 in the user's
cache folder.
"""

from __future__ import annotations

import difflib
import shlex
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from package_trust.audit import review, tarball
from package_trust.audit.downloads import Clients, Tarballs, parallel, work_folders
from package_trust.audit.inspection import LONG_LINE, is_binary, read_head, walk
from package_trust.audit.registry import Packument
from package_trust.check import statement
from package_trust.check.interfaces import Memory
from package_trust.check.ledger import Ledger
from package_trust.check.names import is_valid_name, is_valid_version
from package_trust.check.policy import Policy
from package_trust.check.result import CheckResult, Status

WANTED = (Status.UNAUDITED, Status.EXEMPT)


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
    with Clients(registry_url) as clients, work_folders(folder) as (kept, work):
        names = sorted({c.name for c in wanted})
        fetched = parallel(names, lambda n: clients.get().packument(n), "packages listed")
        by_name = dict(zip(names, fetched, strict=True))
        audited = review.audited_many([p for p in fetched if isinstance(p, Packument)],
                                      policy, ledgers, memory)
        store = Tarballs(kept, work, limits, clients)

        def size(c: Candidate) -> Review:
            found = by_name[c.name]
            if not isinstance(found, Packument):
                raise found
            return _review(store, found, c, review.nearest(c.version, audited.get(c.name, [])))

        outcomes = parallel(wanted, size, "packages sized")
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
