"""Names and versions, validated before they become path parts."""

from __future__ import annotations

import pytest

from package_trust.check.names import package_parts


def test_package_parts() -> None:
    assert package_parts("left-pad", "1.3.0") == ["left-pad", "1.3.0"]
    assert package_parts("@scope/pad", "2.0.0-rc.1") == ["@scope", "pad", "2.0.0-rc.1"]


@pytest.mark.parametrize(("name", "version"), [
    ("../outside", "1.0.0"), ("@scope/../x", "1.0.0"), ("a/b", "1.0.0"), ("/etc", "1.0.0"),
    ("left-pad", "../1.0.0"), ("left-pad", "1.0.0/x"), ("left-pad", ".."), ("", "1.0.0"),
    ("x\n", "1.0.0"), ("left-pad", "1.0.0\n"),
])
def test_package_parts_refuses_unsafe_input(name: str, version: str) -> None:
    with pytest.raises(ValueError, match="refusing unsafe package name or version"):
        package_parts(name, version)
