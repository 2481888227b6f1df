"""What a parent's audit covers (bundled packages, its own npm-shrinkwrap.json), what an
exemption covers, and a policy-only check after the lockfile changed: regression tests for
cases where `check` passed while npm installed a tarball no trusted key audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from package_trust.cli import main
from support import Key, Project, fake_integrity

PARENT = {"version": "1.0.0", "resolved": "https://registry.npmjs.org/parent/-/parent-1.0.0.tgz",
          "integrity": fake_integrity("parent", "1.0.0"), "bundleDependencies": ["child"]}
CHILD_URL = "https://registry.npmjs.org/child/-/child-2.0.0.tgz"
SHIPS_CHILD = {"bundled": [{"path": "node_modules/child", "name": "child", "version": "2.0.0"}],
               "shrinkwrap": None}


def write_lock(project: Project, packages: dict[str, Any], version: Any = 3) -> None:
    data = {"name": "demo", "version": "1.0.0", "lockfileVersion": version,
            "packages": {"": {"name": "demo", "version": "1.0.0"}, **packages}}
    (project.root / "package-lock.json").write_text(json.dumps(data, indent=2))


def check_json(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--no-cache", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in report["packages"]}


@pytest.fixture
def alice(project: Project, keys: dict[str, Key]) -> Key:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    return keys["alice"]


@pytest.mark.parametrize("child", [
    {"version": "2.0.0", "inBundle": True},  # npm fetches child@2.0.0 from the registry
    {"version": "2.0.0", "inBundle": True, "resolved": CHILD_URL,
     "integrity": fake_integrity("child", "2.0.0")},
])
def test_bundled_entry_is_judged_when_no_statement_lists_it(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str], child: dict[str, Any]
) -> None:
    project.sign(alice, "parent", "1.0.0")  # the seed's format: says nothing of bundles
    write_lock(project, {"node_modules/parent": PARENT,
                         "node_modules/parent/node_modules/child": child})
    code, report = check_json(capsys)
    assert code == 1
    failing = by_name(report)["child"]
    assert failing["status"] in ("unaudited", "unverifiable")
    assert any("marks it bundled in parent@1.0.0" in p for p in failing["problems"])
    assert by_name(report)["parent"]["status"] == "audited"


def test_bundled_entry_listed_by_the_audit_is_covered(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    project.sign(alice, "parent", "1.0.0", **SHIPS_CHILD)
    write_lock(project, {"node_modules/parent": PARENT,
                         "node_modules/parent/node_modules/child":
                         {"version": "2.0.0", "inBundle": True}})
    code, report = check_json(capsys)
    assert code == 0
    assert by_name(report)["child"]["status"] == "skipped"
    assert "shipped in parent@1.0.0's audited tarball" in by_name(report)["child"]["problems"][0]


@pytest.mark.parametrize(("path", "version"), [
    ("node_modules/parent/node_modules/child", "2.0.1"),  # another version than it ships
    ("node_modules/parent/node_modules/other/node_modules/child", "2.0.0"),  # elsewhere
])
def test_bundled_entry_must_match_what_the_audit_lists(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str], path: str, version: str
) -> None:
    project.sign(alice, "parent", "1.0.0", **SHIPS_CHILD)
    packages = {"node_modules/parent": PARENT, path: {"version": version, "inBundle": True}}
    if "/other/" in path:
        packages["node_modules/parent/node_modules/other"] = {"version": "1.0.0",
                                                               "inBundle": True}
    write_lock(project, packages)
    code, report = check_json(capsys)
    assert code == 1
    assert by_name(report)["child"]["status"] != "skipped"


def test_bundled_entries_need_as_many_listings_as_signatures(
    project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]
) -> None:
    for k in ("alice", "bob"):
        project.add_key(keys[k])
    project.policy([keys["alice"], keys["bob"]], minimum=2)
    project.sign(keys["alice"], "parent", "1.0.0", **SHIPS_CHILD)
    project.sign(keys["bob"], "parent", "1.0.0")  # counts for the parent, lists nothing
    write_lock(project, {"node_modules/parent": PARENT,
                         "node_modules/parent/node_modules/child":
                         {"version": "2.0.0", "inBundle": True}})
    code, report = check_json(capsys)
    assert code == 1
    assert by_name(report)["parent"]["status"] == "audited"
    assert by_name(report)["child"]["status"] == "unverifiable"


def test_malformed_contents_fields_are_a_problem_of_the_statement(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    project.sign(alice, "parent", "1.0.0", bundled="everything", shrinkwrap=None)
    write_lock(project, {"node_modules/parent": PARENT})
    code, report = check_json(capsys)
    assert code == 1
    assert "bundled must be a list" in by_name(report)["parent"]["problems"][-1]


def test_a_shrinkwrapped_dependency_needs_its_pins_recorded(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    project.sign(alice, "parent", "1.0.0")  # no record of its npm-shrinkwrap.json
    write_lock(project, {"node_modules/parent": {**PARENT, "hasShrinkwrap": True}})
    code, report = check_json(capsys)
    assert code == 1
    assert "npm-shrinkwrap.json decides what npm installs" in \
        by_name(report)["parent"]["problems"][0]


def test_a_shrinkwraps_pins_are_judged_as_packages(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    """npm installs what the tarball's shrinkwrap pins, whatever the project lockfile lists
    below the package: each pin needs an audit of its own."""
    pin = {"path": "node_modules/evil", "name": "evil", "version": "6.6.6",
           "integrity": fake_integrity("evil", "6.6.6"),
           "resolved": "https://registry.npmjs.org/evil/-/evil-6.6.6.tgz"}
    project.sign(alice, "parent", "1.0.0", bundled=[], shrinkwrap=[pin])
    write_lock(project, {"node_modules/parent": {**PARENT, "hasShrinkwrap": True}})
    code, report = check_json(capsys)
    assert code == 1
    evil = by_name(report)["evil"]
    assert evil["status"] == "unaudited"
    assert evil["paths"] == ["node_modules/parent/node_modules/evil"]
    project.sign(alice, "evil", "6.6.6")
    assert check_json(capsys)[0] == 0


def test_a_kept_verdicts_pins_are_judged_again(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    """The parent's verdict kept in the cache still brings its shrinkwrap's pins to be
    judged: a pin whose statement is gone fails the next check."""
    pin = {"path": "node_modules/evil", "name": "evil", "version": "6.6.6",
           "integrity": fake_integrity("evil", "6.6.6"),
           "resolved": "https://registry.npmjs.org/evil/-/evil-6.6.6.tgz"}
    project.sign(alice, "parent", "1.0.0", bundled=[], shrinkwrap=[pin])
    evil = project.sign(alice, "evil", "6.6.6")
    write_lock(project, {"node_modules/parent": {**PARENT, "hasShrinkwrap": True}})
    assert main(["check", "--format", "json"]) == 0
    capsys.readouterr()
    evil.unlink()
    code = main(["check", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, by_name(report)["evil"]["status"]) == (1, "unaudited")
    assert by_name(report)["parent"]["status"] == "audited"


# -- exemptions -------------------------------------------------------------------------------

def exempt(project: Project, key: Key, *lines: str) -> None:
    extra = "exemptions:\n  - package: parent@1.0.0\n    reason: baseline\n"
    project.policy([key], extra=extra + "".join(f"    {line}\n" for line in lines))


def test_a_trusted_rejection_overrules_an_exemption(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    exempt(project, alice)
    project.sign(alice, "parent", "1.0.0", verdict="rejected", notes="steals tokens")
    write_lock(project, {"node_modules/parent": PARENT})
    code, report = check_json(capsys)
    assert code == 1
    parent = by_name(report)["parent"]
    assert parent["status"] == "rejected"
    assert "rejection overrules the exemption" in parent["problems"][0]


def test_an_exemption_pinned_to_an_integrity_covers_that_tarball_alone(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    exempt(project, alice, f"integrity: {PARENT['integrity']}")
    moved = {**PARENT, "resolved": "https://elsewhere.example/parent/-/parent-1.0.0.tgz"}
    write_lock(project, {"node_modules/parent": moved})  # the same bytes, wherever they are
    assert check_json(capsys)[0] == 0
    write_lock(project, {"node_modules/parent": PARENT})
    assert check_json(capsys)[0] == 0
    other = {**PARENT, "integrity": fake_integrity("parent", "evil")}
    write_lock(project, {"node_modules/parent": other})
    code, report = check_json(capsys)
    assert code == 1
    assert by_name(report)["parent"]["status"] == "unaudited"


@pytest.mark.parametrize("resolved", [
    "https://elsewhere.example/parent/-/parent-1.0.0.tgz",  # another host
    "https://registry.npmjs.org/evil/-/evil-1.0.0.tgz",  # another package's tarball
    "https://registry.npmjs.org/parent/-/parent-1.0.0.tgz?x",
])
def test_an_unpinned_exemption_covers_only_the_registrys_tarball(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str], resolved: str
) -> None:
    exempt(project, alice)
    write_lock(project, {"node_modules/parent": {**PARENT, "resolved": resolved}})
    code, report = check_json(capsys)
    assert code == 1
    assert by_name(report)["parent"]["status"] == "unaudited"


def test_an_unpinned_exemption_covers_the_configured_registry(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    exempt(project, alice)
    (project.root / ".npmrc").write_text("registry=https://npm.example.org/\n")
    resolved = "https://npm.example.org/parent/-/parent-1.0.0.tgz"
    write_lock(project, {"node_modules/parent": {**PARENT, "resolved": resolved}})
    assert check_json(capsys)[0] == 0


def test_an_exemption_integrity_must_be_one_sha512(project: Project, alice: Key,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    exempt(project, alice, "integrity: sha1-AAAA")
    write_lock(project, {"node_modules/parent": PARENT})
    assert main(["check", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "trust-policy.yml:8: integrity 'sha1-AAAA' is not one sha512 integrity" in err


# -- the result cache --------------------------------------------------------------------------

def test_policy_only_check_sees_a_changed_default_lockfile(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the hook runs on a commit that changes only trust-policy.yml."""
    project.sign(alice, "parent", "1.0.0")
    write_lock(project, {"node_modules/parent": PARENT})
    assert main(["check", "trust-policy.yml"]) == 0
    assert main(["check", "trust-policy.yml"]) == 0  # answered from the cache
    write_lock(project, {"node_modules/parent": PARENT,
                         "node_modules/evil": {"version": "6.6.6",
                                               "integrity": fake_integrity("evil", "6.6.6")}})
    capsys.readouterr()
    assert main(["check", "trust-policy.yml"]) == 1
    assert "evil@6.6.6" in capsys.readouterr().out


