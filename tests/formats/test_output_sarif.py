"""``--format sarif`` and ``--report FORMAT=PATH``: SARIF 2.1.0 that code scanning accepts,
validated against the vendored schema (tests/data/sarif-schema-2.1.0.SOURCE.md)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from test_output_github import line_of

from package_trust.cli import main
from support import DATA, REPO, Key, Project

CapSys = pytest.CaptureFixture[str]
SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())


def validate(log: dict[str, Any]) -> None:
    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(SCHEMA)
    errors = [e.message for e in cls(SCHEMA, format_checker=cls.FORMAT_CHECKER).iter_errors(log)]
    assert errors == []


def sarif_of(capsys: CapSys, *args: str, code: int = 1) -> dict[str, Any]:
    assert main(["check", "--format", "sarif", *args]) == code
    log: dict[str, Any] = json.loads(capsys.readouterr().out)
    validate(log)
    return log


@pytest.fixture
def failing_project(project: Project, keys: dict[str, Key]) -> Project:
    """One package of each failing kind, and one that passes."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    lockfile = project.lockfile({"left-pad": "1.3.0", "evil": "1.0.0", "bad": "2.0.0"})
    data = json.loads(lockfile.read_text())
    data["packages"]["node_modules/from-git"] = {
        "version": "1.0.0", "resolved": "git+ssh://git@github.com/a/b.git#0123456"}
    lockfile.write_text(json.dumps(data, indent=2))
    project.sign(keys["alice"], "left-pad", "1.3.0")
    project.sign(keys["alice"], "bad", "2.0.0", verdict="rejected")
    return project


def test_one_result_per_failing_package_at_its_line(failing_project: Project,
                                                    capsys: CapSys) -> None:
    log = sarif_of(capsys)
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["unaudited", "rejected", "unverifiable"]
    for rule in rules:
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    lockfile = failing_project.root / "package-lock.json"
    found = {}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": "package-lock.json",
                                                "uriBaseId": "%SRCROOT%"}
        found[result["properties"]["package"]] = (result["ruleId"],
                                                  physical["region"]["startLine"])
    assert found == {
        "evil": ("unaudited", line_of(lockfile, "evil")),
        "bad": ("rejected", line_of(lockfile, "bad")),
        "from-git": ("unverifiable", line_of(lockfile, "from-git")),
    }


def test_rules_carry_severity_and_help_uri(failing_project: Project, capsys: CapSys,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub's security-severity per rule (rejected highest). Run by the Action, a helpUri
    at the README section that explains the statuses, in the Action's own repository at its
    ref; elsewhere none (no address is guessed). The log stays valid (sarif_of)."""
    rules = sarif_of(capsys)["runs"][0]["tool"]["driver"]["rules"]
    severity = {r["id"]: r["properties"]["security-severity"] for r in rules}
    assert severity == {"unaudited": "7.5", "rejected": "9.0", "unverifiable": "7.5"}
    assert not any("helpUri" in rule for rule in rules)
    monkeypatch.setenv("GITHUB_ACTION_PATH", "/home/runner/work/_actions/octo/package-trust/v1.2.3")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example.com")
    driver = sarif_of(capsys)["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://github.example.com/octo/package-trust"
    for rule in driver["rules"]:
        assert rule["helpUri"] == ("https://github.example.com/octo/package-trust/blob/v1.2.3/"
                                   "README.md#checking-a-project-package-trust-check")
        assert urlsplit(rule["helpUri"]).fragment in readme_anchors()
    monkeypatch.setenv("GITHUB_ACTION_PATH", str(REPO))  # uses: ./ (the workflow's own)
    assert not any("helpUri" in r for r in sarif_of(capsys)["runs"][0]["tool"]["driver"]["rules"])


def test_a_kept_sarif_report_names_the_repository_it_was_made_for(
        project: Project, keys: dict[str, Key], capsys: CapSys,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A passing check's report is kept and replayed: a SARIF one, only where the Action
    runs from the same repository and ref (its rules link there)."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    for ref in ("v1.0.0", "v1.0.0", "v2.0.0"):
        monkeypatch.setenv("GITHUB_ACTION_PATH", f"/w/_actions/octo/package-trust/{ref}")
        [rule, *_] = sarif_of(capsys, code=0)["runs"][0]["tool"]["driver"]["rules"]
        assert f"/blob/{ref}/README.md#" in rule["helpUri"]


def readme_anchors() -> set[str]:
    """The anchors GitHub gives the README's headings."""
    headings = re.findall(r"^#+ (.+)$", (REPO / "README.md").read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_names_the_ledgers(failing_project: Project, capsys: CapSys) -> None:
    log = sarif_of(capsys, "--ledger", ".", "--ledger-source", "octo/audits",
                   "--ledger-revision", "1a2b3c")
    [run] = log["runs"]
    assert run["properties"]["ledgers"] == [{"description": "octo/audits", "revision": "1a2b3c"}]
    assert all("Ledgers: octo/audits at 1a2b3c." in r["message"]["text"] for r in run["results"])


def test_fingerprint_follows_the_package_not_the_line(project: Project, keys: dict[str, Key],
                                                      capsys: CapSys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"evil": "1.0.0"})
    before = sarif_of(capsys)["runs"][0]["results"]
    project.lockfile({"aaa": "1.0.0", "evil": "1.0.0"})
    after = {r["properties"]["package"]: r for r in sarif_of(capsys)["runs"][0]["results"]}
    assert after["evil"]["partialFingerprints"] == before[0]["partialFingerprints"]
    assert after["evil"]["locations"] != before[0]["locations"]
    assert after["aaa"]["partialFingerprints"] != before[0]["partialFingerprints"]


def test_a_passing_check_is_an_empty_valid_log(project: Project, keys: dict[str, Key],
                                              capsys: CapSys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    assert sarif_of(capsys, code=0)["runs"][0]["results"] == []


def test_uris_are_relative_to_the_workspace(failing_project: Project, capsys: CapSys,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (failing_project.root / "my app").mkdir()
    (failing_project.root / "package-lock.json").rename(
        failing_project.root / "my app" / "package-lock.json")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(failing_project.root))
    log = sarif_of(capsys, "my app/package-lock.json")
    for result in log["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == "my%20app/package-lock.json"
        assert not urlsplit(uri).scheme


def test_reports_from_one_check(failing_project: Project, capsys: CapSys) -> None:
    """--report writes other formats of the same result; stdout keeps --format."""
    out = failing_project.root / "out"
    out.mkdir()
    (out / "results.sarif").write_text("stale")
    assert main(["check", "--report", f"sarif={out}/results.sarif",
                 "--report", f"json={out}/report.json"]) == 1
    text = capsys.readouterr().out
    assert text.startswith("3 of 4 packages are not audited")
    validate(json.loads((out / "results.sarif").read_text()))
    assert main(["check", "--format", "json"]) == 1
    assert json.loads((out / "report.json").read_text()) == json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "results.sarif"]


def test_report_that_cannot_be_written_is_an_error(failing_project: Project,
                                                  capsys: CapSys) -> None:
    assert main(["check", "--report", "sarif=no-such-dir/results.sarif"]) == 2
    assert "no-such-dir/results.sarif: cannot write the report" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["results.sarif", "xml=out.xml", "sarif="])
def test_bad_report_option_is_a_usage_error(failing_project: Project, spec: str,
                                            capsys: CapSys) -> None:
    assert main(["check", "--report", spec]) == 2
    assert "expected FORMAT=PATH" in capsys.readouterr().err
