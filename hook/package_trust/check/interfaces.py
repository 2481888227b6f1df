"""The engine's plug-in point for memory: what verifies statements, and what keeps verdicts
from one check to the next. ``cache/`` implements it and the face wires it in; the engine
judges the same with it or without it (``FRESH``: gpg verifies everything, nothing kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from package_trust.check.gpg import KeyInfo, Keyring, Verification
from package_trust.check.ledger import Ledger, LedgerFile
from package_trust.check.policy import Policy
from package_trust.check.result import PackageResult


class Verifier(Protocol):
    """Verifies statements against a keyring (a Keyring, or a cache in front of one)."""

    keys: dict[str, KeyInfo]
    notices: list[str]  # the key files not used, and why (keyfiles.py)

    def verify(self, statements: Iterable[bytes | None]) -> Iterator[tuple[int, Verification]]:
        """Each statement's verification, by its position among ``statements``, as soon
        as it is made; the statements are drawn as the verifier has room for them. A None
        among them (not counted) says that the next will be a while coming: the verifier
        sets to work on what it holds."""

    def close(self) -> None: ...


class Record:
    """One package the ledger decides, as the engine judges it."""

    __slots__ = ("digest", "files", "memo", "pkg", "waiting")

    def __init__(self, pkg: PackageResult, digest: bytes) -> None:
        self.pkg = pkg
        self.digest = digest  # the sha512 a statement must carry to count (b"": none can)
        self.files: list[LedgerFile] = []  # its statements, once read
        self.memo: Any = None  # the verdict memo's own note: a kept verdict, what was read
        self.waiting = 0  # its statements read, not yet verified (reading.py)


class VerdictMemo(Protocol):
    """Verdicts kept by earlier checks. The engine asks in steps, so that what the memo
    checks overlaps with what gpg verifies."""

    def recall(self, records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
        """The records with a verdict kept (not yet known to hold), and the others."""

    def read(self, record: Record) -> None:
        """The record's statements were just read from the ledgers."""

    def reuse(self, records: list[Record]) -> list[Record]:
        """Fill in each record whose kept verdict still holds; the others, to be judged."""

    def remember(self, records: Sequence[Record], verified: dict[bytes, Verification],
                 keys: dict[str, KeyInfo]) -> None:
        """Keep what may be kept of the records just judged."""


class Memory(Protocol):
    """Opens, for one check, its verifier and its verdict memo."""

    def open(self, policy: Policy, ledgers: Sequence[Ledger]) -> tuple[Verifier, VerdictMemo]:
        """The verifier of the ledgers' keys (``key_files``), and the verdict memo."""


class NoMemo:
    """Keeps nothing: every package is judged afresh."""

    def recall(self, records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
        return [], list(records)

    def read(self, record: Record) -> None:
        pass

    def reuse(self, records: list[Record]) -> list[Record]:
        return records

    def remember(self, records: Sequence[Record], verified: dict[bytes, Verification],
                 keys: dict[str, KeyInfo]) -> None:
        pass


class Fresh:
    """No memory: a keyring of the ledgers' keys verifies every statement with gpg."""

    def open(self, policy: Policy, ledgers: Sequence[Ledger]) -> tuple[Verifier, VerdictMemo]:
        return Keyring(key_files(ledgers), trusted=policy.fingerprints), NoMemo()


def key_files(ledgers: Sequence[Ledger]) -> list[LedgerFile]:
    """Every ledger's key files, in order."""
    return [f for ledger in ledgers for f in ledger.key_files()]


FRESH = Fresh()
