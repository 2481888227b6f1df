"""The names of the files package-trust looks for; cheap to import (the commit-time path)."""

from __future__ import annotations

import os
from pathlib import Path

POLICY = "trust-policy.yml"
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
MANIFEST = "package.json"
REGISTRY = "registry"  # npm's setting of the registry it installs from
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


def npm_env(setting: str) -> list[tuple[str, str]]:
    """The environment variables npm reads as ``setting``, each with its value, empty ones
    left out (npm skips them), in the environment's order: npm takes the last."""
    return [(var, value) for var, value in os.environ.items()
            if value and npm_setting(var) == setting]


def lock_path(policy_path: Path) -> Path:
    """``trust-policy.yml`` -> ``trust-policy.lock``, in the same folder."""
    return policy_path.with_suffix(".lock")
