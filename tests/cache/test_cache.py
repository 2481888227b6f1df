"""The verification cache: what it spares, and that it never makes a failing check pass.

Which statements gpg really verified is observed through a logging wrapper around the
real gpg (PACKAGE_TRUST_GPG): each run's arguments, one line per gpg process.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from package_trust.cache import clearsign
from package_trust.check.gpg import Keyring
from package_trust.check.ledger import LedgerFile
from package_trust.cli import main
from support import REPO, Auditors, GpgLog, Key, Project, integrity_of


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "package-trust"  # conftest's XDG_CACHE_HOME


def key(auditors: Auditors, name: str) -> Key:
    """A key for one test, which may then be changed or revoked."""
    return auditors.keys.get(name) or auditors.create(name)


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """A check that the whole-result cache (tests/cache/test_resultcache.py) does not answer, so
    that what is tested here is the verification cache beneath it."""
    forget_results(Path(os.environ["XDG_CACHE_HOME"], "package-trust"))
    code = main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def forget_results(cache_dir: Path) -> None:
    """Empty the whole-result cache's table, if there is a database to empty."""
    path = cache_dir / "verifications.sqlite3"
    if not path.is_file():
        return
    with contextlib.closing(sqlite3.connect(path)) as db, contextlib.suppress(
            sqlite3.DatabaseError), db:
        db.execute("DELETE FROM result")


def rows(cache_dir: Path) -> list[dict[str, Any]]:
    """The verification table's rows, by column name."""
    with contextlib.closing(sqlite3.connect(cache_dir / "verifications.sqlite3")) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM verification")]


def two_packages(project: Project, first: Key, second: Key) -> None:
    """left-pad signed by ``first``, is-odd by ``second``; one signature needed."""
    for k in (first, second):
        project.add_key(k)
    project.policy([first, second])
    project.lockfile({"left-pad": "1.3.0", "is-odd": "3.0.1"})
    project.sign(first, "left-pad", "1.3.0")
    project.sign(second, "is-odd", "3.0.1")


def alice_signs(project: Project, alice: Key, names: list[str]) -> None:
    """A project trusting alice alone, with a lockfile of ``names`` at 1.0.0, all signed."""
    project.add_key(alice)
    project.policy([alice])
    project.lockfile({name: "1.0.0" for name in names})
    for name in names:
        project.sign(alice, name, "1.0.0")


# -- what the cache spares -------------------------------------------------------------------


def test_a_second_check_starts_no_gpg(project: Project, keys: dict[str, Key], gpg_log: GpgLog,
                                      cache_dir: Path, capsys) -> None:
    two_packages(project, keys["alice"], keys["dave"])  # dave signs with a subkey
    first = check(capsys)
    assert first[0] == 0
    assert gpg_log.verified() == [2]  # both statements, in one gpg process (a few)
    assert check(capsys) == first
    assert gpg_log.take() == []
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert len(rows(cache_dir)) == 2


