"""Delta audits and development scope: pure functions the engine calls.

A statement with ``"from": {"version": OLD, "hash": {"sha512": ...}}``, filed for NEW,
certifies NEW's tarball (its ``hash``) given OLD's exact tarball (``from.hash``): its
reviewer read the diff. A tarball is audited when a chain of links leads to it from a full
audit (a statement without ``from``), each link signed by at least the required number of
distinct trusted keys, each bound to the exact tarballs. A full audit of a tarball also
vouches for it on any link that ends there. A rejection of a version on the way does not
propagate (the engine honours one of the package itself).

The engine verifies and judges statements (counted: trusted, good, bound to the tarball);
this module reads what it judged (``link_of``), resolves chains (``resolve``), asks for
the tarballs it still needs (``Pending``, fed by ``resolve_all``'s ``lookup``), and says
which statements then count (``settle``). A chain longer than MAX_LINKS is not followed.

Development scope: a package every lockfile entry of which only development needs
(``Dependency.dev``, lockfile/npm_scope.py) is judged against the policy's development
minimum (``Policy.minimum_for``); ``scope`` names it for reports.
"""

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from package_trust.check.names import is_valid_version
from package_trust.check.result import StatementResult
from package_trust.check.statement import StatementError, decode_b64

MAX_LINKS = 16  # delta audits in one chain: a longer one fails closed
DEVELOPMENT, PRODUCTION = "development", "production"


class Node(NamedTuple):
    """One tarball of a package: its version and its sha512 digest."""

    version: str
    sha512: bytes


class Link(NamedTuple):
    """What the counted statements filed for one tarball say: the keys that audited it in
    full, and for each tarball it was reviewed from, the keys that reviewed that delta."""

    full: frozenset[str] = frozenset()
    deltas: Mapping[Node, frozenset[str]] = {}


class Accepted(NamedTuple):
    """Audited: ``chain`` the versions from the full audit to the target (one: in full),
    ``base`` the tarball the target's own link starts from (None: audited in full)."""

    chain: tuple[str, ...]
    base: Node | None = None


class Refused(NamedTuple):
    """No chain leads to the target: why, for each tarball it was reviewed from."""

    reasons: Mapping[Node, str]


class Pending(NamedTuple):
    """The tarballs whose statements must be judged before the chain can be resolved."""

    need: frozenset[Node]


Outcome = Accepted | Refused


def base_of(raw: Mapping[str, Any]) -> Node | None:
    """The tarball a statement was reviewed from (its ``from``); None: a full audit.
    StatementError when ``from`` is there but not a version and a sha512 digest."""
    if "from" not in raw:
        return None
    given = raw["from"]
    version = given.get("version") if isinstance(given, dict) else None
    digest = given.get("hash") if isinstance(given, dict) else None
    sha512 = digest.get("sha512") if isinstance(digest, dict) else None
    if not isinstance(version, str) or not is_valid_version(version) or not isinstance(
            sha512, str):
        raise StatementError("malformed statement: from needs a version and hash.sha512")
    decoded = decode_b64(sha512)
    if decoded is None or len(decoded) != 64:
        raise StatementError("malformed statement: from.hash.sha512 is not a sha512 digest")
    return Node(version, decoded)


def as_pair(base: Node | None) -> tuple[str, str] | None:
    """A statement's base as a judged statement keeps it: (version, base64 sha512)."""
    return None if base is None else (base.version, base64.b64encode(base.sha512).decode())


def node_of(base: Sequence[str] | None) -> Node | None:
    """A judged statement's ``base`` (version, base64 sha512) as a Node."""
    if base is None:
        return None
    version, sha512 = base
    return Node(version, decode_b64(sha512) or b"")


def uses_deltas(statements: Iterable[StatementResult]) -> bool:
    """Whether a delta audit counts for the package, pending its chain: a verdict that
    rests on other versions' statements too."""
    return any(s.counted and s.base is not None for s in statements)


def link_of(statements: Iterable[StatementResult]) -> Link:
    """The link a tarball's judged statements make (only counted ones take part)."""
    full: set[str] = set()
    deltas: dict[Node, set[str]] = {}
    for s in statements:
        if not s.counted or not s.fingerprint:
            continue
        base = node_of(s.base)
        if base is None:
            full.add(s.fingerprint)
        else:
            deltas.setdefault(base, set()).add(s.fingerprint)
    return Link(frozenset(full), {b: frozenset(k) for b, k in deltas.items()})


