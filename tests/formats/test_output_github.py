"""``--format github``: annotations at the failing packages' lines, and the job summary."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from github_support import live_commands
from package_trust.cli import main
from package_trust.formats.github import command, escape_data, escape_property
from support import Key, Project

CapSys = pytest.CaptureFixture[str]


def line_of(lockfile: Path, name: str) -> int:
    lines = lockfile.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if f'"node_modules/{name}": {{' in text)


def test_escaping_follows_the_workflow_command_rules() -> None:
    assert escape_data("100%\r\nx:y,z") == "100%25%0D%0Ax:y,z"
    assert escape_property("100%\r\nx:y,z") == "100%25%0D%0Ax%3Ay%2Cz"
    assert escape_data("%0A") == "%250A"  # % first: nothing is escaped twice
    assert command("error", "a\nb", file="a,b:c", line=None, title="t") == (
        "::error file=a%2Cb%3Ac,title=t::a%0Ab"
    )
    assert command("notice", "just this") == "::notice::just this"


@pytest.fixture
def alice_project(project: Project, keys: dict[str, Key]) -> Project:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    return project


def test_annotation_at_the_failing_package_line(alice_project: Project, keys: dict[str, Key],
                                                capsys: CapSys) -> None:
    lockfile = alice_project.lockfile({"left-pad": "1.3.0", "evil": "6.6.6"})
    alice_project.sign(keys["alice"], "left-pad", "1.3.0")
    assert main(["check", "--format", "github"]) == 1
    out = capsys.readouterr().out
    assert live_commands(out) == [
        f"::error file=package-lock.json,line={line_of(lockfile, 'evil')},"
        "title=evil@6.6.6 is not audited::unaudited: 0 of 1 required signatures; "
        "no signed statement in the ledger%0Avia evil, a direct dependency"
    ]
    assert "1 of 2 packages is not audited" in out  # the text report, for the log
    assert "package-trust sign evil@6.6.6" in out


def test_ten_annotations_at_most_then_one_notice(alice_project: Project, capsys: CapSys) -> None:
    alice_project.lockfile({f"pkg-{i:02}": "1.0.0" for i in range(13)})
    assert main(["check", "--format", "github"]) == 1
    commands = live_commands(capsys.readouterr().out)
    assert [c.split(" ")[0] for c in commands] == ["::error"] * 10 + ["::notice"]
    assert commands[9].startswith("::error file=package-lock.json,line=")
    assert "title=pkg-09@1.0.0 is not audited" in commands[9]
    assert commands[10] == (
        "::notice title=package-trust%3A 3 more not audited::3 more packages are not "
        "audited: pkg-10@1.0.0, pkg-11@1.0.0, pkg-12@1.0.0. The job summary lists them all."
    )


def test_annotations_notice_and_summary_agree_past_the_summary_limit(
    alice_project: Project, tmp_path: Path, capsys: CapSys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """505 failing packages: 10 annotated, the next 20 named in the notice, which says what
    the job summary lists (its first 500 rows, the same order) and where the rest are."""
    alice_project.lockfile({f"pkg-{i:03}": "1.0.0" for i in range(505)})
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["check", "--format", "github"]) == 1
    commands = live_commands(capsys.readouterr().out)
    annotated = [re.search(r"title=(\S+) is not audited::", c)[1] for c in commands[:10]]
    assert annotated == [f"pkg-{i:03}@1.0.0" for i in range(10)]
    named = ", ".join(f"pkg-{i:03}@1.0.0" for i in range(10, 30))
    assert commands[10:] == [
        "::notice title=package-trust%3A 495 more not audited::495 more packages are not "
        f"audited: {named} and 475 more. The job summary lists the first 500 of the 505; "
        "the JSON report lists them all."
    ]
    rows = re.findall(r"^\| `(pkg-\d+@1\.0\.0)` \| unaudited \|", summary.read_text(), re.M)
    assert rows == [f"pkg-{i:03}@1.0.0" for i in range(500)]
    assert "… and 5 more (see the JSON report)." in summary.read_text()


def test_passing_check_annotates_nothing(alice_project: Project, keys: dict[str, Key],
                                         capsys: CapSys) -> None:
    alice_project.lockfile({"left-pad": "1.3.0"})
    alice_project.sign(keys["alice"], "left-pad", "1.3.0")
    assert main(["check", "--format", "github"]) == 0
    out = capsys.readouterr().out
    assert live_commands(out) == []
    assert "All 1 package is audited" in out


@pytest.mark.parametrize("name", [
    "x\n::add-mask::secret",
    "x\r\n::set-output name=unaudited::0",
    "::error::fake",
    "a%0A::warning::b",
])
def test_hostile_names_cannot_issue_commands(alice_project: Project, name: str,
                                             capsys: CapSys) -> None:
    alice_project.lockfile({name: "1.0.0"})
    assert main(["check", "--format", "github"]) == 1
    out = capsys.readouterr().out
    [annotation] = live_commands(out)
    assert annotation.startswith("::error file=package-lock.json,")
    assert "\n" not in annotation and "\r" not in annotation
    assert escape_property(name) in annotation  # the name, escaped, in the title
    # The text report is quiet: its token is its hash, which the text cannot contain.
    start = out.index("::stop-commands::") + len("::stop-commands::")
    token = out[start:out.index("\n", start)]
    body = out[out.index("\n", start) + 1:out.index(f"::{token}::")]
    assert token == hashlib.sha256(body.encode()).hexdigest()


def test_a_check_that_cannot_be_made_is_annotated(project: Project, keys: dict[str, Key],
                                                  capsys: CapSys) -> None:
    project.lockfile({"left-pad": "1.3.0"})
    project.policy([keys["alice"]], minimum=2)
    assert main(["check", "--format", "github"]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(
        "::error file=trust-policy.yml,line=1,title=package-trust could not check::"
        "minimum-signatures is 2 but only 1 keys are trusted"
    )
    assert "minimum-signatures is 2" in err


def commands_anywhere(text: str) -> list[str]:
    """Lines the runner would take for a command on stderr: ``::`` starting a line, or
    ``##[`` anywhere in one."""
    return [line for line in text.splitlines() if line.lstrip().startswith("::")
            or "##[" in line]


