"""trust-policy.yml: which keys a project trusts, how many signatures it needs, and its
exemptions. Every error names the file and the line to fix.

PyYAML is imported only to parse: a check may find the policy already parsed from the
same bytes in its cache (``load(path, cache)``), as importing PyYAML alone costs the
commit-time check a noticeable part of its time.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from package_trust import __version__, filenames
from package_trust.errors import PolicyError

if TYPE_CHECKING:
    import yaml

    from package_trust.check.lockfile import Dependency

DEFAULT_NAME = filenames.POLICY
MAX_NESTING = 64  # mappings and lists within each other (a policy needs 4): PyYAML recurses
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

    def covers(self, dep: Dependency, registries: tuple[str, ...]) -> bool:
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
            if self.source not in (dep.resolved, dep.version):
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
        pattern = self.package
        at = pattern.rfind("@")
        if at > 0:
            if pattern[at + 1 :] != version:
                return False
            pattern = pattern[:at]
        return fnmatch.fnmatchcase(name, pattern)

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today


class LedgerSpec(NamedTuple):
    """One entry of ``ledgers:``: a folder, or a git repository (``git:``)."""

    path: str
    line: int
    git: str | None = None
    ref: str | None = None


class Policy(NamedTuple):
    path: Path
    minimum_signatures: int
    trusted_keys: list[TrustedKey]
    ledgers: list[LedgerSpec]
    exemptions: list[Exemption] = []  # noqa: RUF012 (a default shared, never changed)

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(k.fingerprint for k in self.trusted_keys)

    def key_name(self, fingerprint: str) -> str | None:
        return next((k.name for k in self.trusted_keys if k.fingerprint == fingerprint), None)

    def exemption_for(self, dep: Dependency, registries: tuple[str, ...]) -> Exemption | None:
        """The first exemption covering the lockfile entry, expired or not."""
        return next((e for e in self.exemptions if e.covers(dep, registries)), None)


class YamlReader:
    """Walks the YAML node tree, so that every error can give a line."""

    def __init__(self, path: Path):
        self.path = path

    def compose(self, text: str) -> yaml.Node | None:
        """The node tree of ``text`` (None when empty); an error with the line when it is not
        YAML, or nests more than MAX_NESTING deep."""
        import yaml

        try:
            loader = _bounded_loader()(text)  # its reader looks for control characters
        except yaml.reader.ReaderError as e:
            raise PolicyError(f"not valid YAML: character U+{e.character:04X} is not allowed",
                              self.path, text.count("\n", 0, e.position) + 1) from None
        try:
            return loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = None if mark is None else mark.line + 1
            problem = e.problem or e.context
            raise PolicyError(f"not valid YAML: {problem}", self.path, line) from None
        except yaml.YAMLError as e:
            raise PolicyError(f"not valid YAML: {e}", self.path) from None
        finally:
            loader.dispose()

    def fail(self, message: str, node: yaml.Node | None) -> PolicyError:
        line = None if node is None else node.start_mark.line + 1
        return PolicyError(message, self.path, line)

    def mapping(
        self, node: yaml.Node, what: str, required: set[str], optional: set[str]
    ) -> dict[str, yaml.Node]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(f"{what} must be a mapping", node)
        out: dict[str, yaml.Node] = {}
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key not in required | optional:
                allowed = ", ".join(sorted(required | optional))
                raise self.fail(f"unknown key {key!r} in {what} (allowed: {allowed})", key_node)
            if key in out:
                raise self.fail(f"duplicate key {key!r} in {what}", key_node)
            out[key] = value
        missing = sorted(required - out.keys())
        if missing:
            raise self.fail(f"{what} is missing {', '.join(missing)}", node)
        return out

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        import yaml

        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(f"{what} must be a list", node)
        return list(node.value)

    def string(self, node: yaml.Node, what: str) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            raise self.fail(f"{what} must be a string", node)
        if not node.value.strip():
            raise self.fail(f"{what} must not be empty", node)
        return str(node.value)

    def scalar(self, node: yaml.Node, what: str) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise self.fail(f"{what} must be a value", node)
        return str(node.value)


@functools.cache
def _bounded_loader() -> type[yaml.SafeLoader]:
    """PyYAML's SafeLoader, refusing to nest more than MAX_NESTING deep (its composer
    recurses: a deep file would end in RecursionError)."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
            if self.depth >= MAX_NESTING and parent is not None:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_NESTING} deep", parent.start_mark
                )
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


