"""Many statements verified at once (check/gpgbatch.py), and the keyring's listing of its
keys (gpgstatus.listed_keys): real gpg, real keys."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path

import gnupg
import pytest

from package_trust.check import gpgbatch
from package_trust.check.gpg import Keyring, Verification
from package_trust.check.gpgstatus import listed_keys
from package_trust.check.ledger import LedgerFile
from package_trust.errors import GpgError
from support import Auditors, GpgLog, Key


def keyring(auditors: Auditors, keys: dict[str, Key], *names: str) -> Keyring:
    return Keyring([LedgerFile(f"{n}.asc", auditors.export(keys[n])) for n in names])


BAD = "bad signature: the statement was altered after signing"


@pytest.fixture(scope="module")
def mixed(auditors: Auditors, keys: dict[str, Key]) -> list[tuple[bytes, str | None]]:
    """150 statements, and the problem each has (None: good): tampered ones (gpg stops
    at each), an unknown key's, and refused ones, spread among good ones."""
    out: list[tuple[bytes, str | None]] = []
    good = auditors.statement(keys["alice"], "left-pad", "1.3.0")
    for n in range(150):
        signed = auditors.statement(keys["alice"] if n % 2 else keys["bob"], f"p{n}", "1.0.0")
        if n in (0, 7, 8, 71, 149):
            out.append((signed.replace(b'"p', b'"q'), BAD))
        elif n in (30, 31):
            out.append((auditors.statement(keys["carol"], f"p{n}", "1.0.0"), "signed by key "))
        elif n == 50:
            out.append((b"not a statement", "not a clearsigned statement"))
        elif n == 90:
            out.append((good + b" " * 70_000, "statement is too large"))
        else:
            out.append((signed, None))
    return out


def judged(verified: list[Verification], mixed: list[tuple[bytes, str | None]]
           ) -> list[str | None]:
    """Each problem as ``mixed`` names it: its start, for a key's (that names the key)."""
    return [v.problem[: len(p or "")] if v.problem else None
            for v, (_, p) in zip(verified, mixed, strict=True)]


@pytest.mark.parametrize("ahead", [8, 1])
def test_every_statement_is_judged_in_order(auditors: Auditors, keys: dict[str, Key],
                                            mixed: list[tuple[bytes, str | None]],
                                            gpg_log: GpgLog, monkeypatch: pytest.MonkeyPatch,
                                            ahead: int) -> None:
    """Two processes share the work; each bad signature ends a gpg and the rest goes on in
    a new one; every verification comes back in the statements' order."""
    monkeypatch.setattr(gpgbatch, "AHEAD", ahead)
    monkeypatch.setattr(gpgbatch, "DRAW", 4)
    with keyring(auditors, keys, "alice", "bob") as ring:
        verified = ring.verify_many([s for s, _ in mixed], workers=2)
    assert judged(verified, mixed) == [p for _, p in mixed]
    good = [v for v, (_, p) in zip(verified, mixed, strict=True) if p is None]
    assert all(v.plaintext and v.plaintext.startswith(b'{"package": "p') for v in good)
    assert len(gpg_log.verified()) >= 2 + 4  # two, and one after each tampered one but the last


@pytest.mark.parametrize("count", [16, 20])
def test_a_few_statements_go_to_one_gpg(auditors: Auditors, keys: dict[str, Key],
                                        gpg_log: GpgLog, count: int) -> None:
    """Another gpg starts for more than SMALL_BATCH (8) waiting while one holds 8."""
    statements = [auditors.statement(keys["alice"], f"p{n}", "1.0.0") for n in range(count)]
    with keyring(auditors, keys, "alice") as ring:
        assert all(v.good for v in ring.verify_many(statements, workers=4))
    shares = gpg_log.verified()
    assert sum(shares) == count and len(shares) == (1 if count == 16 else 2), shares


def test_every_gpg_started_has_work_and_no_good_statement_fails(
        auditors: Auditors, keys: dict[str, Key], gpg_log: GpgLog) -> None:
    """A gpg stopped by a bad signature hands its files back; a gpg started meanwhile is
    given names too (the newest first), so none ends idle and fails a good statement."""
    statements = [auditors.statement(keys["alice"], f"p{n}", "1.0.0") for n in range(17)]
    statements[2] = statements[2].replace(b'"p', b'"q')
    with keyring(auditors, keys, "alice") as ring:
        for _ in range(10):
            problems = [v.problem for v in ring.verify_many(statements, workers=2)]
            assert [n for n, p in enumerate(problems) if p] == [2], problems
            assert 0 not in gpg_log.verified()


def test_a_pause_gives_gpg_all_that_is_written(auditors: Auditors, keys: dict[str, Key]
                                                ) -> None:
    """A None among the statements says the next is a while coming: gpg is given every
    statement written so far, and verifies them all meanwhile."""
    statements = [auditors.statement(keys["alice"], f"p{n}", "1.0.0") for n in range(60)]
    unverified: list[set[str]] = []
    with keyring(auditors, keys, "alice") as ring:

        def later() -> Iterator[bytes]:
            time.sleep(0.5)
            [folder] = Path(ring.home).glob("verify-*")
            names = {p.name for p in folder.iterdir()}
            unverified.append({n for n in names if n.endswith(".asc")
                               and n.removesuffix(".asc") not in names})
            yield from ()

        verified = list(ring.verify(itertools.chain(statements, [None], later()), workers=2))
    assert len(verified) == 60 and all(v.good for _, v in verified)
    assert unverified == [set()]


