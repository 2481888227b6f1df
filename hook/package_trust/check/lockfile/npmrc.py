"""The npm settings of a project that decide what the check judges, from the environment
and the project's .npmrc:

- which registries npm fetches its packages from: the public one, and the one its
  configuration names (``npm_config_registry``, ``registry=``). Only an exemption that
  pins no integrity needs to know: it may cover what these registries serve for its
  name@version, and no other tarball;
- whether npm leaves out peer dependencies (``legacy-peer-deps``): then a peer the
  lockfile lacks is not installed (npm_edges.py)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from package_trust import filenames

PUBLIC = "https://registry.npmjs.org/"
NPMRC = ".npmrc"
_COMMENT = re.compile(r"[ \t]*[;#]")
_LEGACY_TRUE = re.compile(r"[ \t]*legacy-peer-deps[ \t]*=[ \t]*(?:true|\"true\"|'true')[ \t]*")


def registries(folder: Path) -> tuple[str, ...]:
    """The registry URLs (each ending in /) a project in ``folder`` installs from."""
    found = [PUBLIC]
    # (an exemption pinned to no integrity covers what each serves: every one set counts)
    found += [value for _, value in filenames.npm_env(filenames.REGISTRY)]
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
    dependencies). Only the project's committed .npmrc can say so, plainly: every line
    whose key names the setting reads ``legacy-peer-deps=true`` (npm's ini: lines split
    at CR or LF, ``;``/``#`` comments, the key before the first ``=``) and no
    ``[section]`` puts it elsewhere. The environment
    (``npm_config_legacy_peer_deps``, as npm reads it), which overrides the file, can
    only say otherwise: it is the committer's, not where npm installs. Anything unclear:
    peers are installed."""
    told = [v.strip().lower() for _, v in filenames.npm_env(filenames.LEGACY_PEER)]
    if any(v != "true" for v in told):
        return False
    try:
        text = (folder / NPMRC).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    lines = [line for line in re.split(r"[\r\n]+", text) if not _COMMENT.match(line)]
    if any(line.lstrip(" \t").startswith("[") for line in lines):
        return False
    said = [line for line in lines  # ini's key: all before the first =
            if filenames.LEGACY_PEER in line.partition("=")[0].lower()]
    return bool(said) and all(_LEGACY_TRUE.fullmatch(line) for line in said)


def tarball_urls(registries: tuple[str, ...], name: str, version: str) -> set[str]:
    """Where these registries serve name@version's tarball (npm's layout, the scope's
    slash as it is or encoded)."""
    base = name.rsplit("/", 1)[-1]
    names = {name, quote(name, safe="@")}
    return {f"{reg}{n}/-/{base}-{version}.tgz" for reg in registries for n in names}
