"""The cache as a command uses it: one store, opened once (``cached``: the one place where
``--no-cache`` and $PACKAGE_TRUST_NO_CACHE act), giving the engine a cached verifier and a
verdict memo (``check.interfaces.Memory``), and keeping whole-check results."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from package_trust.cache import results
from package_trust.cache.folder import directory, enabled, gpg_identity
from package_trust.cache.store import Store
from package_trust.check.filestat import Stats, changed_since, followed, stat_of
from package_trust.errors import GpgError

if TYPE_CHECKING:
    from pathlib import Path

    from package_trust.cache.verdicts import Verdicts
    from package_trust.cache.verifier import CachedVerifier
    from package_trust.check.interfaces import VerdictMemo, Verifier
    from package_trust.check.ledger import Ledger
    from package_trust.check.lockfile import Lockfile
    from package_trust.check.policy import Policy
    from package_trust.check.result import CheckResult


@contextlib.contextmanager
def cached(no_cache: bool = False) -> Iterator[Cache | None]:
    """The cache, for the ``with`` block; None when ``no_cache``, $PACKAGE_TRUST_NO_CACHE
    or an unusable folder says there is none."""
    store = None
    if not no_cache and enabled():
        with contextlib.suppress(RuntimeError):  # no home folder: no cache
            store = Store.open(directory())
    cache = Cache(store) if store is not None else None
    try:
        yield cache
    finally:
        if cache is not None:
            cache.store.close()


class Cache:
    """What remembers, for one command."""

    def __init__(self, store: Store):
        self.store = store
        self._gpg: str | None = None
        self._verifiers: list[CachedVerifier] = []
        self._verdicts: list[Verdicts] = []
        self._read: tuple[Stats, dt.date] | None = None
        # before any file is read: a file changed later has a ctime from then on (on a
        # file system whose clock ticks coarsely, up to a tick sooner: a change in the
        # command's first tick may go unseen)
        self._started = time.time_ns()

    @property
    def gpg(self) -> str:
        if self._gpg is None:
            self._gpg = gpg_identity()
        return self._gpg

    def open(self, policy: Policy, ledgers: Sequence[Ledger]) -> tuple[Verifier, VerdictMemo]:
        """A check's verifier and verdict memo (``interfaces.Memory``)."""
        from package_trust.cache.verdicts import open_verdicts
        from package_trust.cache.verifier import CachedVerifier
        from package_trust.check.interfaces import NoMemo, key_files

        verifier = CachedVerifier(key_files(ledgers), self.store, self.gpg, policy.fingerprints)
        self._verifiers.append(verifier)
        verdicts = open_verdicts(self.store, verifier.keyring_id, policy, ledgers)
        if verdicts is None:
            return verifier, NoMemo()
        self._verdicts.append(verdicts)
        return verifier, verdicts

    def policy(self, path: Path) -> Policy:
        """The policy at ``path``, parsed, or as parsed before from the same bytes."""
        from package_trust.cache import policies

        return policies.load(self.store, path)

    def report(self, key: bytes) -> str | None:
        """The report kept for a command, if it still holds (its exit code: 0)."""
        gpg = self._any_gpg()
        return results.lookup(self.store, key, gpg) if gpg is not None else None

    def _any_gpg(self) -> str | None:
        """``gpg``, or None when there is none: a check that needs none may still pass,
        but no result is kept or reused without one."""
        try:
            return self.gpg
        except (GpgError, OSError):
            return None

    def read(self, lockfiles: Sequence[Lockfile], ledgers: Sequence[Ledger], today: dt.date,
             probed: Sequence[Path] = ()) -> None:
        """Note, just after a check, what it read and on which day: what a result kept
        (``keep``) rests on, with the paths that choosing the lockfiles looked at
        (``probed``). Nothing, when a ledger cannot tell what would change it."""
        from package_trust.check.ledger import traced

        watched = [w for w in map(traced, ledgers) if w is not None]
        if len(watched) != len(ledgers):
            self._read = None
            return
        rests_on: Stats = {}
        for verdicts in self._verdicts:
            rests_on.update(verdicts.seen)
        for read in (*probed, *(q for lf in lockfiles for q in (lf.path, *lf.read))):
            for p in followed(str(read)):  # a link, and what it leads to
                signature = stat_of(p, True)
                if signature is not None and changed_since(signature, self._started):
                    self._read = None  # changed while the check ran: what it read is not
                    return  # known
                rests_on[p] = signature
        for w in watched:
            rests_on.update(w.observed)
        self._read = rests_on, today

    def keep(self, key: bytes, result: CheckResult, report: str) -> None:
        """Keep the report of the check ``read`` noted, if it passes."""
        gpg = self._any_gpg()
        if self._read is None or result.failing or gpg is None:
            return
        rests_on, today = self._read
        since, midnight = (dt.datetime.combine(day, dt.time()).timestamp()
                           for day in (today, today + dt.timedelta(days=1)))
        times = [*(v.valid_until for v in self._verifiers),
                 *(v.valid_until for v in self._verdicts)]
        until = min([midnight, *(t for t in times if t is not None)])
        results.keep(self.store, key, report, rests_on, gpg, since, until)