def verifying_by(ring: Keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 command: str) -> None:
    """``ring`` verifies statements by running ``command`` instead of gpg."""
    wrapper = tmp_path / "gpg"
    wrapper.write_text(f'#!/bin/sh\ncase "$*" in *--decrypt-files) {command};; esac\n'
                       f'exec {ring._binary} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(ring, "_binary", str(wrapper))


@pytest.mark.parametrize("command", ["exit 2", "exec 0<&-; sleep 0.02; exit 2"],
                         ids=["ends", "takes-no-name"])
def test_a_gpg_that_verifies_nothing_fails_each_statement_once(
    auditors: Auditors, keys: dict[str, Key], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    command: str
) -> None:
    """A gpg that ends at once, every time, or takes no name at all: each statement fails,
    and the batch ends (each gpg started settles one)."""
    monkeypatch.setattr(gpgbatch, "GPG_TIMEOUT", 60)
    with keyring(auditors, keys, "alice") as ring:
        verifying_by(ring, tmp_path, monkeypatch, command)
        statements = [auditors.statement(keys["alice"], f"p{n}", "1.0.0") for n in range(70)]
        verified = ring.verify_many(statements, workers=2)
    assert {v.problem for v in verified} == {gpgbatch.UNPROCESSED}


def test_a_gpg_that_hangs_is_ended(auditors: Auditors, keys: dict[str, Key], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpgbatch, "GPG_TIMEOUT", 0.5)
    with keyring(auditors, keys, "alice") as ring:
        verifying_by(ring, tmp_path, monkeypatch, "exec sleep 60")
        with pytest.raises(GpgError, match=r"more than 0\.5 seconds"):
            ring.verify_many([auditors.statement(keys["alice"], "left-pad", "1.3.0")])


def test_the_keyrings_keys_are_listed_as_python_gnupg_lists_them(
    auditors: Auditors, keys: dict[str, Key]
) -> None:
    """gpg's colon listing, read here, says what python-gnupg says of the same keyring:
    a key with a subkey, an expired one, a revoked one."""
    revoked = auditors.create("revoked-in-gpgbatch")
    auditors.revoke(revoked)
    with keyring(auditors, {**keys, "revoked": revoked}, "alice", "dave", "erin",
                 "revoked") as ring:
        listed = ring.keys
        theirs = gnupg.GPG(gnupghome=ring.home).list_keys()
    assert set(listed) == {k["fingerprint"] for k in theirs}
    for k in theirs:
        info = listed[k["fingerprint"]]
        subkeys = k.get("subkey_info", {}).values()
        assert info.uids == tuple(k["uids"])
        assert info.expires == (int(k["expires"]) if k["expires"] else None)
        assert info.revoked == (k["trust"] == "r")
        assert info.subkeys == {s["fingerprint"]: s["trust"] == "r" for s in subkeys}
        assert info.subkey_expires == {
            s["fingerprint"]: int(s["expires"]) if s["expires"] else None for s in subkeys}


def test_a_listing_is_read_as_gpg_escapes_it() -> None:
    fpr, sub = "A" * 40, "B" * 40
    listing = (f"tru::1:1700000000:0:3:1:5\npub:r:255:22:{fpr[24:]}:1700000000:1800000000::-:::"
               f"scESC::::::23::0:\nfpr:::::::::{fpr}:\nuid:r::::1700000000::X::"
               "Ann \\x3a\\x5cx41 \\n <ann@example.org>::::::::::0:\n"
               f"sub:-:255:18:{sub[24:]}:1700000000::::::e::::::23:\nfpr:::::::::{sub}:\n"
               "pub:-:255:22:C:1:::-:::sc::::::23::0:\n")  # no fpr record: not a key
    [(found, info)] = listed_keys(listing).items()
    assert found == fpr
    assert info.uids == ("Ann :\\x41 \n <ann@example.org>",)
    assert (info.revoked, info.expires) == (True, 1800000000)
    assert (info.subkeys, info.subkey_expires) == ({sub: False}, {sub: None})


def test_no_scratch_file_is_left(auditors: Auditors, keys: dict[str, Key], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch,
                                 mixed: list[tuple[bytes, str | None]]) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with keyring(auditors, keys, "alice", "bob") as ring:
        ring.verify_many([s for s, _ in mixed])
        verifying = ring.verify(s for s, _ in mixed)
        next(verifying)  # never waited for to the end: close() ends it
    assert os.listdir(tmp_path) == []
    del verifying


def test_what_gpg_says_just_before_it_ends_is_read(auditors: Auditors, keys: dict[str, Key],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """gpg may write its last lines and end between the look that found its output empty
    and the one that finds it gone (the check descheduled meanwhile): they still count."""
    statements = [auditors.statement(keys["alice"], f"p{n}", "1.0.0") for n in range(3)]
    real = gpgbatch._Gpg.ended

    def late(self: gpgbatch._Gpg) -> bool:
        time.sleep(0.2)
        return real(self)

    monkeypatch.setattr(gpgbatch._Gpg, "ended", late)
    with keyring(auditors, keys, "alice") as ring:
        assert [v.problem for v in ring.verify_many(statements, workers=1)] == [None] * 3
