"""Unpacking hostile tarballs: refused with a clear message, and nothing left behind."""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path

import pytest

from package_trust.audit.tarball import Limits, UnsafeTarball, extract, member_path
from package_trust.cli import main
from registry_server import FakeRegistry, entry, left_pad, manifest, tgz
from support import Project

PKG = {"package.json": manifest("evil", "1.0.0")}


def fetch_fails(project: Project, registry: FakeRegistry, tarball: bytes,
                capsys: pytest.CaptureFixture[str]) -> str:
    """Publish evil@1.0.0, fetch it, expect a refusal that leaves nothing; the message."""
    registry.publish("evil", "1.0.0", tarball)
    assert main(["fetch", "evil@1.0.0"]) == 2
    err = capsys.readouterr().err
    assert "evil@1.0.0: refusing the tarball" in err
    assert not project.fetched.exists()
    assert not (project.root.parent / "escaped").exists()
    return err


def test_dot_dot_path_is_refused(project: Project, registry: FakeRegistry, capsys) -> None:
    tarball = tgz(PKG, members=[entry("package/../../escaped", data=b"owned")])
    assert "climbs out of the package with '..'" in fetch_fails(project, registry, tarball, capsys)


def test_absolute_path_is_refused(project: Project, registry: FakeRegistry, capsys,
                                  tmp_path: Path) -> None:
    target = tmp_path / "escaped"
    tarball = tgz(PKG, members=[entry(str(target), data=b"owned")])
    assert "has an absolute path" in fetch_fails(project, registry, tarball, capsys)
    assert not target.exists()


def test_symlink_out_of_the_folder_is_refused(project: Project, registry: FakeRegistry,
                                              capsys) -> None:
    tarball = tgz(PKG, members=[
        entry("package/link", tarfile.SYMTYPE, linkname="../../.."),
        entry("package/link/escaped", data=b"owned"),
    ])
    err = fetch_fails(project, registry, tarball, capsys)
    assert "'package/link' is a symbolic link to '../../..'; refused" in err


def test_hard_link_and_device_are_refused(project: Project, registry: FakeRegistry,
                                          capsys) -> None:
    tarball = tgz(PKG, members=[entry("package/passwd", tarfile.LNKTYPE, linkname="/etc/passwd")])
    assert "is a hard link to '/etc/passwd'" in fetch_fails(project, registry, tarball, capsys)
    tarball = tgz(PKG, members=[entry("package/null", tarfile.CHRTYPE)])
    assert "is a device" in fetch_fails(project, registry, tarball, capsys)


def test_far_over_the_size_cap_is_refused(project: Project, registry: FakeRegistry,
                                          monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("PACKAGE_TRUST_MAX_SIZE", "100000")
    # 50 MB of zeros: a few kilobytes compressed, far over the cap unpacked
    bomb = tgz({**PKG, "zeros.bin": bytes(50_000_000)})
    assert len(bomb) < 100_000
    err = fetch_fails(project, registry, bomb, capsys)
    assert "unpacks to more than 100000 bytes" in err and "PACKAGE_TRUST_MAX_SIZE" in err


def test_too_many_files_are_refused(project: Project, registry: FakeRegistry,
                                    monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("PACKAGE_TRUST_MAX_FILES", "5")
    many = tgz({**PKG, **{f"f{i}.js": b"" for i in range(10)}})
    assert "more than 5 files" in fetch_fails(project, registry, many, capsys)


def test_folders_count_toward_the_file_cap(project: Project, registry: FakeRegistry,
                                           monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("PACKAGE_TRUST_MAX_FILES", "5")
    folders = tgz(PKG, members=[entry(f"package/d{i}/", tarfile.DIRTYPE) for i in range(10)])
    assert "more than 5 files and folders" in fetch_fails(project, registry, folders, capsys)


def test_not_a_tarball_is_refused(project: Project, registry: FakeRegistry, capsys) -> None:
    assert "not a valid gzipped tarball" in fetch_fails(project, registry, b"<html>", capsys)
    truncated = gzip.compress(b"package/package.json" + bytes(200))
    assert "not a valid gzipped tarball" in fetch_fails(project, registry, truncated, capsys)


def test_a_refused_version_keeps_what_was_fetched_before(project: Project,
                                                         registry: FakeRegistry,
                                                         capsys) -> None:
    registry.publish("left-pad", "1.2.0", left_pad("1.2.0"))
    assert main(["fetch", "left-pad@1.2.0"]) == 0
    registry.publish("left-pad", "1.3.0", tgz(PKG, members=[entry("../x")]))
    assert main(["fetch", "left-pad@1.3.0"]) == 2
    assert sorted(p.name for p in (project.fetched / "left-pad").iterdir()) == [
        "1.2.0", "1.2.0.tgz"]


def test_fetching_again_replaces_the_folder(project: Project, registry: FakeRegistry) -> None:
    registry.publish("left-pad", "1.3.0", left_pad())
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    stray = project.fetched / "left-pad/1.3.0/stray.js"
    stray.write_text("edited by hand")
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    assert not stray.exists()
    assert sorted(p.name for p in (project.fetched / "left-pad").iterdir()) == [
        "1.3.0", "1.3.0.tgz"]


def test_extract_strips_the_top_folder_and_keeps_only_the_execute_bit(tmp_path: Path) -> None:
    run = tarfile.TarInfo("node-foo/bin/run")
    run.mode, run.size = 0o4777, 2
    (tmp_path / "x.tgz").write_bytes(tgz({"package.json": b"{}"}, members=[(run, b"#!")]))
    extract(tmp_path / "x.tgz", tmp_path / "out", Limits())
    assert (tmp_path / "out/package.json").is_file()
    assert os.stat(tmp_path / "out/bin/run").st_mode & 0o7777 == 0o755
    assert os.stat(tmp_path / "out/package.json").st_mode & 0o7777 == 0o644


@pytest.mark.parametrize("name", ["/etc/passwd", "C:\\x", "a/../../b", "package\\..\\..\\b",
                                  "a\0b"])
def test_member_path_refuses(name: str) -> None:
    with pytest.raises(UnsafeTarball):
        member_path(name)


def test_member_path_strips_the_first_component() -> None:
    assert member_path("package/lib/./a.js") == ["lib", "a.js"]
    assert member_path("package/") is None
    assert member_path("./package/a.js") == ["a.js"]


def test_a_huge_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A small tarball whose pax header alone unpacks to 20 MB (tarfile would read it
    whole into memory): refused once the stream passes what the limits leave room for."""
    member = tarfile.TarInfo("package/index.js")
    member.pax_headers = {"comment": "x" * 20_000_000}
    (tmp_path / "x.tgz").write_bytes(tgz({"package.json": b"{}"}, members=[(member, b"")]))
    with pytest.raises(UnsafeTarball, match="more than its limits allow"):
        extract(tmp_path / "x.tgz", tmp_path / "out", Limits(max_bytes=1000, max_files=10))
    assert not (tmp_path / "out").exists()