def test_a_warm_check_still_needs_gpg(project: Project, keys: dict[str, Key], gpg_log: GpgLog,
                                      monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    two_packages(project, keys["alice"], keys["bob"])
    assert check(capsys)[0] == 0
    monkeypatch.setenv("PACKAGE_TRUST_GPG", "no-such-gpg")
    code, out = check(capsys)
    assert code == 2
    assert "gpg (GnuPG) is not installed" in out


def test_new_statements_are_verified_alone(project: Project, keys: dict[str, Key],
                                           gpg_log: GpgLog, capsys) -> None:
    two_packages(project, keys["alice"], keys["bob"])
    assert check(capsys)[0] == 0
    gpg_log.take()
    project.lockfile({"left-pad": "1.3.0", "is-odd": "3.0.1", "is-even": "1.0.0"})
    project.sign(keys["bob"], "is-even", "1.0.0")
    assert check(capsys)[0] == 0
    assert gpg_log.verified() == [1]


def test_failures_are_verified_every_time(project: Project, keys: dict[str, Key],
                                          gpg_log: GpgLog, cache_dir: Path, capsys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["carol"], "left-pad", "1.3.0")  # carol's key is not in keys/
    for _ in range(2):
        code, out = check(capsys)
        assert code == 1
        assert "not in the ledger's keys/" in out
        assert gpg_log.verified() == [1]
    assert rows(cache_dir) == []


def test_no_cache(project: Project, keys: dict[str, Key], gpg_log: GpgLog, cache_dir: Path,
                  monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    two_packages(project, keys["alice"], keys["bob"])
    assert check(capsys, "--no-cache")[0] == 0
    assert not cache_dir.exists()
    monkeypatch.setenv("PACKAGE_TRUST_NO_CACHE", "1")
    assert check(capsys)[0] == 0
    assert not cache_dir.exists()
    monkeypatch.delenv("PACKAGE_TRUST_NO_CACHE")
    assert check(capsys)[0] == 0
    gpg_log.take()
    assert check(capsys, "--no-cache")[0] == 0  # a warm cache is not read either
    assert gpg_log.verified() == [2]


# -- it never makes a check pass that a fresh verification would fail --------------------------


@pytest.mark.parametrize("change", ["revoked", "new-expiry"])
def test_a_changed_key_forgets_its_statements_only(
    project: Project, auditors: Auditors, keys: dict[str, Key], gpg_log: GpgLog, capsys,
    change: str,
) -> None:
    changed = key(auditors, f"cache-{change}")
    two_packages(project, keys["alice"], changed)
    assert check(capsys)[0] == 0
    gpg_log.take()
    if change == "revoked":
        auditors.revoke(changed)
    else:
        auditors.gpg("--quick-set-expire", changed.fingerprint, "3y")
    project.add_key(changed)  # the key as its owner publishes it now
    code, out = check(capsys)
    assert gpg_log.verified() == [1]  # alice's statement still came from the cache
    if change == "revoked":
        assert code == 1
        assert "is-odd@3.0.1" in out and "revoked" in out and "left-pad" not in out
    else:
        assert code == 0


def test_a_key_that_expires_after_caching(
    project: Project, auditors: Auditors, keys: dict[str, Key], gpg_log: GpgLog, capsys
) -> None:
    """A key that expires a few seconds after the first check: real time, no shortcut."""
    now = int(time.time())
    name = f"cache-expiring-{now}"
    # Created 100 s ago (--faked-system-time), so that it expires 6 s from now.
    auditors.gpg("--faked-system-time", str(now - 100), "--quick-gen-key",
                 f"{name} <{name}@example.org>", "ed25519", "sign", "seconds=106")
    out = auditors.gpg("--with-colons", "--list-keys", f"<{name}@example.org>").decode()
    fpr = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))
    expiring = Key(name, fpr, fpr)
    two_packages(project, keys["alice"], expiring)
    assert check(capsys)[0] == 0
    if time.time() >= now + 6:
        pytest.skip("the machine was too slow to check before the key expired")
    gpg_log.take()
    time.sleep(now + 7 - time.time())
    code, out = check(capsys)
    assert code == 1
    assert "is-odd@3.0.1" in out and "expired" in out
    assert gpg_log.verified() == [1]


def test_a_lapsed_entry_is_verified_again(project: Project, keys: dict[str, Key],
                                          gpg_log: GpgLog, cache_dir: Path, capsys) -> None:
    two_packages(project, keys["alice"], keys["grace"])
    project.sign(keys["grace"], "is-odd", "3.0.1", sig_expire="1y")
    assert check(capsys)[0] == 0
    year = 366 * 86400
    grace_row = next(r for r in rows(cache_dir) if r["primary_key"] == keys["grace"].fingerprint)
    assert 0 < grace_row["valid_until"] - time.time() < year  # until the signature expires
    gpg_log.take()
    with sqlite3.connect(cache_dir / "verifications.sqlite3") as db:  # a year later
        db.execute("UPDATE verification SET valid_until = ? WHERE primary_key = ?",
                   (int(time.time()) - 1, keys["grace"].fingerprint))
        db.execute("UPDATE verdict SET valid_until = ? WHERE valid_until IS NOT NULL",
                   (int(time.time()) - 1,))
    assert check(capsys)[0] == 0
    assert gpg_log.verified() == [1]


