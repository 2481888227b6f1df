"""trust-policy.yml: which keys a project trusts, how many signatures it needs, and its
exemptions. Every error names the file and the line to fix.

PyYAML is imported only to parse, on libyaml where it can (yamlread.py); exemptions that
name a package exactly are found by looking their name up (Exemptions).
"""

import datetime as dt
import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from package_trust import filenames
from package_trust.check.yamlread import YamlReader as YamlReader  # audit/ imports it here
from package_trust.errors import PolicyError

if TYPE_CHECKING:
    import yaml

    from package_trust.check.lockfile import Dependency

DEFAULT_NAME = filenames.POLICY
_DECIMAL = re.compile(r"[1-9][0-9]*")
FINGERPRINT = re.compile(r"^[0-9A-F]{40}$|^[0-9A-F]{64}$")


class TrustedKey(NamedTuple):
    fingerprint: str
    name: str
    line: int


class Exemption(NamedTuple):
    package: str  # name, name@version, or a glob such as @myorg/*
    reason: str
    expires: dt.date | None
    line: int
    integrity: str | None = None  # covers only the tarball with this sha512
    source: str | None = None  # covers only the entry resolved from exactly this source

    def covers(self, dep: "Dependency", registries: tuple[str, ...]) -> bool:
        """Whether this exemption covers the lockfile entry. It names the package, and
        the entry comes from the exemption's ``source``, or else is a registry package;
        pinned to an integrity, it covers that very tarball, wherever it comes from;
        unpinned, only what ``registries`` serve for that name@version."""
        from package_trust.check.lockfile import Source
        from package_trust.check.lockfile.npmrc import tarball_urls
        from package_trust.check.statement import sha512_of

        if not self.matches(dep.name, dep.version):
            return False
        if self.source is not None:
            if self.source != (dep.resolved or dep.version):  # where npm fetches it from
                return False
        elif dep.source is not Source.REGISTRY:
            return False
        if self.integrity is not None:
            pinned = sha512_of(self.integrity)
            return pinned is not None and sha512_of(dep.integrity) == pinned
        return self.source is not None or dep.resolved is None or (
            dep.resolved in tarball_urls(registries, dep.name, dep.version))

    def matches(self, name: str, version: str) -> bool:
        """Whether this exemption names ``name@version``."""
        pattern, pinned = self.parts
        return (pinned is None or pinned == version) and fnmatch.fnmatchcase(name, pattern)

    @property
    def parts(self) -> tuple[str, str | None]:
        """The name (or glob) this exemption names, and the version, if it names one."""
        at = self.package.rfind("@")
        return (self.package[:at], self.package[at + 1 :]) if at > 0 else (self.package, None)

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today


class LedgerSpec(NamedTuple):
    """One entry of ``ledgers:``: a folder, or a git repository (``git:``)."""

    path: str
    line: int
    git: str | None = None
    ref: str | None = None


_GLOB = re.compile(r"[*?[]")  # what makes fnmatch's pattern more than the name itself


class Exemptions(tuple[Exemption, ...]):
    """A policy's exemptions, in file order; those naming a name exactly are found by
    looking the name up, the globs (compiled once) by matching each: thousands of
    exemptions cost a check little more than a few."""

    _named: dict[tuple[str, str | None], list[int]]  # (name, version or None): positions
    _globs: list[tuple[int, Callable[[str], object], str | None]]  # position, match, version

    def __new__(cls, exemptions: Iterable[Exemption] = ()) -> "Exemptions":
        self = super().__new__(cls, exemptions)
        self._named, self._globs = {}, []
        for n, e in enumerate(self):
            name, version = e.parts
            if _GLOB.search(name):  # as fnmatch.fnmatchcase compiles it
                self._globs.append((n, re.compile(fnmatch.translate(name)).match, version))
            else:
                self._named.setdefault((name, version), []).append(n)
        return self

    def naming(self, name: str, version: str) -> list[Exemption]:
        """The exemptions that name ``name@version`` (``Exemption.matches``), in file order."""
        return [self[n] for n in self.positions(name, version)]

    def positions(self, name: str, version: str) -> list[int]:
        """Where the exemptions that name ``name@version`` are, in file order."""
        found = [*self._named.get((name, None), ()), *self._named.get((name, version), ())]
        found += [n for n, match, pinned in self._globs
                  if (pinned is None or pinned == version) and match(name)]
        return sorted(found)


class Policy(NamedTuple):
    path: Path
    minimum_signatures: int
    trusted_keys: list[TrustedKey]
    ledgers: list[LedgerSpec]
    exemptions: Sequence[Exemption] = Exemptions()
    # minimum-signatures' development: (None: as for production, minimum_signatures)
    development_signatures: int | None = None

    def minimum_for(self, dev: bool) -> int:
        """The signatures a package needs: in development scope, or production."""
        if dev and self.development_signatures is not None:
            return self.development_signatures
        return self.minimum_signatures

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(k.fingerprint for k in self.trusted_keys)

    def key_name(self, fingerprint: str) -> str | None:
        return next((k.name for k in self.trusted_keys if k.fingerprint == fingerprint), None)

    def exemption_for(self, dep: "Dependency", registries: tuple[str, ...]) -> Exemption | None:
        """The first exemption covering the lockfile entry, expired or not."""
        exemptions = self.exemptions
        if not isinstance(exemptions, Exemptions):  # a policy made by hand (tests, _replace)
            exemptions = Exemptions(exemptions)
        named = exemptions.naming(dep.name, dep.version)
        return next((e for e in named if e.covers(dep, registries)), None)


def load(path: Path) -> Policy:
    """Read and validate a policy file."""
    return parse(path, read(path))


