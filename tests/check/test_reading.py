"""Reading and verifying, overlapped (check/reading.py, the batch's drawing in
check/gpgbatch.py): statements are read as gpg has room for them, and each package is
handed back to be judged as soon as its own statements are verified. Real gpg."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from package_trust.check import gpgbatch
from package_trust.check.gpg import KeyInfo, Keyring, Verification
from package_trust.check.interfaces import NoMemo, Record
from package_trust.check.ledger import LedgerFile
from package_trust.check.ledger.folder import FolderLedger
from package_trust.check.reading import Reading
from package_trust.check.result import PackageResult, Status
from support import Auditors, GpgLog, Key


def record(name: str, version: str = "1.0.0") -> Record:
    return Record(PackageResult(name, version, Status.UNAUDITED, 1, "package-lock.json", []),
                  b"")


class Logged(FolderLedger):
    """A folder ledger that notes each package it reads, in ``events``."""

    def __init__(self, root: Path, events: list[str]):
        super().__init__(root)
        self.events = events

    def statements(self, name: str, version: str) -> list[LedgerFile]:
        self.events.append(f"read {name}")
        time.sleep(0.002)  # a ledger on a slow disk: gpg has time to report meanwhile
        return super().statements(name, version)


@pytest.fixture
def ledger(auditors: Auditors, keys: dict[str, Key], tmp_path: Path) -> Path:
    """80 packages signed by alice; twin-a and twin-b hold the very same statement."""
    root = tmp_path / "ledger"
    (root / "keys").mkdir(parents=True)
    (root / "keys" / "alice.asc").write_bytes(auditors.export(keys["alice"]))
    for n in range(80):
        folder = root / "signatures" / f"p{n}" / "1.0.0"
        folder.mkdir(parents=True)
        (folder / "alice.sig").write_bytes(auditors.statement(keys["alice"], f"p{n}", "1.0.0"))
    twin = auditors.statement(keys["alice"], "twin-a", "1.0.0")
    for name in ("twin-a", "twin-b"):
        folder = root / "signatures" / name / "1.0.0"
        folder.mkdir(parents=True)
        (folder / "alice.sig").write_bytes(twin)
    return root


def test_packages_are_judged_while_others_are_still_read(ledger: Path) -> None:
    events: list[str] = []
    folder = Logged(ledger, events)
    records = [record(f"p{n}") for n in range(80)]
    with Keyring(folder.key_files()) as ring:
        reading = Reading([folder], NoMemo())
        for r in reading.run(ring, records):
            assert r.waiting == 0 and all(f.data in reading.verified for f in r.files)
            events.append(f"judged {r.pkg.name}")
    judged = [e for e in events if e.startswith("judged")]
    assert sorted(judged) == sorted(f"judged p{n}" for n in range(80))  # each once
    assert events.index(judged[0]) < events.index("read p79")  # overlapped
    assert all(v.good for v in reading.verified.values())


def test_a_statement_shared_by_two_packages_is_verified_once(
    ledger: Path, gpg_log: GpgLog
) -> None:
    folder = FolderLedger(ledger)
    records = [record("twin-a"), record("twin-b"), record("absent")]
    with Keyring(folder.key_files()) as ring:
        reading = Reading([folder])
        handed = list(reading.run(ring, records))
    assert sorted(r.pkg.name for r in handed) == ["absent", "twin-a", "twin-b"]
    assert gpg_log.verified() == [1]
    assert len(reading.verified) == 1


class Silent:
    """A verifier that draws every statement and answers none of them."""

    def __init__(self) -> None:
        self.keys: dict[str, KeyInfo] = {}
        self.notices: list[str] = []

    def verify(self, statements: Iterable[bytes]) -> Iterator[tuple[int, Verification]]:
        for _ in statements:
            pass
        return iter(())

    def close(self) -> None:
        pass


def test_a_package_whose_statement_is_never_answered_is_still_handed_back(
    ledger: Path,
) -> None:
    """Judged with no verification, it counts nothing: it fails (judge.py)."""
    reading = Reading([FolderLedger(ledger)])
    handed = list(reading.run(Silent(), [record("p1"), record("p2")]))
    assert sorted(r.pkg.name for r in handed) == ["p1", "p2"]
    assert reading.verified == {}


def test_gpg_starts_before_the_last_statement_is_drawn(
    auditors: Auditors, keys: dict[str, Key]
) -> None:
    statements = [auditors.statement(keys["alice"], f"p{n}", "1.0.0") for n in range(60)]
    events: list[str] = []

    def slowly() -> Iterator[bytes]:
        for n, s in enumerate(statements):
            events.append(f"drawn {n}")
            time.sleep(0.003)
            yield s

    with Keyring([LedgerFile("alice.asc", auditors.export(keys["alice"]))]) as ring:
        for n, v in ring.verify(slowly(), workers=2):
            assert v.good
            events.append(f"verified {n}")
    verified = [e for e in events if e.startswith("verified")]
    assert sorted(verified) == sorted(f"verified {n}" for n in range(60))
    assert events.index(verified[0]) < events.index("drawn 59")


def test_a_gpg_takes_no_more_than_it_may_write(
    auditors: Auditors, keys: dict[str, Key], gpg_log: GpgLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--max-output bounds all a gpg writes: past that many statements' bytes, another
    gpg takes the rest."""
    statements = [auditors.statement(keys["alice"], f"p{n}", "1.0.0") for n in range(12)]
    monkeypatch.setattr(gpgbatch, "OUTPUT_BUDGET", 4 * max(map(len, statements)))
    with Keyring([LedgerFile("alice.asc", auditors.export(keys["alice"]))]) as ring:
        verified = ring.verify_many(statements, workers=1)
    assert all(v.good for v in verified)
    shares = gpg_log.verified()
    assert sum(shares) == 12 and len(shares) >= 3 and max(shares) <= 4
