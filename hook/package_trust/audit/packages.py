"""Fetched packages on disk, in the packages folder (commands/workspace.py's dest_folder):
``<name>/<version>/`` (unpacked) and ``<name>/<version>.tgz`` (the tarball whose hashes
were checked). Nothing is written through a link below the packages folder.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from package_trust.audit import tarball
from package_trust.audit.registry import (
    Digests,
    Dist,
    Hasher,
    IntegrityError,
    Registry,
    check_integrity,
)
from package_trust.check.folders import refuse_links
from package_trust.check.names import is_valid_name, is_valid_version, package_parts, split_spec
from package_trust.errors import PackageTrustError

_CHUNK = 1024 * 1024


def parse_spec(spec: str) -> tuple[str, str]:
    """``name@version`` from the command line, both validated before they become paths."""
    try:
        name, version = split_spec(spec)
    except ValueError as e:
        raise PackageTrustError(str(e)) from None
    if not is_valid_name(name):
        raise PackageTrustError(f"{name!r} is not a valid npm package name")
    if not is_valid_version(version):
        raise PackageTrustError(f"{version!r} is not a plain version (such as 1.3.0)")
    return name, version


@dataclass(frozen=True)
class Stored:
    """Where one package version lives under the packages folder ``root``."""

    root: Path
    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def folder(self) -> Path:
        return self.root.joinpath(*package_parts(self.name, self.version))

    @property
    def tarball(self) -> Path:
        return self.folder.with_name(self.version + ".tgz")


@dataclass(frozen=True)
class Fetched:
    stored: Stored
    digests: Digests
    checked: list[str]  # the hashes compared with the registry's: sha512, sha1


def fetch(stored: Stored, registry: Registry, limits: tarball.Limits, dist: Dist) -> Fetched:
    """Download, check the hashes, unpack; on any failure leave nothing behind."""
    refuse_links(stored.root, stored.folder, "a fetched package")
    made = _missing_folders(stored.tarball.parent)
    stored.tarball.parent.mkdir(parents=True, exist_ok=True)
    try:
        with registry.downloaded(dist, stored.tarball.parent, f".{stored.version}.tgz.partial-",
                                 limits.max_bytes, stored.spec) as (tmp, digests, checked):
            try:
                tarball.extract(tmp, stored.folder, limits)
            except tarball.UnsafeTarball as e:
                raise tarball.UnsafeTarball(f"{stored.spec}: refusing the tarball: {e}") from None
            os.replace(tmp, stored.tarball)
        made = []
    finally:
        for folder in made:  # innermost first; only the empty ones this call created
            with contextlib.suppress(OSError):
                folder.rmdir()
    return Fetched(stored, digests, checked)


def verified_digests(stored: Stored, registry: Registry, limits: tarball.Limits) -> Digests:
    """The stored tarball's hashes, checked against the registry; fetched when missing."""
    dist = registry.dist(stored.name, stored.version)
    if not stored.tarball.is_file():
        return fetch(stored, registry, limits, dist).digests
    return _checked(stored, dist)[0]


def unpack_stored(stored: Stored, dist: Dist, limits: tarball.Limits) -> list[str]:
    """Unpack the stored tarball afresh, once its hashes match the registry's: what is
    reviewed is what gets signed, whatever the folder held. The hashes compared."""
    refuse_links(stored.root, stored.folder, "a fetched package")
    checked = _checked(stored, dist)[1]
    try:
        tarball.extract(stored.tarball, stored.folder, limits)
    except tarball.UnsafeTarball as e:
        raise tarball.UnsafeTarball(f"{stored.spec}: refusing the tarball: {e}") from None
    return checked


def _checked(stored: Stored, dist: Dist) -> tuple[Digests, list[str]]:
    digests = digests_of(stored.tarball)
    try:
        return digests, check_integrity(digests, dist, str(stored.tarball))
    except IntegrityError as e:
        raise IntegrityError(f"{e.message} (delete it and fetch again)") from None


def digests_of(path: Path) -> Digests:
    hasher = Hasher()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                hasher.update(chunk)
    except OSError as e:
        raise PackageTrustError(f"cannot read the tarball: {e.strerror}", path) from None
    return hasher.digests()


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its parents that do not exist yet, innermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing
