"""The check: every lockfile entry against the ledgers, under a policy. Never prints.

Load (lockfile/, policy.py, ledger/) -> judge (rounds.py, judge.py) -> result (result.py).
What verifies statements and what keeps verdicts is plugged in (interfaces.Memory): the
engine is the same with a cache or without one.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence

from package_trust.check import chains, judge, rounds
from package_trust.check.gpg import KeyInfo
from package_trust.check.interfaces import FRESH, Memory, Record, VerdictMemo, Verifier
from package_trust.check.ledger import Ledger
from package_trust.check.lockfile import Lockfile
from package_trust.check.policy import Policy
from package_trust.check.reading import Reading
from package_trust.check.result import CheckResult, LedgerInfo, PackageResult, Status
from package_trust.errors import PolicyError

REMEMBER = 128  # verdicts the memo is given at a time
FIRST_RECALL = 16  # packages triaged and asked of the memo before gpg starts: then twice
# as many at a time (up to MAX_RECALL) while gpg verifies
MAX_RECALL = 512


def check(
    lockfiles: Iterable[Lockfile],
    policy: Policy,
    ledgers: Sequence[Ledger],
    memory: Memory = FRESH,
    today: dt.date | None = None,
) -> CheckResult:
    """Check every dependency in ``lockfiles``; raise only when nothing could be checked."""
    today = today or dt.date.today()
    lockfiles = list(lockfiles)
    result = CheckResult(
        policy=policy.path,
        required=policy.minimum_signatures,
        lockfiles=[lf.path for lf in lockfiles],
        packages=[rounds.out_of_sync(x, policy) for lf in lockfiles for x in lf.out_of_sync],
        ledgers=[LedgerInfo(ledger.description, ledger.revision) for ledger in ledgers],
        # a ledger's own notices, such as a git ledger read from an old cached copy
        notices=[*(n for lf in lockfiles for n in lf.notices),
                 *(n for ledger in ledgers for n in ledger.notices)],
    )
    result.exemptions = policy.exemptions
    judging = _Judging(policy, ledgers, memory)
    try:
        groups, done = rounds.group(lockfiles), set[tuple[object, ...]]()
        for _ in range(rounds.MAX_ROUNDS):
            pkgs = judging.run(groups, today, result.notices)
            result.packages.extend(pkgs)
            rounds.require_shrinkwraps(groups, pkgs)
            rounds.cover_bundled(groups, pkgs)
            groups = rounds.pinned(groups, pkgs, done)
            if not groups:
                break
        else:
            result.packages += [rounds.too_deep(g, policy, today, result.notices)
                                for g in groups]
    finally:
        judging.close()
    result.notices.extend(n for n in judging.notices if n not in result.notices)
    return result


class _Judging:
    """Judges packages against the ledgers: one verifier and one verdict memo (opened
    when first needed) for every round of a check."""

    def __init__(self, policy: Policy, ledgers: Sequence[Ledger], memory: Memory):
        self.policy, self.ledgers, self._memory = policy, ledgers, memory
        self._opened: tuple[Verifier, VerdictMemo] | None = None
        self.notices: list[str] = []

    def _open(self) -> tuple[Verifier, VerdictMemo]:
        if self._opened is None:
            self._opened = verifier, _ = self._memory.open(self.policy, self.ledgers)
            self.notices += verifier.notices
            _require_keys(self.policy, verifier.keys, verifier.notices)
        return self._opened

    def close(self) -> None:
        if self._opened is not None:
            self._opened[0].close()

    def run(self, groups: list[rounds.Group], today: dt.date, notices: list[str]
            ) -> list[PackageResult]:
        """Each group's package, triaged, then judged by the ledger if it decides it
        (provisionally unaudited, or exempt). The triage goes on as gpg verifies the
        first packages' statements."""
        pkgs: list[PackageResult] = []
        records = self._triaged(groups, today, notices, pkgs)
        first = next(records, None)
        if first is not None:  # the verifier is opened only for a package that needs it
            self._judge(itertools.chain([first], records))
        for _ in records:  # all were drawn (a record not judged stays unaudited)
            pass
        for pkg in pkgs:
            judge.settle_exemption(pkg)
        return pkgs

    def _triaged(self, groups: list[rounds.Group], today: dt.date, notices: list[str],
                 pkgs: list[PackageResult]) -> Iterator[Record]:
        """Triage each group into ``pkgs``; a record of each package the ledger decides."""
        for g in groups:
            pkg = rounds.triage(g, self.policy, today, notices)
            pkgs.append(pkg)
            if rounds.asks_ledger(pkg):
                yield Record(pkg, judge.digest(pkg))

    def _judge(self, records: Iterable[Record]) -> None:
        """Judge each record as its statements are verified; the kept verdicts are checked
        once the others' statements are read (gpg verifies meanwhile), and a package whose
        kept verdict no longer holds is read and judged with them."""
        verifier, memo = self._open()
        kept: list[Record] = []
        reading = Reading(self.ledgers, memo)
        deltas: list[Record] = []
        judged: list[Record] = []
        for r in reading.run(verifier, _recalled(memo, records, kept), kept):
            judge.judge_statements(r, reading.verified, self.policy, verifier.keys)
            if chains.uses_deltas(r.pkg.statements):
                deltas.append(r)  # decided once the chains of audits are known
                continue
            judge.decide(r)
            judged.append(r)
            if len(judged) == REMEMBER:  # kept as they come, while gpg verifies the rest
                memo.remember(judged, reading.verified, verifier.keys)
                judged = []
        self._chains(deltas)
        for r in deltas:
            judge.decide(r)
        # a verdict resting on other versions' statements is not kept: judged afresh
        memo.remember(judged, reading.verified, verifier.keys)

    def _chains(self, records: list[Record]) -> None:
        """Delta audits: a package one counts for is audited when a chain of audits leads
        to it from a full audit (chains.py); the versions on the way are read and judged,
        a round for each link."""
        targets = [(r, chains.Target(r.pkg.name, chains.Node(r.pkg.version, r.digest),
                                     r.pkg.required))
                   for r in records if chains.uses_deltas(r.pkg.statements)]
        if not targets:
            return
        links: dict[str, dict[chains.Node, chains.Link]] = {}
        for r, t in targets:
            links.setdefault(t.name, {})[t.node] = chains.link_of(r.pkg.statements)
        outcomes = chains.resolve_all([t for _, t in targets], links, self._links)
        for (r, _), outcome in zip(targets, outcomes, strict=True):
            r.pkg.statements = chains.settle(r.pkg.statements, outcome)
            r.pkg.chain = chains.chain(outcome)

    def _links(self, asked: list[tuple[str, chains.Node]]
               ) -> dict[tuple[str, chains.Node], chains.Link]:
        """What the statements of each version asked for say of its tarball."""
        verifier, _ = self._open()
        records = [Record(PackageResult(name, node.version, Status.UNAUDITED, 0, "", []),
                          node.sha512) for name, node in asked]
        reading = Reading(self.ledgers)
        for r in reading.run(verifier, records):
            judge.judge_statements(r, reading.verified, self.policy, verifier.keys)
        return {key: chains.link_of(r.pkg.statements)
                for key, r in zip(asked, records, strict=True)}


def _recalled(memo: VerdictMemo, records: Iterable[Record], kept: list[Record]
              ) -> Iterator[Record]:
    """The records with no verdict kept, asked of the memo a few at a time (the first
    few, so that gpg starts at once); those with one go to ``kept``."""
    size, it = FIRST_RECALL, iter(records)
    while chunk := list(itertools.islice(it, size)):
        with_verdict, fresh = memo.recall(chunk)
        kept += with_verdict
        yield from fresh
        size = min(2 * size, MAX_RECALL)


def _require_keys(policy: Policy, keys: dict[str, KeyInfo], notices: list[str]) -> None:
    for k in policy.trusted_keys:
        if k.fingerprint not in keys:
            why = f" ({'; '.join(notices)})" if notices else ""
            raise PolicyError(
                f"trusted key {k.fingerprint} ({k.name}) is not in any ledger's keys/{why}",
                policy.path,
                k.line,
            )
