"""Safe unpacking of an npm tarball: regular files and folders only, inside the target.

A tarball is hostile input. An entry with an absolute path or ``..``, a link, a device,
or more bytes or entries (files and folders) than the limits allow ends the extraction
with UnsafeTarball; so does a stream that decompresses to more than the limits leave
room for (tar headers, pax ones too, are read whole into memory).
Like npm, the first path component (``package/``) is stripped.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from package_trust.errors import PackageTrustError

MAX_BYTES_ENV = "PACKAGE_TRUST_MAX_SIZE"
MAX_FILES_ENV = "PACKAGE_TRUST_MAX_FILES"
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_FILES = 100_000
_CHUNK = 64 * 1024
_HEADER_ROOM = 1024  # bytes of tar headers allowed per entry the limits allow


class UnsafeTarball(PackageTrustError):
    """The tarball is malformed, or tries to write outside its folder."""


@dataclass(frozen=True)
class Limits:
    """Caps on what one package may unpack to (the download is capped at max_bytes too)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = DEFAULT_MAX_FILES

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, or PACKAGE_TRUST_MAX_SIZE / PACKAGE_TRUST_MAX_FILES."""
        return cls(
            _positive(MAX_BYTES_ENV, DEFAULT_MAX_BYTES), _positive(MAX_FILES_ENV, DEFAULT_MAX_FILES)
        )


def _positive(env: str, default: int) -> int:
    raw = os.environ.get(env)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise PackageTrustError(f"{env}={raw!r} is not a whole number of at least 1")
    return int(raw)


def member_path(name: str) -> list[str] | None:
    """The safe path parts of an entry with its first component stripped, or None
    (for the top folder itself); raise UnsafeTarball for an absolute path or ``..``."""
    if "\0" in name:
        raise UnsafeTarball(f"entry {name!r} has a NUL byte in its name")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeTarball(f"entry {name!r} has an absolute path")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeTarball(f"entry {name!r} climbs out of the package with '..'")
    return parts[1:] or None


def extract(tarball: Path, target: Path, limits: Limits) -> None:
    """Unpack ``tarball`` into the new folder ``target``, all or nothing.

    The files go into a temporary folder next to ``target``, which is renamed into
    place only when every entry was safe; an existing ``target`` is replaced.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        _extract_into(tarball, work, limits)
        os.chmod(work, 0o755)
        if target.is_symlink() or target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "old")
            os.replace(work, target)
            shutil.rmtree(old)
        else:
            os.replace(work, target)
    finally:
        if work.exists():
            shutil.rmtree(work)


class _Bounded(io.RawIOBase):
    """A stream that ends the extraction once more than ``limit`` bytes were read."""

    def __init__(self, stream: io.BufferedIOBase, limit: int):
        super().__init__()
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise UnsafeTarball("the tarball unpacks to more than its limits allow "
                                f"(raise them with {MAX_BYTES_ENV}, {MAX_FILES_ENV})")
        buffer[: len(data)] = data
        return len(data)


def _extract_into(tarball: Path, work: Path, limits: Limits) -> None:
    entries = total = 0
    room = limits.max_bytes + _HEADER_ROOM * limits.max_files
    try:
        with gzip.open(tarball, "rb") as gz, \
                tarfile.open(fileobj=_Bounded(gz, room), mode="r|") as tar:
            for member in tar:
                entries += 1  # folders too: each costs an inode and a system call
                if entries > limits.max_files:
                    raise UnsafeTarball(
                        f"the tarball holds more than {limits.max_files} files and folders "
                        f"(raise the limit with {MAX_FILES_ENV})"
                    )
                parts = member_path(member.name)
                if member.isdir():
                    if parts:
                        _mkdirs(work, parts, member.name)
                    continue
                if not member.isreg():
                    raise UnsafeTarball(f"entry {member.name!r} is {_kind(member)}; refused")
                if parts is None:
                    continue  # a file beside the package folder: npm drops it too
                total += member.size
                if total > limits.max_bytes:
                    raise UnsafeTarball(
                        f"the tarball unpacks to more than {limits.max_bytes} bytes "
                        f"(raise the limit with {MAX_BYTES_ENV})"
                    )
                _write(tar, member, _mkdirs(work, parts[:-1], member.name) / parts[-1])
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise UnsafeTarball(f"not a valid gzipped tarball: {e}") from None


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"a hard link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a named pipe"
    return f"of unsupported type {member.type!r}"


def _mkdirs(work: Path, parts: list[str], name: str) -> Path:
    folder = work
    for part in parts:
        folder = folder / part
        try:
            folder.mkdir(mode=0o755)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                raise UnsafeTarball(f"entry {name!r} needs a folder where a file is") from None
    return folder


def _write(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> None:
    source = tar.extractfile(member)
    if source is None:
        raise UnsafeTarball(f"entry {member.name!r} cannot be read")
    mode = 0o755 if member.mode & 0o100 else 0o644
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    except IsADirectoryError:
        raise UnsafeTarball(f"entry {member.name!r} is a file where a folder is") from None
    with os.fdopen(fd, "wb") as out, source:
        shutil.copyfileobj(source, out, _CHUNK)
        os.fchmod(out.fileno(), mode)
