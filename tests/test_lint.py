"""ruff and mypy --strict are part of the test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import REPO

BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)


def test_ruff() -> None:
    proc = run(str(BIN / "ruff"), "check", "--output-format", "concise", "hook", "tests", "bench")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict() -> None:
    proc = run(str(BIN / "mypy"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
