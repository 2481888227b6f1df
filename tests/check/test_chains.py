"""Delta audits (check/chains.py): chains of links from a full audit, each with enough
distinct trusted keys, each bound to the exact tarballs; statements signed with real gpg
and verified in an isolated keyring, judged as the engine judges them."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from package_trust.check import chains, statement
from package_trust.check.chains import Accepted, Link, Node, Pending, Refused, Target
from package_trust.check.gpg import Keyring
from package_trust.check.ledger import LedgerFile
from package_trust.check.result import StatementResult
from support import Auditors, Key

NAME = "left-pad"


def tarball(version: str, variant: str = "") -> Node:
    return Node(version, hashlib.sha512(f"{NAME}@{version}{variant}".encode()).digest())


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class Ledger:
    """Statements filed by version, signed by real keys; judged as the engine judges
    them: counted when a trusted key's good signature audits that very tarball."""

    def __init__(self, auditors: Auditors, keys: dict[str, Key], trusted: list[str]) -> None:
        self.auditors = auditors
        self.files = [LedgerFile(k, auditors.export(keys[k])) for k in ("alice", "bob", "carol",
                                                                          "dave")]
        self.trusted = {keys[k].fingerprint for k in trusted}
        self.filed: dict[str, list[bytes]] = {}
        self.asked: list[list[tuple[str, Node]]] = []

    def sign(self, key: Key, node: Node, base: Node | None = None, **extra: Any) -> None:
        if base is not None:
            extra["from"] = {"version": base.version, "hash": {"sha512": b64(base.sha512)}}
        data = self.auditors.statement(key, NAME, node.version, "sha512-" + b64(node.sha512),
                                       **extra)
        self.filed.setdefault(node.version, []).append(data)

    def judge(self, node: Node) -> list[StatementResult]:
        filed = self.filed.get(node.version, [])
        with Keyring(self.files) as ring:
            verified = ring.verify_many(filed)
        out = []
        for v in verified:
            if v.plaintext is None:
                out.append(StatementResult("x.sig", False, problem=v.problem))
                continue
            st = statement.parse(v.plaintext)
            base = chains.base_of(st.raw)
            counted = (v.good and v.primary in self.trusted and st.verdict == "audited"
                       and (st.package, st.version) == (NAME, node.version)
                       and statement.decode_b64(st.sha512) == node.sha512)
            out.append(StatementResult("x.sig", counted, st.verdict == "rejected", None,
                                       v.primary, verdict=st.verdict, base=None if base is None
                                       else (base.version, b64(base.sha512))))
        return out

    def lookup(self, asked: list[tuple[str, Node]]) -> dict[tuple[str, Node], Link]:
        self.asked.append(asked)
        return {(name, node): chains.link_of(self.judge(node)) for name, node in asked}

    def resolve(self, target: Node, required: int) -> chains.Outcome:
        links = {NAME: {target: chains.link_of(self.judge(target))}}
        [outcome] = chains.resolve_all([Target(NAME, target, required)], links, self.lookup)
        return outcome


@pytest.fixture
def ledger(auditors: Auditors, keys: dict[str, Key]) -> Iterator[Ledger]:
    yield Ledger(auditors, keys, ["alice", "bob", "dave"])


V1, V2, V3 = tarball("1.0.0"), tarball("1.1.0"), tarball("1.2.0")


def test_a_chain_with_enough_signatures_on_every_link_passes(
        ledger: Ledger, keys: dict[str, Key]) -> None:
    for k in ("alice", "bob"):
        ledger.sign(keys[k], V1)
        ledger.sign(keys[k], V2, base=V1)
        ledger.sign(keys[k], V3, base=V2)
    outcome = ledger.resolve(V3, 2)
    assert outcome == Accepted(("1.0.0", "1.1.0", "1.2.0"), V2)
    assert chains.chain(outcome) == ["1.0.0", "1.1.0", "1.2.0"]
    assert ledger.asked == [[(NAME, V2)], [(NAME, V1)]]  # one link further each round