def test_a_tampered_plaintext_is_not_trusted(project: Project, keys: dict[str, Key],
                                             gpg_log: GpgLog, cache_dir: Path, capsys) -> None:
    two_packages(project, keys["alice"], keys["bob"])
    assert check(capsys)[0] == 0
    new = integrity_of(b"another tarball")
    project.lockfile([("left-pad", "1.3.0"), ("is-odd", "3.0.1")])
    lock = json.loads((project.root / "package-lock.json").read_text())
    lock["packages"]["node_modules/left-pad"]["integrity"] = new
    (project.root / "package-lock.json").write_text(json.dumps(lock))
    claim = json.dumps({"package": "left-pad", "version": "1.3.0", "time": 1700000000000,
                        "hash": {"sha512": new.removeprefix("sha512-"), "sha1": "0" * 40}})
    with sqlite3.connect(cache_dir / "verifications.sqlite3") as db:
        db.execute("UPDATE verification SET plaintext = ? WHERE primary_key = ?",
                   (claim.encode() + b"\n", keys["alice"].fingerprint))
    gpg_log.take()
    code, out = check(capsys)
    assert code == 1
    assert "integrity mismatch" in out
    assert gpg_log.verified() == [1]


def test_a_tampered_signer_is_not_trusted(project: Project, keys: dict[str, Key],
                                          gpg_log: GpgLog, cache_dir: Path, capsys) -> None:
    """carol's statement, claimed in the cache to be alice's (with alice's key digest)."""
    two_packages(project, keys["alice"], keys["carol"])
    project.policy([keys["alice"]])  # carol's key is in keys/, but not trusted
    assert check(capsys)[0] == 1
    alice = next(r for r in rows(cache_dir) if r["primary_key"] == keys["alice"].fingerprint)
    with sqlite3.connect(cache_dir / "verifications.sqlite3") as db:
        db.execute("UPDATE verification SET primary_key = ?, signer = ?, key_digest = ?, "
                   "signed_at = ? WHERE primary_key = ?",
                   (*(alice[c] for c in ("primary_key", "signer", "key_digest", "signed_at")),
                    keys["carol"].fingerprint))
    gpg_log.take()
    code, out = check(capsys)
    assert code == 1
    assert f"untrusted key {keys['carol'].fingerprint}" in out
    assert gpg_log.verified() == [1]