def read(path: Path) -> str:
    """A policy file's text."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PolicyError(
            "policy file not found (create one, or name it with --policy)", path
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"cannot read policy: {e}", path) from None


def parse(path: Path, text: str) -> Policy:
    """Validate policy ``text`` read from ``path``."""
    r = YamlReader(path)
    root = r.compose(text)
    if root is None:
        raise PolicyError("policy file is empty", path, 1)
    top = r.mapping(
        root, "the policy", {"minimum-signatures", "trusted-keys"}, {"ledgers", "exemptions"}
    )
    keys = [_trusted_key(r, n) for n in r.sequence(top["trusted-keys"], "trusted-keys")]
    if not keys:
        raise r.fail("trusted-keys must list at least one key", top["trusted-keys"])
    seen: set[str] = set()
    for k in keys:
        if k.fingerprint in seen:
            raise PolicyError(f"fingerprint {k.fingerprint} is listed twice", path, k.line)
        seen.add(k.fingerprint)
    minimum, development = _minimums(r, top["minimum-signatures"], len(keys))
    ledgers = (
        [_ledger(r, n) for n in r.sequence(top["ledgers"], "ledgers")]
        if "ledgers" in top
        else [LedgerSpec(path=".", line=1)]
    )
    if not ledgers:
        raise r.fail("ledgers must list at least one ledger (or be left out)", top["ledgers"])
    exemptions = Exemptions(
        [_exemption(r, n) for n in r.sequence(top["exemptions"], "exemptions")]
        if "exemptions" in top
        else []
    )
    return Policy(path, minimum, keys, ledgers, exemptions, development)


def _minimums(r: YamlReader, node: "yaml.Node", keys: int) -> tuple[int, int | None]:
    """minimum-signatures: one number for every package, or one for each scope
    (``production:`` required, ``development:`` for what only development needs)."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return _minimum(r, node, "minimum-signatures", keys), None
    m = r.mapping(node, "minimum-signatures", {"production"}, {"development"})
    production = _minimum(r, m["production"], "minimum-signatures.production", keys)
    dev = m.get("development")
    return production, None if dev is None else _minimum(
        r, dev, "minimum-signatures.development", keys)


def _minimum(r: YamlReader, node: "yaml.Node", what: str, keys: int) -> int:
    digits = node.value if node.tag == "tag:yaml.org,2002:int" else ""
    if not isinstance(digits, str) or not _DECIMAL.fullmatch(digits):  # not 0x1, 1_000, +1
        raise r.fail(f"{what} must be a whole number of at least 1, in decimal digits", node)
    if len(digits) > 9 or int(digits) > keys:  # int() of a huge number would fail
        raise r.fail(f"{what} is {digits} but only {keys} keys are trusted: "
                     "no package could ever pass", node)
    return int(digits)


def _trusted_key(r: YamlReader, node: "yaml.Node") -> TrustedKey:
    m = r.mapping(node, "a trusted key", {"fingerprint"}, {"name"})
    raw = r.scalar(m["fingerprint"], "fingerprint")
    fingerprint = raw.replace(" ", "").upper()
    if not FINGERPRINT.fullmatch(fingerprint):
        hint = (
            "a short key ID is not enough" if re.fullmatch(r"(0X)?[0-9A-F]{8,16}", fingerprint)
            else "expected 40 hexadecimal digits"
        )
        raise r.fail(f"fingerprint {raw!r} is not a full fingerprint: {hint}", m["fingerprint"])
    name = r.string(m["name"], "name") if "name" in m else fingerprint
    return TrustedKey(fingerprint, name, node.start_mark.line + 1)


def _ledger(r: YamlReader, node: "yaml.Node") -> LedgerSpec:
    m = r.mapping(node, "a ledger", set(), {"path", "git", "ref"})
    if "git" not in m and "path" not in m:
        raise r.fail("a ledger needs path: (a folder) or git: (a repository URL)", node)
    if "ref" in m and "git" not in m:
        raise r.fail("ref: goes with git:", m["ref"])
    path = r.string(m["path"], "path") if "path" in m else "."
    git = r.string(m["git"], "git") if "git" in m else None
    ref = r.scalar(m["ref"], "ref") if "ref" in m else None
    return LedgerSpec(path=path, line=node.start_mark.line + 1, git=git, ref=ref)


def _exemption(r: YamlReader, node: "yaml.Node") -> Exemption:
    m = r.mapping(node, "an exemption", {"package", "reason"},
                  {"expires", "integrity", "source"})
    package = r.string(m["package"], "package")
    reason = r.string(m["reason"], "reason")
    integrity = r.string(m["integrity"], "integrity") if "integrity" in m else None
    if integrity is not None:
        from package_trust.check.statement import sha512_of

        if sha512_of(integrity) is None:
            raise r.fail(f"integrity {integrity!r} is not one sha512 integrity "
                         "(sha512-<base64>, as in the lockfile)", m["integrity"])
    source = r.string(m["source"], "source") if "source" in m else None
    if source is not None and integrity is None and source[:5].lower() == "file:":
        raise r.fail(f"source {source!r} is a file on disk, whose path pins no bytes: pin "
                     "the tarball too, with integrity: (its sha512, as in the lockfile)",
                     m["source"])
    expires = None
    if "expires" in m:
        value = r.scalar(m["expires"], "expires")
        try:
            expires = dt.date.fromisoformat(value)
        except ValueError:
            raise r.fail(f"expires {value!r} is not a date (YYYY-MM-DD)", m["expires"]) from None
    return Exemption(package, reason, expires, node.start_mark.line + 1, integrity, source)