def test_one_link_short_of_signatures_fails(ledger: Ledger, keys: dict[str, Key]) -> None:
    for k in ("alice", "bob"):
        ledger.sign(keys[k], V1)
        ledger.sign(keys[k], V3, base=V2)
    ledger.sign(keys["alice"], V2, base=V1)  # this link has 1 of 2
    outcome = ledger.resolve(V3, 2)
    assert isinstance(outcome, Refused)
    assert outcome.reasons[V2] == (
        "a delta audit from 1.1.0: no chain of audits reaches the 1.1.0 tarball it names "
        "(a full audit of 1.1.0 must bind that very tarball)")
    assert ledger.resolve(V3, 1) == Accepted(("1.0.0", "1.1.0", "1.2.0"), V2)


def test_a_delta_from_a_tarball_that_is_not_the_audited_one_fails(
        ledger: Ledger, keys: dict[str, Key]) -> None:
    other = tarball("1.0.0", "another tarball of 1.0.0")
    ledger.sign(keys["alice"], V1)  # the audited 1.0.0
    ledger.sign(keys["alice"], V2, base=other)
    outcome = ledger.resolve(V2, 1)
    assert isinstance(outcome, Refused)
    assert "no chain of audits reaches the 1.0.0 tarball it names" in outcome.reasons[other]
    assert ledger.asked == [[(NAME, other)]]


def test_the_target_link_itself_short_of_signatures(ledger: Ledger, keys: dict[str, Key]) -> None:
    ledger.sign(keys["alice"], V1)
    ledger.sign(keys["bob"], V1)
    ledger.sign(keys["alice"], V2, base=V1)
    ledger.sign(keys["carol"], V2, base=V1)  # not trusted
    outcome = ledger.resolve(V2, 2)
    assert outcome == Refused({V1: "a delta audit from 1.0.0: 1 of 2 required signatures "
                                   "for this delta"})
    assert ledger.asked == []  # nothing else to read when no link is signed enough


def test_a_full_audit_of_the_target_counts_on_its_delta_link(
        ledger: Ledger, keys: dict[str, Key]) -> None:
    ledger.sign(keys["alice"], V1)
    ledger.sign(keys["bob"], V1)
    ledger.sign(keys["alice"], V2)  # in full
    ledger.sign(keys["bob"], V2, base=V1)  # from 1.0.0
    assert ledger.resolve(V2, 2) == Accepted(("1.0.0", "1.1.0"), V1)


def test_a_rejection_on_the_way_does_not_propagate(ledger: Ledger, keys: dict[str, Key]) -> None:
    ledger.sign(keys["alice"], V1)
    ledger.sign(keys["dave"], V1, verdict="rejected")
    ledger.sign(keys["alice"], V2, base=V1)
    assert ledger.resolve(V2, 1) == Accepted(("1.0.0", "1.1.0"), V1)


def test_a_tampered_delta_statement_does_not_count(ledger: Ledger, keys: dict[str, Key]) -> None:
    ledger.sign(keys["alice"], V1)
    ledger.sign(keys["alice"], V2, base=V1)
    ledger.filed["1.1.0"] = [ledger.filed["1.1.0"][0].replace(b"1.0.0", b"0.9.0")]
    outcome = ledger.resolve(V2, 1)
    assert isinstance(outcome, Refused) and outcome.reasons == {}


def test_the_shortest_chain_is_reported(ledger: Ledger, keys: dict[str, Key]) -> None:
    ledger.sign(keys["alice"], V1)
    ledger.sign(keys["alice"], V2, base=V1)
    ledger.sign(keys["alice"], V3, base=V2)
    ledger.sign(keys["bob"], V3, base=V1)
    assert ledger.resolve(V3, 1) == Accepted(("1.0.0", "1.2.0"), V1)