def test_a_corrupt_cache_is_ignored_and_rebuilt(project: Project, keys: dict[str, Key],
                                                gpg_log: GpgLog, cache_dir: Path,
                                                capsys) -> None:
    two_packages(project, keys["alice"], keys["bob"])
    assert check(capsys)[0] == 0
    for damage in (b"not a database at all", None):
        db = cache_dir / "verifications.sqlite3"
        data = db.read_bytes()
        db.write_bytes(damage if damage is not None else data[: len(data) // 2] + b"\0" * 99)
        gpg_log.take()
        assert check(capsys)[0] == 0
        assert gpg_log.verified() == [2]
        assert check(capsys)[0] == 0
        assert gpg_log.take() == []


def test_the_files_earlier_versions_kept_are_removed(
        project: Project, keys: dict[str, Key], cache_dir: Path, tmp_path: Path,
        capsys) -> None:
    """Results and parsed policies were files of their own before the one store: the
    store removes them when it is made, and follows no link doing so."""
    two_packages(project, keys["alice"], keys["bob"])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.json").write_text("{}")
    cache_dir.mkdir(parents=True, mode=0o700)
    (cache_dir / "results").mkdir()
    (cache_dir / "results" / "0a1b.json").write_text("{}")
    (cache_dir / "results" / "link").symlink_to(outside)
    (cache_dir / "policies").symlink_to(outside)
    assert check(capsys)[0] == 0
    assert not (cache_dir / "results").exists()
    assert (cache_dir / "policies").is_symlink() and (outside / "keep.json").is_file()


def test_an_unusable_cache_folder_is_no_cache(project: Project, keys: dict[str, Key],
                                              gpg_log: GpgLog, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    two_packages(project, keys["alice"], keys["bob"])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    for _ in range(2):
        assert check(capsys)[0] == 0
        assert gpg_log.verified() == [2]


def test_an_open_cache_folder_is_closed(project: Project, keys: dict[str, Key],
                                        cache_dir: Path, capsys) -> None:
    two_packages(project, keys["alice"], keys["bob"])
    cache_dir.mkdir(parents=True, mode=0o755)
    cache_dir.chmod(0o755)
    assert check(capsys)[0] == 0
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700


def test_two_checks_at_once(project: Project, keys: dict[str, Key], gpg_log: GpgLog,
                            cache_dir: Path, capsys) -> None:
    alice_signs(project, keys["alice"], [f"pkg-{n}" for n in range(12)])
    cmd = [sys.executable, "-m", "package_trust", "check"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "hook")}
    procs = [subprocess.Popen(cmd, cwd=project.root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all("All 12 packages are audited" in out for out in outs)
    gpg_log.take()
    assert check(capsys)[0] == 0
    assert gpg_log.take() == []
    assert len(rows(cache_dir)) == 12


# -- the batches gpg verifies, and what binds a cached result to a statement ------------------


def test_a_batch_of_long_statements(project: Project, keys: dict[str, Key], capsys) -> None:
    """gpg's --max-output counts all the files of a batch together."""
    names = [f"long-{n}" for n in range(8)]  # 19 kB each: two batches of 76 kB
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({name: "1.0.0" for name in names})
    for name in names:
        project.sign(keys["alice"], name, "1.0.0", notes="n" * 19_000)
    code, out = check(capsys, "--no-cache")
    assert code == 0, out


KNOWN = [  # texts whose cleartext is read from the statement exactly as gpg prints it
    b'{"package": "a"}',
    b'{"package": "a"}\n',
    b"trailing blanks  \t\nline\n\n",
    b"- a dash\n-- two\n---\nFrom here\n",
]
UNKNOWN = [b"crlf\r\nlines\r\n", b""]  # these may be left to gpg


@pytest.mark.parametrize("text", KNOWN + UNKNOWN)
def test_the_cleartext_is_what_gpg_prints(auditors: Auditors, keys: dict[str, Key],
                                          text: bytes) -> None:
    """Read from the bytes, the text and signature agree with gpg's, or are unknown."""
    signed = auditors.clearsign(keys["dave"], text)
    with Keyring([LedgerFile("dave.asc", auditors.export(keys["dave"]))]) as ring:
        [v] = ring.verify_many([signed])
    assert v.good
    assert clearsign.cleartext(signed) in (v.plaintext, None)
    if text in KNOWN:
        assert clearsign.cleartext(signed) == v.plaintext
    facts = clearsign.signature_facts(signed)
    assert facts is not None
    assert facts.names(v.signer or "") and not facts.names(keys["alice"].fingerprint)
    assert (facts.created, facts.expires) == (v.signed_at, v.expires)


def test_signature_facts_of_an_expiring_signature(auditors: Auditors, keys: dict[str, Key]) -> None:
    signed = auditors.statement(keys["grace"], "left-pad", "1.3.0", sig_expire="2d")
    facts = clearsign.signature_facts(signed)
    assert facts is not None and facts.created is not None and facts.expires is not None
    assert facts.expires - facts.created == 2 * 86400
    assert clearsign.signature_facts(signed.replace(b"-----END PGP", b"-----END GPG")) is None
    assert clearsign.signature_facts(b"not a statement") is None


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PACKAGE_TRUST_NO_CACHE", raising=False)
    yield


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores")
def test_many_statements_use_one_gpg_process_per_core(project: Project, keys: dict[str, Key],
                                                      gpg_log: GpgLog, capsys) -> None:
    """64 statements none cached: a gpg process per core shares them (another starts for
    each 8 waiting, gpgbatch.SMALL_BATCH)."""
    alice_signs(project, keys["alice"], [f"many-{n}" for n in range(64)])
    code, out = check(capsys)
    assert code == 0, out
    shares = gpg_log.verified()
    cores = os.cpu_count() or 1
    assert 2 <= len(shares) <= cores and sum(shares) == 64 and min(shares) >= 8, shares
