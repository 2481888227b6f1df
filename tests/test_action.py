"""The GitHub Action (action.yml), run the way the runner runs a composite action.

``run_action`` stands in for the runner: it reads action.yml, gives each ``run:`` step its
own GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, sets GITHUB_WORKSPACE, GITHUB_ACTION_PATH
(this repository) and RUNNER_TEMP, evaluates ``${{ }}`` only where the runner does (``env:``,
``with:``, ``working-directory:``, ``if:``, output values), never inside ``run:``, and runs
each script as ``bash --noprofile --norc -eo pipefail``. The ``uses:`` steps are stood in
for: setup-python answers with this interpreter, checkout copies the fixture ledger.

The install step is skipped by setting PACKAGE_TRUST_PYTHON to this interpreter, which has
package-trust installed (editable): a real install needs PyPI (setuptools, wheel), which a
test must not. ``test_install_step_installs_from_the_action_folder`` does the real install
and is marked ``online``; the self-test workflow does it on GitHub.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from package_trust.cli import main
from support import DATA, REPO
from test_output_github import live_commands

ACTION = yaml.safe_load((REPO / "action.yml").read_text())
FIXTURE = DATA / "action"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
ANNOTATION = (
    "::error file=project/package-lock.json,line=15,title=is-number@7.0.0 is not audited::"
    "unaudited: 0 of 1 required signatures; no signed statement in the ledger"
    "%0Abrought in by node_modules/is-number"
)


@dataclass
class Run:
    """What a run of the action left: its result, outputs, logs and job summary."""

    ok: bool
    outputs: dict[str, str]
    stdout: str = ""
    stderr: str = ""
    summary: str = ""
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    checkouts: list[dict[str, str]] = field(default_factory=list)


class Runner:
    """A stand-in for the Actions runner, for this one composite action."""

    def __init__(self, tmp: Path, inputs: dict[str, str]):
        self.workspace = tmp / "workspace"
        self.temp = tmp / "runner-temp"
        self.temp.mkdir(parents=True, exist_ok=True)
        self.github = {"token": "test-token", "workspace": str(self.workspace),
                       "action_path": str(REPO)}
        unknown = set(inputs) - set(ACTION["inputs"])
        assert not unknown, f"action.yml has no input {unknown}"
        self.inputs: dict[str, str] = {}
        self.inputs = {name: self.substitute(spec.get("default", ""))
                       for name, spec in ACTION["inputs"].items()} | inputs
        self.steps: dict[str, dict[str, str]] = {}
        self.run = Run(ok=True, outputs={})

    def evaluate(self, expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return self.inputs[parts[1]]
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return self.steps.get(parts[1], {}).get(parts[3], "")
        if parts[0] == "github" and len(parts) == 2:
            return self.github[parts[1]]
        raise AssertionError(f"the stand-in runner does not evaluate {expression!r}")

    def substitute(self, value: object) -> str:
        """A YAML scalar as the runner reads it, with its expressions evaluated."""
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return EXPRESSION.sub(lambda m: self.evaluate(m.group(1)), text)

    def condition(self, expression: str) -> bool:
        m = re.fullmatch(r"inputs\.([\w-]+) != ''", expression.strip())
        assert m, f"the stand-in runner does not evaluate if: {expression!r}"
        return self.inputs[m.group(1)] != ""

    def uses(self, step: dict[str, Any]) -> dict[str, str]:
        action = step["uses"].split("@")[0]
        given = {k: self.substitute(v) for k, v in step.get("with", {}).items()}
        if action == "actions/setup-python":
            assert given["update-environment"] == "false"  # the user's Python stays as it was
            return {"python-path": sys.executable, "python-version": "3"}
        if action == "actions/checkout":
            self.run.checkouts.append(given)
            shutil.copytree(FIXTURE / "ledger", self.workspace / given["path"])
            return {"commit": COMMIT, "ref": given["ref"]}
        raise AssertionError(f"no stand-in for {action}")

    def shell(self, step: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
        name = step["id"]
        output = self.temp / f"{name}.output"
        summary = self.temp / f"{name}.summary"
        script = self.temp / f"{name}.sh"
        script.write_text(step["run"])
        env = env | {"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
        env |= {k: self.substitute(v) for k, v in step.get("env", {}).items()}
        cwd = self.workspace / self.substitute(step.get("working-directory", "."))
        output.touch()
        summary.touch()
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120,
        )
        self.run.stdout += proc.stdout
        self.run.stderr += proc.stderr
        self.run.summary += summary.read_text()
        self.run.ok = proc.returncode == 0
        return parse_outputs(output.read_text())

    def go(self, env: dict[str, str]) -> Run:
        for step in ACTION["runs"]["steps"]:
            if "if" in step and not self.condition(step["if"]):
                continue
            outputs = self.uses(step) if "uses" in step else self.shell(step, env)
            self.steps[step["id"]] = outputs
            if not self.run.ok:
                break
        self.run.steps = self.steps
        self.run.outputs = {name: self.substitute(spec["value"])
                            for name, spec in ACTION["outputs"].items()}
        return self.run


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT: ``name=value`` lines, or ``name<<DELIMITER`` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value: list[str] = []
            for more in lines:
                if more == delimiter:
                    break
                value.append(more)
            outputs[name] = "\n".join(value)
        elif line:
            name, value_ = line.split("=", 1)
            outputs[name] = value_
    return outputs


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The user's repository: tests/data/action/ copied to the workspace root."""
    shutil.copytree(FIXTURE, tmp_path / "workspace")
    return tmp_path / "workspace"