def links_of(edges: Mapping[Node, list[Node]], full: set[Node]) -> dict[Node, Link]:
    """Links without gpg: each node reviewed from its bases by one key."""
    nodes = set(edges) | full | {b for bases in edges.values() for b in bases}
    return {n: Link(frozenset({"A"}) if n in full else frozenset(),
                    {b: frozenset({"A"}) for b in edges.get(n, [])}) for n in nodes}


def test_cycles_end() -> None:
    assert chains.resolve(V2, 1, links_of({V2: [V1], V1: [V2]}, set())) == Refused(
        {V1: "a delta audit from 1.0.0: no chain of audits reaches the 1.0.0 tarball it names "
             "(a full audit of 1.0.0 must bind that very tarball)"})


@pytest.mark.parametrize(("deltas", "passes"), [(chains.MAX_LINKS, True),
                                                 (chains.MAX_LINKS + 1, False)])
def test_a_chain_longer_than_the_bound_fails_closed(deltas: int, passes: bool) -> None:
    versions = [tarball(f"1.{i}.0") for i in range(deltas + 1)]
    links = links_of({versions[i]: [versions[i - 1]] for i in range(1, deltas + 1)},
                     {versions[0]})
    outcome = chains.resolve(versions[-1], 1, links)
    assert isinstance(outcome, Accepted) is passes
    if not passes:
        assert isinstance(outcome, Refused)
        assert "no full audit within 16 delta audits" in outcome.reasons[versions[-2]]


def test_pending_names_the_tarballs_still_needed() -> None:
    links = {V3: Link(frozenset(), {V2: frozenset({"A"}), V1: frozenset({"A"})})}
    assert chains.resolve(V3, 1, links) == Pending(frozenset({V1, V2}))
    assert chains.resolve(V3, 2, links) == Refused({
        V2: "a delta audit from 1.1.0: 1 of 2 required signatures for this delta",
        V1: "a delta audit from 1.0.0: 1 of 2 required signatures for this delta"})


def test_a_lookup_that_answers_nothing_ends() -> None:
    links = {NAME: {V2: Link(frozenset(), {V1: frozenset({"A"})})}}
    outcomes = chains.resolve_all([Target(NAME, V2, 1)], links, lambda asked: {})
    assert isinstance(outcomes[0], Refused)
    assert links[NAME][V1] == Link()


@pytest.mark.parametrize("given", [None, "1.0.0", {"version": "1.0.0"},
                                   {"version": "not a version", "hash": {"sha512": b64(V1.sha512)}},
                                   {"version": "1.0.0", "hash": {"sha512": "c2hvcnQ="}},
                                   {"version": "1.0.0", "hash": {"sha512": "%%%"}}])
def test_a_malformed_from_is_a_malformed_statement(given: Any) -> None:
    with pytest.raises(statement.StatementError, match="malformed statement: from"):
        chains.base_of({"from": given})


def test_no_from_is_a_full_audit() -> None:
    assert chains.base_of({"package": NAME}) is None
    assert chains.base_of({"from": {"version": "1.0.0", "hash": {"sha512": b64(V1.sha512)}}}) \
        == V1


def test_settle_counts_only_the_link_on_the_chain() -> None:
    full = StatementResult("a.sig", True, fingerprint="A")
    on = StatementResult("b.sig", True, fingerprint="B", base=("1.0.0", b64(V1.sha512)))
    off = StatementResult("c.sig", True, fingerprint="C", base=("1.1.0", b64(V2.sha512)))
    settled = chains.settle([full, on, off], Accepted(("1.0.0", "1.2.0"), V1))
    assert [s.counted for s in settled] == [True, True, False]
    assert settled[2].problem == "a delta audit from 1.1.0, not on the chain that audits " \
                                 "this version"
    refused = chains.settle([full, on], Refused({V1: "why not"}))
    assert [(s.counted, s.problem) for s in refused] == [(True, None), (False, "why not")]


def test_the_chain_is_told_only_through_deltas() -> None:
    assert chains.chain(Accepted(("1.0.0",))) == []
    assert chains.chain(Refused({})) == []
    assert (chains.scope(True), chains.scope(False)) == ("development", "production")
