"""Which registries npm fetches a project's packages from: the public one, and the one its
configuration names (``npm_config_registry`` in the environment, ``registry=`` in the
project's .npmrc). Only an exemption that pins no integrity needs to know: it may cover
what these registries serve for its name@version, and no other tarball."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from package_trust import filenames

PUBLIC = "https://registry.npmjs.org/"
NPMRC = ".npmrc"


def registries(folder: Path) -> tuple[str, ...]:
    """The registry URLs (each ending in /) a project in ``folder`` installs from."""
    found = [PUBLIC]
    for var in filenames.REGISTRY_ENV:
        if os.environ.get(var):
            found.append(os.environ[var])
    try:
        text = (folder / NPMRC).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "registry" and value.strip():
            found.append(value.strip().strip("\"'"))
    return tuple(dict.fromkeys(url.rstrip("/") + "/" for url in found))


def tarball_urls(registries: tuple[str, ...], name: str, version: str) -> set[str]:
    """Where these registries serve name@version's tarball (npm's layout, the scope's
    slash as it is or encoded)."""
    base = name.rsplit("/", 1)[-1]
    names = {name, quote(name, safe="@")}
    return {f"{reg}{n}/-/{base}-{version}.tgz" for reg in registries for n in names}
