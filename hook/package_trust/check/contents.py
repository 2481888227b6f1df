"""What a tarball ships beside its own code, as a statement records it: the packages it
bundles (``bundled``) and the pins of its own npm-shrinkwrap.json (``shrinkwrap``).

The check runs offline, so it cannot open a parent's tarball to see whether a lockfile
entry marked ``inBundle`` really ships inside it, or what the tarball's shrinkwrap makes
npm install below it. ``sign`` records both, and the signature binds them to the tarball's
sha512 like the rest of the statement:

    "bundled": [{"path": "node_modules/a", "name": "a", "version": "1.0.0"}, ...]
    "shrinkwrap": null            (the tarball holds no npm-shrinkwrap.json)
    "shrinkwrap": [{"path", "name", "version", "integrity", "resolved"}, ...]

A statement without these fields (the original ledger's) still audits its package; the
check then judges the packages it would have vouched for on their own.
"""

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from package_trust.check.statement import StatementError

if TYPE_CHECKING:
    import tarfile

MAX_ENTRIES = 5000  # bundled packages or pins one statement may list
# npm strips the first folder of every tarball member, whatever its name.
_BUNDLED_MANIFEST = re.compile(r"^[^/]+/((?:node_modules/(?:@[^/]+/)?[^/@][^/]*/)+)package\.json$")
_SHRINKWRAP = re.compile(r"^[^/]+/npm-shrinkwrap\.json$")
MAX_MANIFEST = 1024 * 1024


class Bundled(NamedTuple):
    path: str  # relative to the package's folder: node_modules/a/node_modules/b
    name: str
    version: str


class Pin(NamedTuple):
    path: str  # relative to the package's folder
    name: str
    version: str
    integrity: str | None
    resolved: str | None


class Contents(NamedTuple):
    """What a statement says its tarball ships; ``recorded`` False: it does not say."""

    recorded: bool
    bundled: tuple[Bundled, ...] = ()
    shrinkwrap: tuple[Pin, ...] | None = None  # None: no npm-shrinkwrap.json


UNRECORDED = Contents(False)


def from_statement(raw: dict[str, Any]) -> Contents:
    """The contents a statement records; StatementError when the fields are malformed."""
    if "bundled" not in raw and "shrinkwrap" not in raw:
        return UNRECORDED
    if "bundled" not in raw or "shrinkwrap" not in raw:
        raise StatementError("malformed statement: bundled and shrinkwrap go together")
    bundled = tuple(Bundled(*_fields(x, ("path", "name", "version"), ()))
                    for x in _entries(raw["bundled"], "bundled"))
    pins = raw["shrinkwrap"]
    shrinkwrap = None if pins is None else tuple(
        Pin(*_fields(x, ("path", "name", "version"), ("integrity", "resolved")))
        for x in _entries(pins, "shrinkwrap"))
    return Contents(True, bundled, shrinkwrap)


def _entries(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        raise StatementError(f"malformed statement: {what} must be a list of at most "
                             f"{MAX_ENTRIES} entries")
    return value


def _fields(entry: Any, required: tuple[str, ...], optional: tuple[str, ...]) -> list[Any]:
    if not isinstance(entry, dict):
        raise StatementError("malformed statement: a bundled or shrinkwrap entry is not an object")
    values = [entry.get(k) for k in (*required, *optional)]
    if not all(isinstance(v, str) for v in values[: len(required)]) or not all(
        v is None or isinstance(v, str) for v in values[len(required):]
    ):
        raise StatementError("malformed statement: a bundled or shrinkwrap entry has a "
                             "field that is not a string")
    return values


def as_fields(contents: Contents) -> dict[str, Any]:
    """The statement fields recording ``contents``."""
    return {
        "bundled": [b._asdict() for b in contents.bundled],
        "shrinkwrap": None if contents.shrinkwrap is None
        else [p._asdict() for p in contents.shrinkwrap],
    }


def of_tarball(tarball: Path) -> Contents:
    """What an npm tarball ships: its bundled packages and its shrinkwrap's pins.
    Raises ValueError when it cannot be read as npm would read it."""
    import tarfile  # here: only signing reads a tarball, not a check

    bundled: list[Bundled] = []
    shrinkwrap: tuple[Pin, ...] | None = None
    try:
        with tarfile.open(tarball, "r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                found = _BUNDLED_MANIFEST.match(member.name)
                if found:
                    manifest = _json(tar, member)
                    name, version = manifest.get("name"), manifest.get("version")
                    if isinstance(name, str) and isinstance(version, str):
                        bundled.append(Bundled(found.group(1).rstrip("/"), name, version))
                elif _SHRINKWRAP.match(member.name):
                    shrinkwrap = _pins(_read(tar, member))
    except (OSError, tarfile.TarError, EOFError) as e:
        raise ValueError(f"cannot read the tarball: {e}") from None
    bundled.sort()
    return Contents(True, tuple(bundled), shrinkwrap)


def _read(tar: "tarfile.TarFile", member: "tarfile.TarInfo") -> bytes:
    if member.size > MAX_MANIFEST:
        raise ValueError(f"{member.name} is larger than {MAX_MANIFEST} bytes")
    f = tar.extractfile(member)
    return b"" if f is None else f.read()


def _json(tar: "tarfile.TarFile", member: "tarfile.TarInfo") -> dict[str, Any]:
    try:
        data = json.loads(_read(tar, member))
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _pins(data: bytes) -> tuple[Pin, ...]:
    """Every entry of the shrinkwrap, as the check would read it. Each is judged as a
    package of its own, links and bundled entries too: what these make npm do inside a
    dependency's folder is not the project's to vouch for (fail closed)."""
    from package_trust.check.lockfile.npm import NpmLockfileParser
    from package_trust.errors import LockfileError

    try:
        lf = NpmLockfileParser().parse(Path("npm-shrinkwrap.json"), data.decode("utf-8"))
    except (LockfileError, UnicodeDecodeError) as e:
        raise ValueError(f"its npm-shrinkwrap.json cannot be read: {e}") from None
    return tuple(sorted(
        Pin(d.path, d.name, d.version, d.integrity, d.resolved)
        for d in lf.dependencies
    ))
