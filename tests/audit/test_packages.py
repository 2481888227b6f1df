"""Fetched packages on disk: nothing is written through a link below --dest."""

from __future__ import annotations

import pytest

from package_trust.cli import main
from registry_server import FakeRegistry, left_pad
from support import Project


@pytest.mark.parametrize("link", ["left-pad", "left-pad/1.3.0"])
def test_fetch_never_writes_through_a_link(project: Project, registry: FakeRegistry, link: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    registry.publish("left-pad", "1.3.0", left_pad())
    victim = project.root / "victim"
    victim.mkdir()
    (project.fetched / link).parent.mkdir(parents=True, exist_ok=True)
    (project.fetched / link).symlink_to(victim)
    assert main(["fetch", "left-pad@1.3.0"]) == 2
    assert f"packages/{link}: is a link; refusing to write a fetched package through it" \
        in capsys.readouterr().err
    assert list(victim.iterdir()) == []
    assert main(["fetch", "left-pad@1.3.0", "--dest", "victim"]) == 0  # a link-free --dest
