"""Reading and verifying, overlapped: the records' statements are read from the ledgers as
gpg has room for them, and each record is handed back as soon as every one of its
statements is verified, to be judged while gpg verifies the rest."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

from package_trust.check.gpg import Verification
from package_trust.check.interfaces import Record, VerdictMemo, Verifier
from package_trust.check.ledger import Ledger


class Reading:
    """One pass over records: ``verified`` holds every verification made for them."""

    def __init__(self, ledgers: Sequence[Ledger], memo: VerdictMemo | None = None):
        self.verified: dict[bytes, Verification] = {}
        self._ledgers, self._memo = ledgers, memo
        self._waiting: dict[bytes, list[Record]] = {}  # statement -> records waiting for it
        self._ready: list[Record] = []

    def run(self, verifier: Verifier, records: Iterable[Record],
            kept: list[Record] | None = None) -> Iterator[Record]:
        """Each record, its statements read (``record.files``) and verified, in the
        order their verifications complete; every record by the end. ``kept``: records
        with a verdict kept, filled in as ``records`` are drawn; once those are read, the
        memo says which still need reading (the verifier works meanwhile)."""
        drawn: list[bytes] = []
        statements: Iterator[bytes | None] = self._statements(records, drawn)
        if kept is not None:
            statements = itertools.chain(statements, self._later(kept, drawn))
        for n, v in verifier.verify(statements):
            self.verified[drawn[n]] = v
            for r in self._waiting.pop(drawn[n], ()):
                r.waiting -= 1
                if not r.waiting:
                    self._ready.append(r)
            yield from self._handed()
        # a record still waiting lacks a verification: judged without it, it fails
        self._ready += dict.fromkeys(r for rs in self._waiting.values() for r in rs)
        self._waiting.clear()
        yield from self._handed()

    def _later(self, kept: list[Record], drawn: list[bytes]) -> Iterator[bytes | None]:
        """The statements of the kept records whose verdict no longer holds. First a
        None: the verifier is given all it holds while the memo checks them (only when
        there are some, as gpg shares out the last statements evenly only when it is not
        paused)."""
        if kept and self._memo is not None:
            yield None
            yield from self._statements(self._memo.reuse(kept), drawn)

    def _statements(self, records: Iterable[Record], drawn: list[bytes]) -> Iterator[bytes]:
        """Read each record's statements; those not yet verified nor drawn, for gpg. A
        record's bookkeeping is done before any of them is handed out: a verification
        may come back before the next is asked for."""
        for r in records:
            name, version = r.pkg.name, r.pkg.version
            r.files = [f for ledger in self._ledgers for f in ledger.statements(name, version)]
            if self._memo is not None:
                self._memo.read(r)  # now: the package may be read again later
            new: list[bytes] = []
            r.waiting = 0
            for data in dict.fromkeys(f.data for f in r.files if f.problem is None):
                if data in self.verified:
                    continue
                r.waiting += 1
                waiting = self._waiting.get(data)
                if waiting is None:
                    self._waiting[data] = [r]
                    new.append(data)
                else:
                    waiting.append(r)
            if not r.waiting:
                self._ready.append(r)
            for data in new:
                drawn.append(data)
                yield data

    def _handed(self) -> Iterator[Record]:
        ready, self._ready = self._ready, []
        return iter(ready)