@pytest.mark.parametrize("key", ["node_modules/##[add-mask]e", "::add-mask::x",
                                 "node_modules/x\n::add-mask::x\r##[add-mask]y"])
def test_an_error_cannot_issue_commands_on_stderr(project: Project, keys: dict[str, Key],
                                                  key: str, capsys: CapSys) -> None:
    project.policy([keys["alice"]])
    (project.root / "package-lock.json").write_text(json.dumps(
        {"lockfileVersion": 3, "packages": {"": {"name": "demo"}, key: "not an object"}}))
    assert main(["check", "--format", "github"]) == 2
    out, err = capsys.readouterr()
    [annotation] = live_commands(out)
    assert annotation.startswith("::error file=package-lock.json,")
    assert "title=package-trust could not check::entry " in annotation
    assert commands_anywhere(err) == []
    assert err.startswith("package-trust: error: package-lock.json")
    assert err.endswith(" must be an object\n") and err.count("\n") == 1


def test_expired_exemption_is_a_warning(project: Project, keys: dict[str, Key],
                                        capsys: CapSys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]], extra='exemptions:\n  - package: "old"\n'
                   "    reason: legacy\n    expires: 2001-01-01\n")
    project.lockfile({"old": "1.0.0"})
    assert main(["check", "--format", "github"]) == 1
    commands = live_commands(capsys.readouterr().out)
    assert commands[-1].startswith("::warning title=package-trust::exemption 'old'")


def test_paths_are_relative_to_the_workspace(alice_project: Project, capsys: CapSys,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (alice_project.root / "web").mkdir()
    alice_project.lockfile({"evil": "1.0.0"}, name="web/package-lock.json")
    monkeypatch.chdir(alice_project.root / "web")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(alice_project.root))
    assert main(["check", "--format", "github", "--policy", "../trust-policy.yml"]) == 1
    assert live_commands(capsys.readouterr().out)[0].startswith(
        "::error file=web/package-lock.json,line="
    )


def test_job_summary_is_appended(alice_project: Project, tmp_path: Path, capsys: CapSys,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    alice_project.lockfile({"evil": "1.0.0"})
    summary = tmp_path / "step-summary.md"
    summary.write_text("from an earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["check", "--format", "github"]) == 1
    assert main(["check", "--format", "github"]) == 1
    text = summary.read_text()
    assert text.startswith("from an earlier step\n### ❌ package-trust: 1 of 1 package is")
    assert text.count("`evil@1.0.0`") == 2
    assert main(["check", "--format", "text"]) == 1  # only the github format writes it
    assert summary.read_text() == text
    capsys.readouterr()


def test_job_summary_that_cannot_be_written_is_a_warning(
    alice_project: Project, tmp_path: Path, capsys: CapSys, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice_project.lockfile({"evil": "1.0.0"})
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a folder
    assert main(["check", "--format", "github"]) == 1  # the verdict stands
    warning = live_commands(capsys.readouterr().out)[-1]
    assert warning.startswith("::warning title=package-trust::cannot write the job summary")


def test_no_summary_file_outside_actions(alice_project: Project, capsys: CapSys,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    alice_project.lockfile({"evil": "1.0.0"})
    before = sorted(p.name for p in alice_project.root.iterdir())
    assert main(["check", "--format", "github"]) == 1
    assert sorted(p.name for p in alice_project.root.iterdir()) == before
    assert "::error" in capsys.readouterr().out
