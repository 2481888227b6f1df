"""Lockfile names are hostile: nothing outside the ledger may be read or counted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from package_trust.cli import main
from support import Key, Project, fake_integrity


def hostile_lockfile(project: Project, entries: dict[str, dict[str, str]]) -> None:
    packages: dict[str, object] = {"": {"name": "demo", "version": "1.0.0"}}
    packages.update(entries)
    (project.root / "package-lock.json").write_text(
        json.dumps({"lockfileVersion": 3, "packages": packages})
    )


@pytest.mark.parametrize("name", [
    "../outside",
    "../../outside",
    "/tmp/outside",
    "@scope/../../outside",
    "@scope/../outside",
    "..",
    "left-pad/../../outside",
    "outside\x00",
    "C:\\outside",
])
def test_hostile_name_reads_nothing_outside(project: Project, keys: dict[str, Key], name: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    project.add_key(alice)
    project.policy([alice])
    # A valid, trusted statement for the hostile name, planted outside the ledger where a
    # naive path join would find it.
    outside = project.root.parent / "outside" / "1.0.0"
    outside.mkdir(parents=True)
    (outside / "a.sig").write_bytes(project.auditors.statement(alice, name, "1.0.0"))
    hostile_lockfile(project, {f"node_modules/{name}": {
        "name": name, "version": "1.0.0",
        "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz",
        "integrity": fake_integrity(name, "1.0.0"),
    }})
    code = main(["check", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    [pkg] = report["packages"]
    assert pkg["status"] == "unverifiable"
    assert pkg["signatures"] == 0
    assert pkg["statements"] == []


@pytest.mark.parametrize("version", ["../../outside/1.0.0", "..", "/etc", "1.0.0/../../x"])
def test_hostile_version(project: Project, keys: dict[str, Key], version: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    hostile_lockfile(project, {"node_modules/left-pad": {
        "version": version, "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz",
        "integrity": fake_integrity("left-pad", version),
    }})
    assert main(["check", "--format", "json"]) == 1
    [pkg] = json.loads(capsys.readouterr().out)["packages"]
    assert pkg["status"] == "unverifiable"


def test_link_out_of_the_ledger_is_not_followed(project: Project, keys: dict[str, Key],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    project.add_key(alice)
    project.policy([alice])
    project.lockfile({"left-pad": "1.3.0", "right-pad": "1.0.0"})
    outside = project.root.parent / "elsewhere"
    (outside / "1.3.0").mkdir(parents=True)
    (outside / "1.3.0" / "a.sig").write_bytes(
        project.auditors.statement(alice, "left-pad", "1.3.0"))
    os.symlink(outside, project.root / "signatures" / "left-pad")
    # A statement file that is itself a link to a valid statement outside.
    (project.root / "signatures" / "right-pad" / "1.0.0").mkdir(parents=True)
    (outside / "right.sig").write_bytes(project.auditors.statement(alice, "right-pad", "1.0.0"))
    os.symlink(outside / "right.sig", project.root / "signatures/right-pad/1.0.0/a.sig")
    assert main(["check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    statuses = {p["name"]: (p["status"], p["signatures"]) for p in report["packages"]}
    assert statuses == {"left-pad": ("unaudited", 0), "right-pad": ("unaudited", 0)}
    right = next(p for p in report["packages"] if p["name"] == "right-pad")
    assert any("is a link; not followed" in p for p in right["problems"])


def test_scoped_name_reads_its_own_folder(project: Project, keys: dict[str, Key]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"@babel/core": "7.0.0"})
    project.sign(keys["alice"], "@babel/core", "7.0.0")
    assert (project.root / "signatures/@babel/core/7.0.0").is_dir()
    assert main(["check"]) == 0


def test_statement_path_proves_nothing(project: Project, keys: dict[str, Key],
                                       tmp_path: Path) -> None:
    """A statement for @evil/left-pad filed under left-pad does not count for left-pad."""
    alice = keys["alice"]
    project.add_key(alice)
    project.policy([alice])
    project.lockfile({"left-pad": "1.3.0"})
    data = project.auditors.statement(alice, "@evil/left-pad", "1.3.0",
                                      fake_integrity("left-pad", "1.3.0"))
    project.add_statement("left-pad", "1.3.0", data)
    assert main(["check"]) == 1


@pytest.mark.parametrize("name", ["left-pad\n", "left-pad\n../x"])
def test_trailing_newline_is_not_a_valid_name(name: str) -> None:
    from package_trust.check.names import is_valid_name, is_valid_version

    assert not is_valid_name(name)
    assert not is_valid_version("1.3.0\n")
