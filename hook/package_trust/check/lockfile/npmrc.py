"""The npm settings of a project that decide what the check judges, from the environment
and the project's .npmrc:

- which registries npm fetches its packages from: the public one, and the one its
  configuration names (``npm_config_registry``, ``registry=``). Only an exemption that
  pins no integrity needs to know: it may cover what these registries serve for its
  name@version, and no other tarball;
- whether npm leaves out peer dependencies (``legacy-peer-deps``): then a peer the
  lockfile lacks is not installed (npm_edges.py)."""

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


def legacy_peer_deps(folder: Path) -> bool:
    """Whether npm installs the project in ``folder`` with ``legacy-peer-deps`` (no peer
    dependencies): only when its .npmrc says ``legacy-peer-deps=true`` and the environment
    (``npm_config_legacy_peer_deps``, as npm reads it) says nothing else; or the
    environment alone says true. Anything unclear: peers are installed."""
    told = [v.strip().lower() for k, v in os.environ.items()
            if filenames.npm_setting(k) == filenames.LEGACY_PEER]
    if told:
        return all(v == "true" for v in told)
    try:
        text = (folder / NPMRC).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    values = [value.strip().strip("\"'").lower() for key, sep, value in
              (line.partition("=") for line in text.splitlines())
              if sep and key.strip() == filenames.LEGACY_PEER]
    return bool(values) and all(v == "true" for v in values)


def tarball_urls(registries: tuple[str, ...], name: str, version: str) -> set[str]:
    """Where these registries serve name@version's tarball (npm's layout, the scope's
    slash as it is or encoded)."""
    base = name.rsplit("/", 1)[-1]
    names = {name, quote(name, safe="@")}
    return {f"{reg}{n}/-/{base}-{version}.tgz" for reg in registries for n in names}
