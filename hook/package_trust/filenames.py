"""The names of the files package-trust looks for; cheap to import (the commit-time path)."""

from __future__ import annotations

from pathlib import Path

POLICY = "trust-policy.yml"
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
MANIFEST = "package.json"
# Where npm's configuration names a registry in the environment (lockfile/npmrc.py): an
# exemption pinned to no integrity covers what the registries serve.
REGISTRY_ENV = ("npm_config_registry", "NPM_CONFIG_REGISTRY")
# Whether npm installs no peer dependencies (lockfile/npmrc.py): read in any case, as npm
# reads it.
LEGACY_PEER_ENV = "npm_config_legacy_peer_deps"


def lock_path(policy_path: Path) -> Path:
    """``trust-policy.yml`` -> ``trust-policy.lock``, in the same folder."""
    return policy_path.with_suffix(".lock")
