"""The names of the files package-trust looks for; cheap to import (the commit-time path)."""

from __future__ import annotations

from pathlib import Path

POLICY = "trust-policy.yml"
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
MANIFEST = "package.json"
# Where npm's configuration names a registry in the environment (lockfile/npmrc.py): an
# exemption pinned to no integrity covers what the registries serve.
REGISTRY_ENV = ("npm_config_registry", "NPM_CONFIG_REGISTRY")
# Whether npm installs no peer dependencies (lockfile/npmrc.py)
LEGACY_PEER = "legacy-peer-deps"


def npm_setting(var: str) -> str | None:
    """The npm setting an environment variable names, as @npmcli/config reads it
    (``npm_config_`` in any case, then every ``_`` but a first one read as ``-``); None
    for another variable."""
    if var[:11].lower() != "npm_config_":
        return None
    rest = var[11:]
    return (rest[:1] + rest[1:].replace("_", "-")).lower()


def lock_path(policy_path: Path) -> Path:
    """``trust-policy.yml`` -> ``trust-policy.lock``, in the same folder."""
    return policy_path.with_suffix(".lock")
