"""The GitHub Action (action.yml), run the way the runner runs a composite action, and the
files that make it safe to use: the workflows, the hashed lock it installs from.

``run_action`` stands in for the runner: it reads action.yml, gives each ``run:`` step its
own GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, sets GITHUB_WORKSPACE, GITHUB_ACTION_PATH
(this repository), RUNNER_TEMP, RUNNER_OS and RUNNER_ARCH, evaluates ``${{ }}`` only where
the runner does (``env:``, ``with:``, ``working-directory:``, ``if:``, output values), never
inside ``run:``, and runs each script as ``bash --noprofile --norc -eo pipefail``. The
``uses:`` steps are stood in for: setup-python answers with this interpreter, checkout
copies the fixture ledger, cache/restore and cache/save copy folders to and from a store.

The install step is skipped by setting PACKAGE_TRUST_PYTHON to this interpreter, which has
package-trust installed (editable): a real install needs PyPI, which a test must not.
``test_install_step_cold_then_warm`` does the real install from action/requirements.txt
and is marked ``online``; the self-test workflow does it on GitHub. Offline, the install
step still runs against a cache whose wheels do not match the lock's hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from github_support import live_commands
from package_trust.cli import main
from support import DATA, REPO

ACTION = yaml.safe_load((REPO / "action.yml").read_text())
LOCK = REPO / "action" / "requirements.txt"
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
FIXTURE = DATA / "action"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
ARTIFACT_URL = "https://github.com/octo/app/actions/runs/1/artifacts/7"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
ANNOTATION = (
    "::error file=project/package-lock.json,line=15,title=is-number@7.0.0 is not audited::"
    "unaudited: 0 of 1 required signatures; no signed statement in the ledger"
    "%0Avia is-number, a direct dependency"
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
    uploads: list[dict[str, str]] = field(default_factory=list)  # actions/upload-artifact's
    seconds: dict[str, float] = field(default_factory=dict)  # each run: step's wall time


class Runner:
    """A stand-in for the Actions runner, for this one composite action."""

    def __init__(self, tmp: Path, inputs: dict[str, str]):
        self.workspace = tmp / "workspace"
        self.temp = tmp / "runner-temp"
        self.cache = tmp / "actions-cache"  # what actions/cache keeps between runs
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
        """``A != 'x'``, ``A == 'x'``, joined by ``&&``."""
        results = []
        for term in expression.split("&&"):
            if term.strip() == "!cancelled()":  # nothing cancels a stand-in run
                continue
            m = re.fullmatch(r"\s*([\w.-]+) (!=|==) '([^']*)'\s*", term)
            assert m, f"the stand-in runner does not evaluate if: {expression!r}"
            equal = self.evaluate(m.group(1)) == m.group(3)
            results.append(equal if m.group(2) == "==" else not equal)
        return all(results)

    def uses(self, step: dict[str, Any]) -> dict[str, str]:
        action = step["uses"].split("@")[0]
        given = {k: self.substitute(v) for k, v in step.get("with", {}).items()}
        if action == "actions/setup-python":
            assert given["update-environment"] == "false"  # the user's Python stays as it was
            return {"python-path": sys.executable, "python-version": platform.python_version()}
        if action == "actions/cache/restore":
            stored = self.cache / given["key"]
            if not stored.is_dir():
                return {"cache-hit": "false"}
            shutil.copytree(stored, given["path"])
            return {"cache-hit": "true", "cache-primary-key": given["key"]}
        if action == "actions/cache/save":
            assert not (self.cache / given["key"]).exists()  # a cache entry is never replaced
            shutil.copytree(given["path"], self.cache / given["key"])
            return {}
        if action == "actions/upload-artifact":
            assert given["archive"] == "false" and given["if-no-files-found"] == "error"
            self.run.uploads.append(given)
            return {"artifact-id": "7", "artifact-url": ARTIFACT_URL}
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
        self.run.ok = self.run.ok and proc.returncode == 0
        return parse_outputs(output.read_text())

    def go(self, env: dict[str, str]) -> Run:
        for step in ACTION["runs"]["steps"]:
            if not self.run.ok and "!cancelled()" not in step.get("if", ""):
                continue  # after a failure, only the steps that ask to run then
            if "if" in step and not self.condition(step["if"]):
                continue
            started = time.monotonic()
            outputs = self.uses(step) if "uses" in step else self.shell(step, env)
            self.run.seconds[step["id"]] = time.monotonic() - started
            self.steps[step["id"]] = outputs
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
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "PACKAGE_TRUST_PYTHON": sys.executable,
        "GNUPGHOME": str(tmp / "no-such-gnupghome"),
        "XDG_CACHE_HOME": str(tmp / "cache"),
    } | extra


def run_action(tmp: Path, env: dict[str, str] | None = None, **inputs: str) -> Run:
    runner = Runner(tmp, inputs)
    return runner.go(runner_env(tmp, runner, **(env or {})))


def test_action_metadata_passes_the_github_actions_schema() -> None:
    check_jsonschema("vendor.github-actions", REPO / "action.yml")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pass_the_github_workflows_schema(workflow: Path) -> None:
    check_jsonschema("vendor.github-workflows", workflow)


def check_jsonschema(schema: str, path: Path) -> None:
    exe = Path(sys.executable).with_name("check-jsonschema")
    proc = subprocess.run([str(exe), "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing() -> None:
    """zizmor's default audits (offline: no GitHub API) pass on the action and workflows."""
    assert zizmor(REPO / "action.yml", *WORKFLOWS) == []