def resolve(target: Node, required: int, links: Mapping[Node, Link],
            max_links: int = MAX_LINKS) -> Accepted | Refused | Pending:
    """The shortest chain of links, each with ``required`` keys, from a full audit to
    ``target``; or the tarballs whose links are still needed to tell."""
    parent: dict[Node, Node] = {}  # a tarball on the way -> the one reviewed from it
    level, seen = [target], {target}
    for _ in range(max_links + 1):
        done = next((n for n in level if n in links and len(links[n].full) >= required), None)
        if done is not None:
            return _accepted(done, target, parent)
        missing = frozenset(n for n in level if n not in links)
        if missing:
            return Pending(missing)
        following = []
        for node in level:
            link = links[node]
            for base, keys in link.deltas.items():
                if base not in seen and len(keys | link.full) >= required:
                    seen.add(base)
                    parent[base] = node
                    following.append(base)
        if not following:
            break
        level = following
    else:
        return Refused(_reasons(target, required, links, f"no full audit within {max_links} "
                                "delta audits (a longer chain is not followed)"))
    return Refused(_reasons(target, required, links, None))


def _accepted(done: Node, target: Node, parent: Mapping[Node, Node]) -> Accepted:
    chain, node = [done], done
    while node != target:
        node = parent[node]
        chain.append(node)
    return Accepted(tuple(n.version for n in chain), chain[-2] if len(chain) > 1 else None)


def _reasons(target: Node, required: int, links: Mapping[Node, Link],
             too_deep: str | None) -> dict[Node, str]:
    """Why each delta audit of the target does not count."""
    link = links.get(target, Link())
    out = {}
    for base, keys in link.deltas.items():
        signed = len(keys | link.full)
        if signed < required:
            why = f"{signed} of {required} required signatures for this delta"
        else:
            why = too_deep or (f"no chain of audits reaches the {base.version} tarball it names "
                               f"(a full audit of {base.version} must bind that very tarball)")
        out[base] = f"a delta audit from {base.version}: {why}"
    return out


Lookup = Callable[[list[tuple[str, Node]]], Mapping[tuple[str, Node], Link]]


class Target(NamedTuple):
    """A package's tarball to resolve, and the signatures each link needs."""

    name: str
    node: Node
    required: int


def resolve_all(targets: Sequence[Target], links: dict[str, dict[Node, Link]],
                lookup: Lookup) -> list[Outcome]:
    """Resolve every target; ``links`` (package name -> tarball -> link) holds what the
    engine judged already, ``lookup`` judges more: each round asks it at once for every
    tarball any target still needs. Whatever it does not answer has no link."""
    outcomes: list[Outcome | None] = [None] * len(targets)
    for _ in range(MAX_LINKS + 2):  # each round takes every open target a link further
        need: dict[tuple[str, Node], None] = {}
        for i, t in enumerate(targets):
            if outcomes[i] is None:
                found = resolve(t.node, t.required, links.get(t.name, {}))
                if isinstance(found, Pending):
                    need.update(((t.name, n), None) for n in found.need)
                else:
                    outcomes[i] = found
        if not need:
            break
        answered = lookup(list(need))
        for name, node in need:
            links.setdefault(name, {})[node] = answered.get((name, node), Link())
    return [o if o is not None else Refused({}) for o in outcomes]


def settle(statements: Sequence[StatementResult], outcome: Outcome) -> list[StatementResult]:
    """The statements once the chain is known: a delta audit counts only on the link that
    audits the target; the others say why not."""
    out = []
    for s in statements:
        base = node_of(s.base)
        if s.counted and base is not None:
            if isinstance(outcome, Refused):
                s = s._replace(counted=False, problem=outcome.reasons.get(base, "not audited"))
            elif base != outcome.base:
                s = s._replace(counted=False, problem=f"a delta audit from {base.version}, "
                               "not on the chain that audits this version")
        out.append(s)
    return out


def chain(outcome: Outcome) -> list[str]:
    """The versions from the full audit to the target, when audited through deltas."""
    return list(outcome.chain) if isinstance(outcome, Accepted) and len(outcome.chain) > 1 \
        else []


def scope(dev: bool) -> str:
    """The name of the scope a package is judged in."""
    return DEVELOPMENT if dev else PRODUCTION
