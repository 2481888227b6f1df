"""The memory opened ahead of the check (check/early.py: gpg imports the ledgers' keys
while the lockfiles are read), and which gpg is run (check/gpgbin.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from package_trust.check import gpgbin
from package_trust.cli import main
from support import Key, Project


def no_gpg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PACKAGE_TRUST_GPG", str(tmp_path / "no-such-gpg"))


def test_a_check_that_needs_no_gpg_passes_without_one(
    project: Project, keys: dict[str, Key], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No package to ask the ledger of: the keys opened ahead were never asked for, and
    their error (no gpg) is not the check's."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({})
    no_gpg(monkeypatch, tmp_path)
    assert main(["check", "--no-cache"]) == 0, capsys.readouterr()


def test_a_check_that_needs_gpg_says_it_is_missing(
    project: Project, keys: dict[str, Key], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    no_gpg(monkeypatch, tmp_path)
    assert main(["check", "--no-cache"]) == 2
    assert "gpg (GnuPG) is not installed" in capsys.readouterr().err


def test_a_bad_lockfile_leaves_no_keyring_behind(
    project: Project, keys: dict[str, Key], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The keys were being imported when the lockfile turned out malformed: exit 2
    naming it, and the keyring made meanwhile is removed."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    (project.root / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {\n')
    assert main(["check", "--no-cache"]) == 2
    assert "package-lock.json:2" in capsys.readouterr().err
    assert os.listdir(scratch) == []


def test_gpg_is_found_as_a_shell_finds_it(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
    (first / "my-gpg").mkdir()  # a folder of that name is not it
    (second / "my-gpg").write_text("#!/bin/sh\n")
    monkeypatch.setenv("PATH", f"{first}{os.pathsep}{second}")
    monkeypatch.setenv("PACKAGE_TRUST_GPG", "my-gpg")
    with pytest.raises(gpgbin.GpgError, match="not installed"):
        gpgbin.gpg_binary()  # not executable
    (second / "my-gpg").chmod(0o755)
    assert gpgbin.gpg_binary() == str(second / "my-gpg")
    monkeypatch.setenv("PACKAGE_TRUST_GPG", str(second / "my-gpg"))
    assert gpgbin.gpg_binary() == str(second / "my-gpg")
    monkeypatch.setenv("PACKAGE_TRUST_GPG", str(first / "my-gpg"))
    with pytest.raises(gpgbin.GpgError):
        gpgbin.gpg_binary()


def test_the_switch_interval_is_put_back(
    project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str],
) -> None:
    """While the keys are imported, the thread gets the GIL back sooner; after the check,
    passing or not, the interpreter switches threads as it did before."""
    before = sys.getswitchinterval()
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    assert main(["check", "--no-cache"]) == 0, capsys.readouterr()
    (project.root / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {\n')
    assert main(["check", "--no-cache"]) == 2
    assert sys.getswitchinterval() == before