def runner_env(tmp: Path, runner: Runner, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    return env | {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_WORKSPACE": str(runner.workspace),
        "GITHUB_ACTION_PATH": str(REPO),
        "RUNNER_TEMP": str(runner.temp),
        "PACKAGE_TRUST_PYTHON": sys.executable,
        "GNUPGHOME": str(tmp / "no-such-gnupghome"),
        "XDG_CACHE_HOME": str(tmp / "cache"),
    } | extra


def run_action(tmp: Path, **inputs: str) -> Run:
    runner = Runner(tmp, inputs)
    return runner.go(runner_env(tmp, runner))


def test_action_metadata_passes_the_github_actions_schema() -> None:
    check_jsonschema("vendor.github-actions", REPO / "action.yml")


def test_self_test_workflow_passes_the_github_workflows_schema() -> None:
    check_jsonschema("vendor.github-workflows", REPO / ".github/workflows/self-test.yml")


def check_jsonschema(schema: str, path: Path) -> None:
    exe = Path(sys.executable).with_name("check-jsonschema")
    proc = subprocess.run([str(exe), "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_inputs_reach_scripts_only_through_env() -> None:
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["id"]


def test_reports_the_unaudited_package(tmp_path: Path, workspace: Path) -> None:
    run = run_action(tmp_path, **{"working-directory": "project", "fail-on-unaudited": "false",
                                  "sarif": "package-trust.sarif"})
    assert run.ok, run.stderr
    assert ANNOTATION in run.stdout.splitlines()
    assert "1 of 2 packages is not audited" in run.stdout
    assert run.summary.index("| audited |") < run.summary.index("`is-number@7.0.0`")
    assert "<details><summary>1 package passed</summary>" in run.summary
    assert "`left-pad@1.3.0` | audited | Eirik Sletteberg |" in run.summary
    assert run.outputs["unaudited"] == "1"
    report = json.loads(Path(run.outputs["report"]).read_text())
    assert Path(run.outputs["report"]).is_relative_to(tmp_path / "runner-temp")
    assert [p["name"] for p in report["packages"] if p["status"] != "audited"] == ["is-number"]
    assert run.outputs["sarif"] == str(workspace / "project" / "package-trust.sarif")
    sarif = json.loads(Path(run.outputs["sarif"]).read_text())
    [result] = sarif["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "project/package-lock.json"
    assert location["region"] == {"startLine": 15}
    assert run.checkouts == []  # no signatures-repository: no checkout


def test_fails_the_job_by_default(tmp_path: Path, workspace: Path) -> None:
    run = run_action(tmp_path, **{"working-directory": "project"})
    assert not run.ok
    assert ANNOTATION in run.stdout.splitlines()
    assert run.outputs["unaudited"] == "1"


def test_passes_when_everything_is_audited(tmp_path: Path, workspace: Path) -> None:
    lockfile = workspace / "project" / "package-lock.json"
    data = json.loads(lockfile.read_text())
    del data["packages"]["node_modules/is-number"]
    (workspace / "project" / "only-left-pad").mkdir()
    (workspace / "project" / "only-left-pad" / "package-lock.json").write_text(json.dumps(data))
    run = run_action(tmp_path, **{"working-directory": "project",
                                  "lockfile": "only-left-pad/package-lock.json"})
    assert run.ok, run.stdout + run.stderr
    assert "::error" not in run.stdout
    assert run.outputs["unaudited"] == "0"
    assert "All 1 package is audited" in run.summary


def test_checks_every_lockfile_listed(tmp_path: Path, workspace: Path) -> None:
    (workspace / "project" / "web").mkdir()
    shutil.copy(workspace / "project" / "package-lock.json", workspace / "project" / "web")
    run = run_action(tmp_path, **{"working-directory": "project", "fail-on-unaudited": "false",
                                  "lockfile": " package-lock.json\n\tweb/package-lock.json \n"})
    assert run.ok, run.stderr
    report = json.loads(Path(run.outputs["report"]).read_text())
    assert report["lockfiles"] == ["package-lock.json", "web/package-lock.json"]
    assert run.outputs["unaudited"] == "2"
    assert "::error file=project/web/package-lock.json,line=15," in run.stdout


def test_signatures_repository_is_the_ledger(tmp_path: Path, workspace: Path) -> None:
    shutil.rmtree(workspace / "ledger")  # the policy's own ledger is gone: only the checkout
    run = run_action(tmp_path, **{"working-directory": "project", "fail-on-unaudited": "false",
                                  "signatures-repository": "octo/audits",
                                  "signatures-ref": "v2"})
    assert run.ok, run.stdout + run.stderr
    [checkout] = run.checkouts
    assert checkout["repository"] == "octo/audits" and checkout["ref"] == "v2"
    assert checkout["token"] == "test-token" and checkout["persist-credentials"] == "false"
    report = json.loads(Path(run.outputs["report"]).read_text())
    assert report["ledgers"] == [{"description": "octo/audits", "revision": COMMIT}]
    assert [p["status"] for p in report["packages"]] == ["unaudited", "audited"]
    assert f"`octo/audits at {COMMIT}`" in run.summary
    assert f"ledgers: octo/audits at {COMMIT}" in run.stdout


def test_a_check_that_cannot_be_made_fails_the_job(tmp_path: Path, workspace: Path) -> None:
    run = run_action(tmp_path, **{"working-directory": "project", "fail-on-unaudited": "false",
                                  "policy": "missing.yml"})
    assert not run.ok
    assert ("::error file=project/missing.yml,title=package-trust could not check::"
            "policy file not found") in run.stdout
    assert run.outputs["unaudited"] == "" and run.outputs["report"] == ""


@pytest.mark.parametrize("value", ["$(touch pwned)", "`touch pwned`",
                                   "\"; touch pwned; \"", "' && touch pwned && '"])
@pytest.mark.parametrize("name", ["lockfile", "policy", "sarif", "fail-on-unaudited",
                                  "signatures-repository", "signatures-ref"])
def test_inputs_are_never_run_as_code(
    tmp_path: Path, workspace: Path, name: str, value: str
) -> None:
    inputs = {"working-directory": "project", "fail-on-unaudited": "false", name: value}
    run = run_action(tmp_path, **inputs)
    assert not list(tmp_path.rglob("pwned")), run.stdout + run.stderr
    if name in ("lockfile", "policy"):  # the value arrives whole, as a file name
        assert not run.ok
        first = value.split()[0] if name == "lockfile" else value
        assert first in run.stderr
    if name == "signatures-repository":
        report = json.loads(Path(run.outputs["report"]).read_text())
        assert report["ledgers"][0]["description"] == value


def test_commands_in_the_fixture_are_not_obeyed(tmp_path: Path, workspace: Path) -> None:
    """A hostile lockfile entry cannot print a workflow command of its own."""
    lockfile = workspace / "project" / "package-lock.json"
    data = json.loads(lockfile.read_text())
    data["packages"]["node_modules/x\n::set-output name=unaudited::0"] = {"version": "1.0.0"}
    lockfile.write_text(json.dumps(data, indent=2))
    run = run_action(tmp_path, **{"working-directory": "project", "fail-on-unaudited": "false"})
    assert run.ok, run.stderr
    assert {re.match(r"::([\w-]+)", c)[1] for c in live_commands(run.stdout)} == {"error"}
    assert "title=x%0A%3A%3Aset-output name=unaudited%3A%3A0@1.0.0 cannot be" in run.stdout
    assert run.outputs["unaudited"] == "2"


@pytest.mark.online
def test_install_step_installs_from_the_action_folder(tmp_path: Path) -> None:
    """The real install step (needs PyPI for the build backend and the dependencies)."""
    action_path = tmp_path / "action"
    action_path.mkdir()
    for name in ("pyproject.toml", "README.md", "action.yml"):
        shutil.copy(REPO / name, action_path / name)
    shutil.copytree(REPO / "hook" / "package_trust", action_path / "hook" / "package_trust",
                    ignore=shutil.ignore_patterns("__pycache__"))
    runner = Runner(tmp_path, {})
    runner.workspace.mkdir()
    [step] = [s for s in ACTION["runs"]["steps"] if s["id"] == "install"]
    env = runner_env(tmp_path, runner, GITHUB_ACTION_PATH=str(action_path))
    del env["PACKAGE_TRUST_PYTHON"]
    runner.steps["python"] = {"python-path": sys.executable}
    outputs = runner.shell(step, env)
    assert runner.run.ok, runner.run.stderr
    python = Path(outputs["python"])
    assert python.is_relative_to(runner.temp)
    version = subprocess.run([str(python), "-m", "package_trust", "--version"],
                             capture_output=True, text=True, check=True)
    assert version.stdout.startswith("package-trust ")


# check --ledger: the folder the action checks signatures-repository out into.

def test_ledger_option_replaces_the_policy_ledgers(tmp_path: Path, workspace: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "ledger").rename(workspace / "elsewhere")  # the policy's ledger is gone
    (workspace / "empty" / "keys").mkdir(parents=True)
    monkeypatch.chdir(workspace / "project")
    monkeypatch.setenv("GNUPGHOME", str(tmp_path / "no-such-gnupghome"))
    assert main(["check", "--format", "json", "--ledger", "../elsewhere",
                 "--ledger", "../empty", "--ledger-source", "octo/empty",
                 "--ledger-revision", "abc"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ledgers"] == [{"description": "../elsewhere", "revision": None},
                                 {"description": "octo/empty", "revision": "abc"}]
    assert [p["status"] for p in report["packages"]] == ["unaudited", "audited"]
    assert main(["check", "--ledger", "../nowhere"]) == 2
    assert "nowhere: not a ledger: it has no keys/ folder" in capsys.readouterr().err
    assert main(["check", "--ledger-source", "octo/audits", "--ledger", "../elsewhere"]) == 2
    assert "--ledger-source goes after the --ledger DIR it describes" in capsys.readouterr().err