def load(path: Path, cache: Path | None = None) -> Policy:
    """Read and validate a policy file. With ``cache`` (a private folder), a policy that
    was parsed from the same bytes at the same path is read from there."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise PolicyError(
            "policy file not found (create one, or name it with --policy)", path
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"cannot read policy: {e}", path) from None
    if cache is None:
        return parse(path, text)
    import hashlib

    key = hashlib.sha256(f"{__version__}\0{path}\0".encode() + data).hexdigest()
    entry = cache / f"{key}.json"
    policy = _recall(entry, path)
    if policy is None:
        policy = parse(path, text)
        _keep(entry, policy)
    return policy


def _keep(entry: Path, policy: Policy) -> None:
    """Store a parsed policy; a cache that cannot be written is no error."""
    import json

    from package_trust.atomic import write_atomic
    from package_trust.cache.folder import private_folder

    parsed = [
        policy.minimum_signatures,
        [[k.fingerprint, k.name, k.line] for k in policy.trusted_keys],
        [[x.path, x.line, x.git, x.ref] for x in policy.ledgers],
        [[e.package, e.reason, e.expires and e.expires.isoformat(), e.line, e.integrity,
          e.source] for e in policy.exemptions],
    ]
    try:
        private_folder(entry.parent)
        write_atomic(entry, json.dumps(parsed).encode(), mode=0o600, durable=False)
    except OSError:
        pass


def _recall(entry: Path, path: Path) -> Policy | None:
    """The policy ``_keep`` stored, or None if there is none of exactly that shape."""
    import json

    try:
        minimum, keys, ledgers, exemptions = json.loads(entry.read_bytes())
        exempt = [_typed(e, str, str, (str, None), int, (str, None), (str, None))
                  for e in exemptions]
        policy = Policy(
            path, minimum, [TrustedKey(*_typed(k, str, str, int)) for k in keys],
            [LedgerSpec(*_typed(x, str, int, (str, None), (str, None))) for x in ledgers],
            [Exemption(p, r, x and dt.date.fromisoformat(x), n, i, s)
             for p, r, x, n, i, s in exempt],
        )
    except (OSError, ValueError, TypeError):
        return None
    return policy if type(minimum) is int and keys else None


def _typed(values: Any, *kinds: type | tuple[type | None, ...]) -> list[Any]:
    """``values``, a list whose items have these types (None: null); else TypeError."""
    if type(values) is not list or len(values) != len(kinds):
        raise TypeError("unexpected shape")
    for value, kind in zip(values, kinds, strict=True):
        allowed = kind if isinstance(kind, tuple) else (kind,)
        if not any(value is None if k is None else type(value) is k for k in allowed):
            raise TypeError("unexpected shape")
    return values


def parse(path: Path, text: str) -> Policy:
    """Validate policy ``text`` read from ``path``."""
    r = YamlReader(path)
    root = r.compose(text)
    if root is None:
        raise PolicyError("policy file is empty", path, 1)
    top = r.mapping(
        root, "the policy", {"minimum-signatures", "trusted-keys"}, {"ledgers", "exemptions"}
    )
    minimum_node = top["minimum-signatures"]
    digits = minimum_node.value if minimum_node.tag == "tag:yaml.org,2002:int" else ""
    if not isinstance(digits, str) or not _DECIMAL.fullmatch(digits):  # not 0x1, 1_000, +1
        raise r.fail("minimum-signatures must be a whole number of at least 1, "
                     "in decimal digits", minimum_node)
    keys = [_trusted_key(r, n) for n in r.sequence(top["trusted-keys"], "trusted-keys")]
    if not keys:
        raise r.fail("trusted-keys must list at least one key", top["trusted-keys"])
    seen: set[str] = set()
    for k in keys:
        if k.fingerprint in seen:
            raise PolicyError(f"fingerprint {k.fingerprint} is listed twice", path, k.line)
        seen.add(k.fingerprint)
    if len(digits) > 9 or int(digits) > len(keys):  # int() of a huge number would fail
        raise r.fail(
            f"minimum-signatures is {digits} but only {len(keys)} keys are trusted: "
            "no package could ever pass",
            minimum_node,
        )
    minimum = int(digits)
    ledgers = (
        [_ledger(r, n) for n in r.sequence(top["ledgers"], "ledgers")]
        if "ledgers" in top
        else [LedgerSpec(path=".", line=1)]
    )
    if not ledgers:
        raise r.fail("ledgers must list at least one ledger (or be left out)", top["ledgers"])
    exemptions = (
        [_exemption(r, n) for n in r.sequence(top["exemptions"], "exemptions")]
        if "exemptions" in top
        else []
    )
    return Policy(path, minimum, keys, ledgers, exemptions)


def _trusted_key(r: YamlReader, node: yaml.Node) -> TrustedKey:
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


def _ledger(r: YamlReader, node: yaml.Node) -> LedgerSpec:
    m = r.mapping(node, "a ledger", set(), {"path", "git", "ref"})
    if "git" not in m and "path" not in m:
        raise r.fail("a ledger needs path: (a folder) or git: (a repository URL)", node)
    if "ref" in m and "git" not in m:
        raise r.fail("ref: goes with git:", m["ref"])
    path = r.string(m["path"], "path") if "path" in m else "."
    git = r.string(m["git"], "git") if "git" in m else None
    ref = r.scalar(m["ref"], "ref") if "ref" in m else None
    return LedgerSpec(path=path, line=node.start_mark.line + 1, git=git, ref=ref)


def _exemption(r: YamlReader, node: yaml.Node) -> Exemption:
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
    expires = None
    if "expires" in m:
        value = r.scalar(m["expires"], "expires")
        try:
            expires = dt.date.fromisoformat(value)
        except ValueError:
            raise r.fail(f"expires {value!r} is not a date (YYYY-MM-DD)", m["expires"]) from None
    return Exemption(package, reason, expires, node.start_mark.line + 1, integrity, source)
