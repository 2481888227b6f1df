"""The check with delta audits (a chain of links from a full audit, each with enough
trusted signatures, each bound to the exact tarballs) and development scope (the
policy's development minimum for entries only development needs): real gpg, the CLI."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from package_trust.cli import main
from support import Key, Project, fake_integrity

NAME = "left-pad"


def b64(name: str, version: str) -> str:
    return fake_integrity(name, version).removeprefix("sha512-")


def delta(project: Project, key: Key, version: str, old: str, old_hash: str | None = None,
          **extra: Any) -> None:
    base = {"version": old, "hash": {"sha512": old_hash or b64(NAME, old)}}
    project.sign(key, NAME, version, **{"from": base}, **extra)


def report(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["check", "--format", "json"]) in (0, 1)
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return next(p for p in data["packages"] if p["name"] == NAME)


@pytest.fixture
def two(project: Project, keys: dict[str, Key]) -> Project:
    """left-pad@1.3.0 locked; alice and bob trusted, two signatures needed."""
    for k in ("alice", "bob"):
        project.add_key(keys[k])
    project.policy([keys["alice"], keys["bob"]], minimum=2)
    project.lockfile({NAME: "1.3.0"})
    return project


def test_a_chain_with_enough_signatures_on_every_link_passes(
        two: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    for k in (keys["alice"], keys["bob"]):
        two.sign(k, NAME, "1.1.0")
        delta(two, k, "1.2.0", "1.1.0")
        delta(two, k, "1.3.0", "1.2.0")
    assert main(["check"]) == 0
    pkg = report(capsys)
    assert pkg["status"] == "audited" and pkg["signatures"] == 2
    assert main(["check", "--no-cache"]) == 0
    assert "audited via 1.1.0 \u2192 1.2.0 \u2192 1.3.0" in _reason(two)


def _reason(project: Project) -> str:
    from package_trust.check import engine, lockfile, policy
    from package_trust.check.ledger import FolderLedger

    result = engine.check([lockfile.load(project.root / "package-lock.json")],
                          policy.load(project.root / "trust-policy.yml"),
                          [FolderLedger(project.root)])
    return next(p.reason for p in result.packages if p.name == NAME)


def test_one_link_short_fails(two: Project, keys: dict[str, Key],
                              capsys: pytest.CaptureFixture[str]) -> None:
    for k in (keys["alice"], keys["bob"]):
        two.sign(k, NAME, "1.1.0")
        delta(two, k, "1.3.0", "1.2.0")
    delta(two, keys["alice"], "1.2.0", "1.1.0")  # 1 of 2
    assert main(["check"]) == 1
    pkg = report(capsys)
    assert pkg["status"] == "unaudited" and pkg["signatures"] == 0
    assert any("a delta audit from 1.2.0: no chain of audits reaches the 1.2.0 tarball" in p
               for p in pkg["problems"])


def test_a_delta_whose_from_is_not_the_audited_tarball_fails(
        two: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    for k in (keys["alice"], keys["bob"]):
        two.sign(k, NAME, "1.2.0")  # the registry's 1.2.0
        delta(two, k, "1.3.0", "1.2.0", old_hash=b64(NAME, "another 1.2.0"))
    assert main(["check"]) == 1
    assert report(capsys)["status"] == "unaudited"


def test_a_rejection_on_the_way_does_not_propagate_but_one_of_the_target_wins(
        two: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    for k in (keys["alice"], keys["bob"]):
        two.sign(k, NAME, "1.2.0")
        delta(two, k, "1.3.0", "1.2.0")
    two.add_statement(NAME, "1.2.0", two.auditors.statement(keys["alice"], NAME, "1.2.0",
                                                            verdict="rejected"), "r.sig")
    assert main(["check"]) == 0
    two.add_statement(NAME, "1.3.0", two.auditors.statement(keys["bob"], NAME, "1.3.0",
                                                            verdict="rejected"), "r.sig")
    assert main(["check"]) == 1
    assert report(capsys)["status"] == "rejected"


def test_a_broken_chain_is_seen_through_the_caches(
        two: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    for k in (keys["alice"], keys["bob"]):
        two.sign(k, NAME, "1.2.0")
        delta(two, k, "1.3.0", "1.2.0")
    assert main(["check"]) == 0
    assert main(["check"]) == 0  # from the caches
    shutil.rmtree(two.root / "signatures" / NAME / "1.2.0")
    assert main(["check"]) == 1


def test_a_delta_statement_is_no_full_audit(two: Project, keys: dict[str, Key]) -> None:
    for k in (keys["alice"], keys["bob"]):
        delta(two, k, "1.3.0", "1.2.0")  # 1.2.0 was never audited
    assert main(["check"]) == 1


def test_dev_only_packages_need_the_development_minimum(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    alice, bob = keys["alice"], keys["bob"]
    for k in (alice, bob):
        project.add_key(k)
    project.policy([alice, bob])
    policy = project.root / "trust-policy.yml"
    policy.write_text(policy.read_text().replace(
        "minimum-signatures: 1", "minimum-signatures:\n  production: 2\n  development: 1"))
    entries: dict[str, Any] = {"": {"name": "demo", "version": "1.0.0",
                                    "dependencies": {"app": "1.0.0"},
                                    "devDependencies": {"tool": "1.0.0"}}}
    for name, dev in (("app", False), ("tool", True)):
        entries[f"node_modules/{name}"] = {
            "version": "1.0.0", "integrity": fake_integrity(name, "1.0.0"),
            "resolved": f"https://registry.npmjs.org/{name}/-/{name}-1.0.0.tgz",
            **({"dev": True} if dev else {})}
        project.sign(alice, name, "1.0.0")
    (project.root / "package-lock.json").write_text(json.dumps(
        {"name": "demo", "version": "1.0.0", "lockfileVersion": 3, "packages": entries}))
    capsys.readouterr()
    assert main(["check", "--format", "json"]) == 1
    found = {p["name"]: p for p in json.loads(capsys.readouterr().out)["packages"]}
    assert (found["tool"]["status"], found["tool"]["required"]) == ("audited", 1)
    assert (found["app"]["status"], found["app"]["required"]) == ("unaudited", 2)
    project.sign(bob, "app", "1.0.0")
    assert main(["check"]) == 0