def test_a_package_json_beside_the_lockfile_is_an_input_of_the_cached_result(
    project: Project, alice: Key, tmp_path: Path
) -> None:
    project.sign(alice, "parent", "1.0.0")
    write_lock(project, {"node_modules/parent": PARENT})
    manifest = project.root / "package.json"
    manifest.write_text(json.dumps({"name": "demo", "version": "1.0.0"}))
    first = main(["check"])
    manifest.write_text(json.dumps({"name": "demo", "version": "1.0.0",
                                    "dependencies": {"evil": "^6.0.0"}}))
    assert main(["check"]) == main(["check", "--no-cache"])
    assert first == 0


def test_an_exemption_does_not_cover_what_a_shrinkwrap_pins(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exemption vouches for one tarball; npm also installs its shrinkwrap's pins."""
    exempt(project, alice, f"integrity: {PARENT['integrity']}")
    write_lock(project, {"node_modules/parent": {**PARENT, "hasShrinkwrap": True}})
    code, report = check_json(capsys)
    assert code == 1
    assert "which no exemption covers" in by_name(report)["parent"]["problems"][0]


def test_the_report_says_when_an_exemption_expires(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    exempt(project, alice, "expires: 2099-01-31")
    write_lock(project, {"node_modules/parent": PARENT})
    code, report = check_json(capsys)
    assert code == 0
    assert by_name(report)["parent"]["exemption_expires"] == "2099-01-31"


def test_a_statement_binds_no_entry_without_a_sha512(
    project: Project, alice: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry with no integrity is asked of the ledger only for rejections: a statement
    whose hash is empty too must not make it audited."""
    git = "git+ssh://git@example.org/parent.git#abc"
    exempt(project, alice, f"source: {json.dumps(git)}")
    project.sign(alice, "parent", "1.0.0", integrity="sha512-")
    write_lock(project, {"node_modules/parent": {"version": "1.0.0", "resolved": git}})
    code, report = check_json(capsys)
    assert code == 0
    assert by_name(report)["parent"]["status"] == "exempt"
