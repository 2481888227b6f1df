"""Dependency chains from the lockfile's own graph (check/graph.py), on lockfiles npm/cli
ships: the shortest chain from what the project, or one of its workspaces, depends on."""

from __future__ import annotations

from package_trust.check import lockfile
from package_trust.check.graph import Graph
from support import DATA

LOCKFILES = DATA / "lockfiles"


def graph(name: str) -> Graph:
    return Graph(lockfile.load(LOCKFILES / name / "package-lock.json"))


def test_an_alias_is_named_as_installed() -> None:
    g = graph("large-install-v3-aliases")
    assert g.chain("node_modules/wrap-ansi-cjs") == [
        "glob", "jackspeak", "@isaacs/cliui", "wrap-ansi-cjs"]


def test_a_workspace_dependency_starts_at_the_workspace() -> None:
    g = graph("npm-cli-v3-workspaces")
    assert g.chain("node_modules/@npmcli/arborist") == ["@npmcli/arborist"]  # linked
    # what only the arborist workspace depends on is reached through it
    assert g.chain("node_modules/@npmcli/query") == ["@npmcli/arborist", "@npmcli/query"]
    workspaces = {p.removeprefix("node_modules/") for p, d in g.entries.items()
                  if d.source.value == "link" and p.startswith("node_modules/")}
    reached = [g.chain(p) for p in g.entries if "node_modules/" in p]
    assert all(reached)
    assert sum(c[0] in workspaces and len(c) > 1 for c in reached) > 100


def test_version_1_chains_come_from_requires() -> None:
    g = graph("v1-tap-and-flow")
    chains = [g.chain(p) for p in g.entries]
    assert all(chains)
    assert max(chains, key=len)[:2] == ["tap", "nyc"]


def test_unreached_entries_have_no_chain_and_pins_take_their_holders() -> None:
    g = graph("v2-bundled")
    assert g.chain("node_modules/@babel/code-frame") == []  # nothing requires it
    held = g.chain("node_modules/@isaacs/testing-bundledeps")
    assert held
    assert g.chain("node_modules/@isaacs/testing-bundledeps/node_modules/x/node_modules/y") == [
        *held, "x", "y"]
