from __future__ import annotations

import pytest

from package_trust.cli import main
from support import Key, Project


def test_trusted_signature_passes(
    project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]
) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    assert main(["check"]) == 0
    assert "All 1 package is audited" in capsys.readouterr().out