def test_zizmor_would_see_an_unpinned_action(tmp_path: Path) -> None:
    """The audit above is real: the same action with a tag instead of a commit fails it."""
    text = (REPO / "action.yml").read_text()
    unpinned = re.sub(r"(actions/setup-python)@[0-9a-f]{40}", r"\1@v5", text)
    (tmp_path / "action.yml").write_text(unpinned)
    assert [f["ident"] for f in zizmor(tmp_path / "action.yml")] == ["unpinned-uses"]


def zizmor(*paths: Path) -> list[dict[str, Any]]:
    exe = Path(sys.executable).with_name("zizmor")
    proc = subprocess.run([str(exe), "--offline", "--format", "json", *map(str, paths)],
                          capture_output=True, text=True, check=False, timeout=60)
    findings: list[dict[str, Any]] = json.loads(proc.stdout)
    assert (proc.returncode == 0) == (findings == []), proc.stderr
    return findings


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(?:#\s*(.*))?$")


def uses_lines(path: Path) -> list[tuple[str, str | None]]:
    """Every ``uses:`` in a workflow or action file: its value and its comment."""
    found = [m.groups() for m in map(USES.match, path.read_text().splitlines()) if m]
    parsed = yaml.safe_load(path.read_text())
    jobs = parsed.get("jobs", {}).values() if "jobs" in parsed else [parsed["runs"]]
    count = sum("uses" in step for job in jobs for step in job.get("steps", []))
    assert len(found) == count, path  # none written in a form the pattern misses
    return [(value, comment) for value, comment in found]


def test_every_action_is_pinned_to_a_commit() -> None:
    """Owner/repo@ a full commit SHA, its version in a comment, the same pin everywhere;
    this repository's own action as ``$/`` (the workflow's own commit)."""
    pins: dict[str, set[tuple[str, str | None]]] = {}
    for path in [REPO / "action.yml", *WORKFLOWS]:
        for value, comment in uses_lines(path):
            if value == "$/":
                continue
            m = re.fullmatch(r"([\w.-]+/[\w.-]+(?:/[\w./-]+)?)@([0-9a-f]{40})", value)
            assert m, f"{path.name}: {value} is not pinned to a commit"
            assert comment and re.fullmatch(r"v\d+\.\d+\.\d+", comment), (path.name, value)
            pins.setdefault(m.group(1).split("/")[1], set()).add((m.group(2), comment))
    assert {name: len(p) for name, p in pins.items()} == {"setup-python": 1, "checkout": 1,
                                                          "cache": 1, "upload-artifact": 1}


def test_windows_runner_stops_at_once(tmp_path: Path, workspace: Path) -> None:
    run = run_action(tmp_path, {"RUNNER_OS": "Windows"}, **{"working-directory": "project"})
    assert not run.ok
    assert run.stdout == (
        "::error title=package-trust::package-trust runs on Linux and macOS runners only, "
        "not on Windows: run this job on ubuntu-latest\n")
    assert list(run.steps) == ["platform"]  # nothing set up, installed or checked
    assert run.outputs == {"unaudited": "", "report": "", "sarif": ""}


def test_checks_without_cache_and_says_so(tmp_path: Path, workspace: Path) -> None:
    """--no-cache, as the README recommends for CI: nothing is read from or written to the
    cache folder, and the log says so."""
    run = run_action(tmp_path, **{"working-directory": "project", "fail-on-unaudited": "false"})
    assert run.ok, run.stderr
    assert ("package-trust check --no-cache: in CI no cache is read or written; every "
            "statement is verified afresh by gpg") in run.stdout.splitlines()
    assert not (tmp_path / "cache" / "package-trust").exists()
    assert run.outputs["unaudited"] == "1"


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


def action_copy(tmp: Path) -> Path:
    """The action as the runner downloads it: this repository's files, nothing built."""
    path = tmp / "action"
    for name in ("pyproject.toml", "README.md", "action.yml", "action/requirements.txt"):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, path / name)
    shutil.copytree(REPO / "hook" / "package_trust", path / "hook" / "package_trust",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return path


def installing_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A runner's pip: no configuration, no wheels on this disk, an empty pip cache."""
    pip = {k for k in os.environ if k.startswith("PIP_")}
    return {k: "" for k in pip} | {"PIP_CONFIG_FILE": os.devnull,
                                   "PIP_CACHE_DIR": str(tmp / "pip-cache"),
                                   "GITHUB_ACTION_PATH": str(action_copy(tmp))} | extra


def run_installing(tmp: Path, env: dict[str, str]) -> Run:
    """The whole action with the real install step, on a fresh runner (a new RUNNER_TEMP)
    that shares only the actions cache with the runs before."""
    shutil.rmtree(tmp / "runner-temp", ignore_errors=True)
    runner = Runner(tmp, {"working-directory": "project", "fail-on-unaudited": "false"})
    full = runner_env(tmp, runner) | env | {"PACKAGE_TRUST_PYTHON": ""}
    return runner.go({k: v for k, v in full.items() if v})


@pytest.mark.online
def test_install_step_cold_then_warm(tmp_path: Path, workspace: Path) -> None:
    """The real install from action/requirements.txt: cold, the wheels come from the index
    (hashes required) and are cached; warm, from the cache with no index at all; a cached
    wheel that does not match its hash is never installed."""
    env = installing_env(tmp_path)
    cold = run_installing(tmp_path, env)
    assert cold.ok, cold.stdout + cold.stderr
    assert "wheels from the package index" in cold.stdout
    assert cold.outputs["unaudited"] == "1"
    [key] = [p.name for p in (tmp_path / "actions-cache").iterdir()]
    wheels = tmp_path / "actions-cache" / key
    assert sorted(w.name.split("-")[0].lower() for w in wheels.iterdir()) == sorted(
        name.replace("-", "_") for name in locked())

    no_index = env | {"PIP_INDEX_URL": "http://127.0.0.1:9/simple"}  # nothing listens there
    warm = run_installing(tmp_path, no_index)
    assert warm.ok, warm.stdout + warm.stderr
    assert "wheels from the cache" in warm.stdout
    assert warm.outputs["unaudited"] == "1"
    print(f"install step: cold {cold.seconds['install']:.1f} s, "
          f"warm {warm.seconds['install']:.1f} s")

    idna = next(wheels.glob("idna-*.whl"))
    idna.write_bytes(idna.read_bytes() + b"\0")  # the cache was tampered with
    tampered = run_installing(tmp_path, env)
    assert tampered.ok, tampered.stdout + tampered.stderr
    assert ("::warning title=package-trust::the cached wheels do not match "
            "action/requirements.txt; downloading them afresh") in tampered.stdout
    assert "DO NOT MATCH THE HASHES" in tampered.stderr
    assert "wheels from the package index" in tampered.stdout
    assert tampered.outputs["unaudited"] == "1"


def test_a_cache_that_does_not_match_the_lock_is_never_installed(
    tmp_path: Path, workspace: Path
) -> None:
    """Offline: the cache holds a wheel of every locked name and version, but not the
    locked bytes. pip refuses them (--require-hashes), the action says so and goes to the
    index, which cannot be reached: the job fails, nothing was installed or checked."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    key = f"package-trust-wheels-Linux-X64-python{platform.python_version()}-{digest}"
    poisoned = tmp_path / "actions-cache" / key
    poisoned.mkdir(parents=True)
    for name, version in locked().items():
        wheel = poisoned / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        wheel.write_bytes(b"not what the lock names")
    env = installing_env(tmp_path, PIP_INDEX_URL="http://127.0.0.1:9/simple",
                         PIP_RETRIES="0", PIP_TIMEOUT="5")
    run = run_installing(tmp_path, env)
    assert not run.ok
    assert "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in run.stderr
    assert run.stdout.splitlines() == [
        "::warning title=package-trust::the cached wheels do not match "
        "action/requirements.txt; downloading them afresh"]
    assert list(run.steps) == ["platform", "python", "wheels", "restore", "install"]
    assert run.outputs == {"unaudited": "", "report": "", "sarif": ""}  # no check ran
    venv = tmp_path / "runner-temp" / "package-trust-venv"
    assert not list(venv.glob("lib/python*/site-packages/*.dist-info"))


def test_wheel_cache_is_keyed_by_the_lock(tmp_path: Path) -> None:
    """The cache key changes with the lock's bytes, the runner and the Python."""
    runner = Runner(tmp_path, {})
    runner.workspace.mkdir()
    runner.steps["python"] = {"python-path": sys.executable, "python-version": "3.12.7"}
    env = runner_env(tmp_path, runner, RUNNER_OS="macOS", RUNNER_ARCH="ARM64")
    del env["PACKAGE_TRUST_PYTHON"]
    [step] = [s for s in ACTION["runs"]["steps"] if s["id"] == "wheels"]
    outputs = runner.shell(step, env)
    assert runner.run.ok, runner.run.stderr
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    assert outputs == {"key": f"package-trust-wheels-macOS-ARM64-python3.12.7-{digest}",
                       "path": str(runner.temp / "package-trust-wheels")}


def locked() -> dict[str, str]:
    """action/requirements.txt's pins, name to version, each with at least one hash."""
    pins: dict[str, str] = {}
    for line in map(str.strip, LOCK.read_text().replace("\\\n", " ").splitlines()):
        if line and not line.startswith("#"):
            m = re.fullmatch(r"([\w.-]+)==(\S+)(\s+--hash=sha256:[0-9a-f]{64})+", line)
            assert m, f"not an exact pin with hashes: {line!r}"
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lock_pins_what_pyproject_asks_for() -> None:
    """Every dependency and build requirement, at a version its specifier allows."""
    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    pins = locked()
    for spec in map(Requirement, wanted):
        assert spec.specifier.contains(pins[canonical(spec.name)]), (spec, pins)
    listed = (REPO / "action" / "requirements.in").read_text().split("\n")
    assert sorted(x for x in listed if x and not x.startswith("#")) == sorted(wanted)


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
