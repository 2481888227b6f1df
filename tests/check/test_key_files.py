"""Each key file of keys/ on its own: no file anyone adds by pull request can hide,
replace or un-revoke another file's key, nor stop the check (keyfiles.py)."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from package_trust.cli import main
from support import Auditors, Key, Project

ORDERS = ["sorts first", "sorts last"]


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def status(report: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["status"] for p in report["packages"]}


def named(order: str, name: str) -> str:
    """A file name that sorts before every key file (fingerprints) or after them all."""
    return f"{'0' if order == 'sorts first' else 'z'}-{name}"


def notice_on(report: dict[str, Any], file: str) -> str:
    [notice] = [n for n in report["notices"] if f"keys/{file}" in n]
    return str(notice)


@pytest.fixture
def alice_signed(project: Project, keys: dict[str, Key]) -> Project:
    """alice (trusted) signed left-pad; bob's key is there too."""
    project.add_key(keys["alice"])
    project.add_key(keys["bob"])
    project.policy([keys["alice"], keys["bob"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    return project


def add_file(project: Project, name: str, data: bytes) -> None:
    (project.root / "keys" / name).write_bytes(data)


def binary(auditors: Auditors, key: Key) -> bytes:
    return auditors.gpg("--export-options", "export-minimal", "--export", key.fingerprint)


def corrupt(armored: bytes) -> bytes:
    """The armor with one character of its base64 changed (its checksum no longer holds)."""
    lines = armored.split(b"\n")
    lines[3] = (b"B" if lines[3][:1] != b"B" else b"C") + lines[3][1:]
    return b"\n".join(lines)


def packet(tag: int, body: bytes) -> bytes:
    """An OpenPGP packet (new format, five-octet length)."""
    return bytes([0xC0 | tag, 0xFF]) + len(body).to_bytes(4, "big") + body


def key_packets(auditors: Auditors, key: Key) -> tuple[bytes, bytes, bytes]:
    """The bodies of a key's packets: key, user ID, self-signature."""
    from package_trust.check.keypackets import _packets

    [(_, body), (_, uid), (_, sig)] = _packets(binary(auditors, key)) or []
    return body, uid, sig


def slow_key(key: bytes, uid: bytes, sig: bytes, uids: int) -> bytes:
    """The key with more user IDs, each with a copy of its self-signature (bad for all
    but the first): gpg checks each bad one again for every user ID."""
    return packet(6, key) + b"".join(packet(13, uid + b"%d" % n) + packet(2, sig)
                                     for n in range(uids))


def compressed(data: bytes) -> bytes:
    """``data`` in an OpenPGP compressed packet, as a compression bomb would be."""
    body = bytes([1]) + zlib.compress(data)[2:-4]  # raw deflate (algorithm 1, ZIP)
    return bytes([0xC8, 0xFF]) + len(body).to_bytes(4, "big") + body


def key_holding(auditors: Auditors, owner: Key, target: str, name: str,
                usage: str = "") -> bytes:
    """A new key holding ``target`` (``owner``'s primary key or a subkey) as a subkey:
    the same key material and creation time, so the same fingerprint. Made apart from
    the session's auditors, where ``owner``'s secret keys are copied; ``usage``: key
    edit answers toggling capabilities (e.g. ``S\\nA`` for authentication only)."""
    forger = Auditors()
    try:
        forger.gpg("--import", data=auditors.gpg("--export-secret-keys", owner.fingerprint))
        key = forger.create(name, expire="10y", past=True)
        listing = forger.gpg("--with-colons", "--with-keygrip", "--list-keys",
                             owner.fingerprint).decode()
        created, fpr, grip = "", "", ""
        for field in (line.split(":") for line in listing.splitlines()):
            if field[0] in ("pub", "sub") and fpr != target:
                created = field[5]
            elif field[0] == "fpr":
                fpr = field[9]
            elif field[0] == "grp" and fpr == target:
                grip = grip or field[9]
        answers = f"addkey\n13\n{grip}\n{usage + chr(10) if usage else ''}Q\n2y\nsave\n"
        forger.gpg("--faked-system-time", f"{created}!", "--expert", "--command-fd", "0",
                   "--edit-key", key.fingerprint, data=answers.encode())
        return forger.export(key)
    finally:
        forger.close()


# A file anyone adds is read on its own: whatever it holds, the others still count.

@pytest.mark.parametrize("case", ["corrupt armor", "secret key", "compressed", "too many packets",
                                  "self-signatures", "version 5", "garbage", "empty",
                                  "a signature"])
def test_a_bad_file_is_a_notice_and_the_trusted_key_still_verifies(
    case: str, alice_signed: Project, auditors: Auditors, keys: dict[str, Key],
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = keys["alice"]
    key, uid, sig = key_packets(auditors, alice)
    data, reason = {
        "corrupt armor": (corrupt(auditors.export(keys["carol"])), "cannot read it whole"),
        "secret key": (auditors.gpg("--armor", "--export-secret-keys", keys["carol"].fingerprint),
                       "holds a SECRET key"),
        "compressed": (compressed(binary(auditors, alice)), "packet type 8"),
        "too many packets": (binary(auditors, alice) + b"\xcd\x01x" * 1001, "more than 1000"),
        "self-signatures": (slow_key(key, uid, sig, 100), "more self-signatures than gpg"),
        "version 5": (packet(6, b"\x05" + key[1:]) + packet(13, uid) + packet(2, sig),
                      "version other than 4"),
        "garbage": (b"not a key\n", "holds no OpenPGP key"),
        "empty": (b"", "holds no OpenPGP key"),
        "a signature": (auditors.statement(alice, "left-pad", "1.3.0"), "not well-formed"),
    }[case]
    add_file(alice_signed, "0-bad.asc", data)  # sorts before every other key file
    code, report = check(capsys)
    assert code == 0
    assert status(report) == {"left-pad": "audited"}
    assert reason in notice_on(report, "0-bad.asc")
    assert "key file not used" in notice_on(report, "0-bad.asc")


def test_a_binary_key_file_counts(project: Project, auditors: Auditors, keys: dict[str, Key],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    add_file(project, f"{alice.fingerprint}.gpg", binary(auditors, alice))
    project.policy([alice])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(alice, "left-pad", "1.3.0")
    code, report = check(capsys)
    assert (code, report["notices"]) == (0, [])


@pytest.mark.parametrize("order", ORDERS)
def test_a_key_holding_a_trusted_key_as_subkey_is_not_used(
    order: str, alice_signed: Project, auditors: Auditors, keys: dict[str, Key],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With that key read first, gpg would refuse alice's own key ("doesn't match our
    copy") and credit her signatures to the other; read after, it would hide nothing."""
    alice = keys["alice"]
    evil = key_holding(auditors, alice, alice.fingerprint, f"mallory-{order[-4:]}")
    add_file(alice_signed, named(order, "evil.asc"), evil)
    code, report = check(capsys)
    assert code == 0
    [statement] = report["packages"][0]["statements"]
    assert statement["fingerprint"] == alice.fingerprint
    notice = notice_on(report, named(order, "evil.asc"))
    assert f"holds key {alice.fingerprint}" in notice and "as a subkey" in notice


def without_backsig(auditors: Auditors, armored: bytes) -> bytes:
    """The key with its subkey's back-signature (the subkey's consent to sign for it)
    cut from its binding signature's unhashed area, where gpg puts it: what anyone can
    make who holds the primary key's secret but not the subkey's."""
    from package_trust.check.keypackets import _packets

    out, previous = b"", 0
    for tag, body in _packets(auditors.gpg("--dearmor", data=armored)) or []:
        if tag == 2 and previous == 14:
            hashed = int.from_bytes(body[4:6], "big")
            start = 8 + hashed
            end = start + int.from_bytes(body[6 + hashed:start], "big")
            kept, pos = b"", start
            while pos < end:  # the unhashed subpackets: one-octet lengths here
                assert body[pos] < 192
                size = body[pos] + 1
                if body[pos + 1] & 0x7F != 32:  # not an embedded signature
                    kept += body[pos:pos + size]
                pos += size
            body = body[:6 + hashed] + len(kept).to_bytes(2, "big") + kept + body[end:]
        out += packet(tag, body)
        previous = tag
    return out


CLAIMS = {"for authentication": "S\nA", "for signing, without the subkey's consent": ""}


@pytest.fixture
def dave_signed(project: Project, keys: dict[str, Key]) -> Project:
    """alice signed left-pad; dave signed right-pad with his subkey; both are trusted."""
    alice, dave = keys["alice"], keys["dave"]
    project.add_key(alice)
    project.add_key(dave)
    project.policy([alice, dave])
    project.lockfile({"left-pad": "1.3.0", "right-pad": "1.0.0"})
    project.sign(alice, "left-pad", "1.3.0")
    project.sign(dave, "right-pad", "1.0.0")  # made with dave's subkey
    return project


def claim(auditors: Auditors, keys: dict[str, Key], how: str, name: str) -> bytes:
    """A new key holding dave's signing subkey, as anyone could make it."""
    dave = keys["dave"]
    evil = key_holding(auditors, dave, dave.signing, name, CLAIMS[how])
    return without_backsig(auditors, evil) if CLAIMS[how] == "" else evil


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("how", CLAIMS)
def test_a_key_claiming_a_trusted_keys_subkey_is_not_used(
    order: str, how: str, dave_signed: Project, auditors: Auditors, keys: dict[str, Key],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another key claiming dave's signing subkey: gpg would credit its signatures to
    whichever file it meets first. A file anyone adds cannot take a trusted key's subkey
    (only dave could have bound it to his key): that file is not used, whatever the
    order, and dave's signatures count."""
    dave = keys["dave"]
    evil = claim(auditors, keys, how, f"mallory-{order[-4:]}-{len(CLAIMS[how])}")
    add_file(dave_signed, named(order, "evil.asc"), evil)
    for args in ([], ["--no-cache"]):
        code, report = check(capsys, *args)
        assert code == 0
        assert status(report) == {"left-pad": "audited", "right-pad": "audited"}
        notice = notice_on(report, named(order, "evil.asc"))
        assert f"holds subkey {dave.signing} of trusted key {dave.fingerprint}" in notice


@pytest.mark.parametrize("order", ORDERS)
def test_a_subkey_two_trusted_keys_hold_counts_for_neither(
    order: str, dave_signed: Project, auditors: Auditors, keys: dict[str, Key],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Where the policy trusts both keys holding a subkey, neither can be told to be its
    owner: its signatures count for neither key, and the rest counts."""
    alice, dave = keys["alice"], keys["dave"]
    evil = claim(auditors, keys, "for authentication", f"mallory-trusted-{order[-4:]}")
    add_file(dave_signed, named(order, "evil.asc"), evil)
    [mallory] = [line.split(":")[9] for line in auditors.gpg(
        "--with-colons", "--import-options", "show-only", "--import", data=evil
    ).decode().splitlines() if line.startswith("fpr")][:1]
    dave_signed.policy([alice, dave, Key("mallory", mallory, mallory)])
    code, report = check(capsys)
    assert code == 1
    assert status(report) == {"left-pad": "audited", "right-pad": "unaudited"}
    [notice] = [n for n in report["notices"] if dave.signing[-16:] in n]
    assert f"keys/{dave.fingerprint}.asc" in notice and f"keys/{named(order, 'evil.asc')}" in notice
    assert "count for none of them" in notice


@pytest.mark.parametrize("trusted", [True, False])
def test_a_key_sharing_a_trusted_keys_key_id_is_not_used(trusted: bool) -> None:
    """Two primary keys with one key ID (64 bits: hard to make, but gpg would take one
    for the other): where one is trusted, the other file is not used; else neither."""
    from package_trust.check.keyfiles import Held, Vetted, plan

    ours, theirs = "A" * 24 + "0123456789ABCDEF", "B" * 24 + "0123456789ABCDEF"
    files = [Vetted("keys/ours.asc", b"", Held({ours: frozenset()}, 0)),
             Vetted("keys/evil.asc", b"", Held({theirs: frozenset()}, 0))]
    planned = plan(files, frozenset({ours} if trusted else set()))
    assert [v.origin for v in planned.files] == (["keys/ours.asc"] if trusted else [])
    assert [n.split(":")[0] for n in planned.notices] == (
        ["keys/evil.asc"] if trusted else ["keys/ours.asc", "keys/evil.asc"])


# Revocations: a certificate revokes the key it names, wherever its file sorts, and no
# other file can take a revocation back.

def revocable(project: Project, auditors: Auditors, name: str) -> Key:
    """A new trusted key, in keys/, that signed left-pad."""
    key = auditors.keys.get(name) or auditors.create(name)
    project.add_key(key)
    project.policy([key])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(key, "left-pad", "1.3.0")
    return key


def assert_revoked(capsys: pytest.CaptureFixture[str]) -> None:
    for args in ([], ["--no-cache"]):
        code, report = check(capsys, *args)
        assert code == 1
        assert "revoked key" in report["packages"][0]["statements"][0]["problem"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("bad_file", [False, True])  # then gpg lists each file on its own
def test_a_revocation_certificate_revokes_its_key_wherever_its_file_sorts(
    order: str, bad_file: bool, project: Project, auditors: Auditors,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = revocable(project, auditors, f"revoked-{order[-4:]}-{bad_file}")
    assert check(capsys)[0] == 0
    add_file(project, named(order, "revocation.asc"), auditors.revocation(key))
    if bad_file:
        add_file(project, "bad.asc", b"not a key\n")
    assert_revoked(capsys)


def test_a_key_file_sorting_between_cannot_take_the_revocation(
    project: Project, auditors: Auditors, keys: dict[str, Key],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Read as one stream, the certificate would follow carol's key and be taken as
    hers (and dropped): the key it names would stay good."""
    key = revocable(project, auditors, "revoked-between")
    (project.root / "keys" / f"{key.fingerprint}.asc").rename(project.root / "keys" / "a.asc")
    add_file(project, "b.asc", auditors.export(keys["carol"]))
    add_file(project, "c.asc", auditors.revocation(key))
    assert_revoked(capsys)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("revoked_by", ["certificate file", "the key file"])
def test_a_copy_without_the_revocation_does_not_undo_it(
    order: str, revoked_by: str, project: Project, auditors: Auditors,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = revocable(project, auditors, f"unrevoked-{order[-4:]}-{revoked_by[-4:]}")
    unrevoked = auditors.export(key)
    if revoked_by == "the key file":  # the certificate follows the key, in its own file
        project.add_key(key, unrevoked + auditors.revocation(key))
    else:
        add_file(project, "revocation.asc", auditors.revocation(key))
    add_file(project, named(order, "copy.asc"), unrevoked)
    assert_revoked(capsys)


# What the notices say, wherever the check reads them from.

def test_notices_come_back_from_the_cache_and_name_problem_files(
    alice_signed: Project, capsys: pytest.CaptureFixture[str],
) -> None:
    add_file(alice_signed, "0-bad.asc", b"not a key\n")
    big = alice_signed.root / "keys" / "big.asc"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    first = check(capsys)
    again = check(capsys)  # the keyring's listing and notices, from the cache
    fresh = check(capsys, "--no-cache")
    for code, report in (first, again, fresh):
        assert code == 0
        assert "holds no OpenPGP key" in notice_on(report, "0-bad.asc")
        assert "is larger than" in notice_on(report, "big.asc")
    assert first[1]["notices"] == again[1]["notices"] == fresh[1]["notices"]


def test_keys_list_names_a_file_not_used(alice_signed: Project,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    add_file(alice_signed, "0-bad.asc", b"not a key\n")
    assert main(["keys", "list"]) == 0
    out = capsys.readouterr().out
    assert "!! ./keys/0-bad.asc: holds no OpenPGP key (key file not used)" in out
    assert "trusted as Alice" in out


def test_a_file_gpg_reads_too_slowly_is_not_used(
    alice_signed: Project, auditors: Auditors, keys: dict[str, Key],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """gpg checks each bad self-signature again for every user ID: sixty user IDs, each
    with a copy of alice's self-signature, take it seconds (short of MAX_SELF_CHECKS)."""
    from package_trust.check import gpg

    monkeypatch.setattr(gpg, "VET_TIMEOUT", 0.2)
    add_file(alice_signed, "0-slow.gpg", slow_key(*key_packets(auditors, keys["alice"]), 60))
    code, report = check(capsys)
    assert (code, status(report)) == (0, {"left-pad": "audited"})
    assert "gpg took too long to read it" in notice_on(report, "0-slow.gpg")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_screening_takes_any_bytes(data: bytes) -> None:
    """Whatever a file holds, it is judged (packet types, or why not), never a crash."""
    from package_trust.check.keypackets import screen

    assert isinstance(screen(data), (list, str))
