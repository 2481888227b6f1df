"""Where package-trust cannot run (Windows: no fcntl, O_DIRECTORY, O_NOFOLLOW, fchmod, user
ids), every command stops at once with one line naming the platforms it runs on, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from package_trust.cli import POSIX_NAMES, main

MESSAGE = ("package-trust: error: package-trust runs on Linux and macOS only, not on win32: "
           "it needs POSIX (O_DIRECTORY, O_NOFOLLOW, fchmod, getuid, geteuid, fcntl missing)\n")


@pytest.mark.parametrize("argv", [["check"], ["check", "--format", "github"], ["--version"],
                                  ["keys", "list"], ["no-such-command"]])
def test_windows_stops_every_command_with_one_line(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in POSIX_NAMES:
        monkeypatch.delattr(os, name)
    monkeypatch.setitem(sys.modules, "fcntl", None)  # import fcntl fails, as on Windows
    monkeypatch.setattr(sys, "platform", "win32")
    assert main(argv) == 2
    assert capsys.readouterr() == ("", MESSAGE)


def test_one_missing_name_is_enough(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delattr(os, "O_DIRECTORY")
    assert main(["check"]) == 2
    assert capsys.readouterr().err == (
        f"package-trust: error: package-trust runs on Linux and macOS only, not on "
        f"{sys.platform}: it needs POSIX (O_DIRECTORY missing)\n")


def test_the_command_imports_nothing_posix_before_the_check(tmp_path: Path) -> None:
    """``python -m package_trust`` in a Python without the POSIX names: the one line, no
    traceback, even though the commands' modules import fcntl."""
    names = ", ".join(repr(n) for n in POSIX_NAMES)
    script = (
        "import os, runpy, sys\n"
        f"for name in ({names}):\n"
        "    delattr(os, name)\n"
        "sys.modules['fcntl'] = None\n"
        "sys.platform = 'win32'\n"
        "sys.argv = ['package-trust', 'check']\n"
        "runpy.run_module('package_trust', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, cwd=tmp_path, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", MESSAGE)
