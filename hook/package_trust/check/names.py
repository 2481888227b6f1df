"""Validation of package names and versions before they become paths.

Lockfiles are hostile input: a name or version is checked here before it is
joined to a ledger folder, so nothing can point outside ``signatures/``.
"""

from __future__ import annotations

import re

# npm names: an optional scope, then one path segment. Legacy names may carry upper
# case letters (JSONStream); nothing may start with a dot or an underscore.
_SEGMENT = r"[A-Za-z0-9~-][A-Za-z0-9._~-]*"
_NAME = re.compile(rf"^(?:@{_SEGMENT}/)?{_SEGMENT}$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]*$")
MAX_NAME_LENGTH = 214
MAX_VERSION_LENGTH = 256


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a registry package name that is safe to use as a path."""
    return len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(name) is not None and ".." not in name


def is_valid_version(version: str) -> bool:
    """Whether ``version`` is a plain (semver-like) version that is safe to use as a path."""
    return (
        len(version) <= MAX_VERSION_LENGTH
        and _VERSION.fullmatch(version) is not None
        and ".." not in version
    )


def package_parts(name: str, version: str) -> list[str]:
    """The path parts of ``name@version`` below a folder (a scope is a folder of its own):
    ``["@scope", "pkg", "1.0.0"]``. Raises ValueError when either is unsafe as a path."""
    if not (is_valid_name(name) and is_valid_version(version)):
        raise ValueError(f"refusing unsafe package name or version: {name!r}@{version!r}")
    return [*name.split("/"), version]


def split_spec(spec: str) -> tuple[str, str]:
    """Split ``name@version`` (the name may be scoped) into its two parts."""
    at = spec.rfind("@")
    if at <= 0:
        raise ValueError(f"expected NAME@VERSION, got {spec!r}")
    return spec[:at], spec[at + 1 :]
