"""What a developer whose commit is blocked reads, on lockfiles real npm wrote: the chain
from the dependency they chose, whether their change brought the package in (a real git
repository), advice that fits each status, a report capped for large projects, and the
terminal conventions (a progress line, colour, NO_COLOR, --quiet, --output)."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from npm_registry import NpmRegistry
from npm_world import commit_all, entry, git, line_of, npm_lock, publish_world, require_npm
from package_trust.cli import main
from support import DATA, REPO, Key, Project, fake_integrity

CapSys = pytest.CaptureFixture[str]
HOOK = REPO / "hook"
EXPRESS = {"express": "4.0.0", "pad": "npm:left-pad@1.3.0"}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[NpmRegistry]:
    require_npm()
    with NpmRegistry() as registry:
        publish_world(registry)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        yield registry


@pytest.fixture
def app(project: Project, keys: dict[str, Key]) -> Project:
    """A project whose policy trusts Alice and Bob, one signature each."""
    for k in ("alice", "bob"):
        project.add_key(keys[k])
    project.policy([keys["alice"], keys["bob"]])
    return project


def lock(app: Project, world: NpmRegistry, tmp_path: Path, deps: dict[str, str]) -> Path:
    return npm_lock(app.root, world, tmp_path / "npm", deps)


def sign_entry(app: Project, key: Key, lockfile: Path, path: str, **extra: str) -> None:
    """A statement for the lockfile's entry at ``path``, bound to its integrity."""
    e = entry(lockfile, path)
    app.sign(key, e.get("name") or path.rsplit("node_modules/", 1)[-1], e["version"],
             e["integrity"], **extra)


def report(capsys: CapSys, *args: str, code: int = 1) -> str:
    assert main(["check", *args]) == code
    out: str = capsys.readouterr().out
    return out


def test_each_package_names_the_chain_from_what_the_developer_chose(
        app: Project, world: NpmRegistry, tmp_path: Path, capsys: CapSys) -> None:
    lockfile = lock(app, world, tmp_path, EXPRESS)
    ms, pad = line_of(lockfile, "node_modules/send/node_modules/ms"), line_of(
        lockfile, "node_modules/pad")
    lines = report(capsys).splitlines()
    assert lines[:2] == ["6 of 6 packages are not audited (trust-policy.yml: 1 signature "
                         "from trusted keys)", "  6 unaudited"]
    at = lines.index("  ms@0.7.0: unaudited: 0 of 1 required signatures; no signed statement "
                     "in the ledger")
    assert lines[at + 1] == f"      via express \u203a send \u203a ms (package-lock.json:{ms})"
    at = lines.index("  left-pad@1.3.0: unaudited: 0 of 1 required signatures; no signed "
                     "statement in the ledger")
    assert lines[at + 1] == ("      via pad (npm:left-pad@1.3.0), a direct dependency "
                             f"(package-lock.json:{pad})")
    assert "brought in by" not in "\n".join(lines)

    packages = json.loads(report(capsys, "--format", "json"))["packages"]
    via = {(p["name"], p["version"]): p["via"] for p in packages}
    assert via[("ms", "0.7.0")] == ["express", "send", "ms"]
    assert via[("ms", "2.0.0")] == ["express", "debug", "ms"]
    assert via[("left-pad", "1.3.0")] == ["pad"]
    assert {p["new"] for p in packages} == {None}  # not in git: nothing to compare with
    assert "via express \u203a send \u203a ms (`package-lock.json:" in report(capsys, "--format",
                                                                     "markdown")
    sarif = json.loads(report(capsys, "--format", "sarif"))
    messages = [r["message"]["text"] for r in sarif["runs"][0]["results"]]
    assert any(m.startswith("ms@0.7.0 is not audited: ") and "Via express \u203a send \u203a ms. "
               in m for m in messages)
    github = report(capsys, "--format", "github")
    assert f"line={ms},title=ms@0.7.0 is not audited::unaudited: 0 of 1 required signatures; " \
           "no signed statement in the ledger%0Avia express \u203a send \u203a ms\n" in github


def test_what_the_change_brought_in_is_told_from_what_was_there(
        app: Project, world: NpmRegistry, tmp_path: Path, keys: dict[str, Key],
        capsys: CapSys) -> None:
    lock(app, world, tmp_path, {"express": "4.0.0"})
    base = commit_all(app.root, "express")
    lockfile = lock(app, world, tmp_path, {**EXPRESS, "is-number": "7.0.0"})
    git(app.root, "add", "-A")  # as the hook sees it: staged, HEAD the commit before
    lines = report(capsys).splitlines()
    assert lines[1] == "  7 unaudited; 2 new, 5 already there before this change"
    pad = line_of(lockfile, "node_modules/pad")
    assert ("      via pad (npm:left-pad@1.3.0), a direct dependency "
            f"(package-lock.json:{pad}; new)") in lines
    assert ("      via express \u203a send \u203a ms (package-lock.json:"
            f"{line_of(lockfile, 'node_modules/send/node_modules/ms')}; already there "
            "before this change)") in lines
    new = {p["name"]: p["new"] for p in json.loads(report(capsys, "--format", "json"))[
        "packages"]}
    assert new == {"express": False, "send": False, "debug": False, "ms": False,
                   "left-pad": True, "is-number": True}

    # Adopting gradually: only what the change brings in fails.
    out = report(capsys, "--fail-on", "new")
    assert "  7 unaudited; 2 new, 5 already there before this change; 2 fail the check " \
           "(--fail-on new)" in out
    sign_entry(app, keys["alice"], lockfile, "node_modules/pad")
    sign_entry(app, keys["alice"], lockfile, "node_modules/is-number")
    lines = report(capsys, "--fail-on", "new", code=0).splitlines()
    assert lines[0].startswith("5 of 7 packages are not audited")
    assert lines[1] == ("  5 unaudited; 0 new, 5 already there before this change; "
                        "0 fail the check (--fail-on new)")
    assert lines[3] == ("Warnings: already there before this change, so they do not fail "
                        "the check (--fail-on new)")
    assert report(capsys, code=1)  # without it, every failing package fails
    github = report(capsys, "--format", "github", "--fail-on", "new", code=0)
    assert "::warning file=package-lock.json," in github and "::error" not in github
    sarif = json.loads(report(capsys, "--format", "sarif", "--fail-on", "new", code=0))
    assert {r["level"] for r in sarif["runs"][0]["results"]} == {"warning"}

    # A pull request: compared with its base commit, whatever HEAD is.
    commit_all(app.root, "everything")
    assert report(capsys, "--format", "json", "--since", base, "--fail-on", "new", code=0)
    assert main(["check", "--fail-on", "new"]) == 0  # HEAD holds them all now
    capsys.readouterr()
    assert main(["check", "--since", "no-such-branch"]) == 2
    assert "--since no-such-branch: no such commit in this repository" in capsys.readouterr().err


def test_a_lockfile_git_does_not_track_has_nothing_to_compare_with(
        app: Project, capsys: CapSys) -> None:
    commit_all(app.root, "ledger and policy")
    app.lockfile({"left-pad": "1.3.0"})
    packages = json.loads(report(capsys, "--format", "json"))["packages"]
    assert [p["new"] for p in packages] == [None]
    git(app.root, "add", "package-lock.json")  # the commit adds it: all of it is new
    packages = json.loads(report(capsys, "--format", "json"))["packages"]
    assert [p["new"] for p in packages] == [True]


def test_without_git_history_every_failing_package_fails(
        app: Project, capsys: CapSys) -> None:
    app.lockfile({"left-pad": "1.3.0"})
    out = report(capsys, "--fail-on", "new")
    assert "cannot be told new or already there" in out
    assert main(["check", "--since", "HEAD"]) == 2
    assert "--since HEAD: not in a git work tree" in capsys.readouterr().err


def test_advice_fits_each_status(app: Project, world: NpmRegistry, tmp_path: Path,
                                 keys: dict[str, Key], capsys: CapSys) -> None:
    """Rejected: another version, with the reviewer's notes and the audited versions, never
    an exemption. From a file: an exemption pinned to its source, or a registry version.
    Not audited: the audit commands, in their batch form."""
    world.put("vendor/is-number-7.0.0.tgz", world.packages["is-number"]["7.0.0"].tarball)
    vendored = world.client_url("npm") + "vendor/is-number-7.0.0.tgz"  # off the registry
    lockfile = lock(app, world, tmp_path, {**EXPRESS, "is-number": vendored})
    sign_entry(app, keys["bob"], lockfile, "node_modules/debug", verdict="rejected",
               notes="phones home\nwith the user's tokens")
    app.sign(keys["alice"], "debug", "0.9.0", fake_integrity("debug", "0.9.0"))
    app.sign(keys["bob"], "debug", "0.8.0", fake_integrity("debug", "0.8.0"), verdict="rejected")
    debug = line_of(lockfile, "node_modules/debug")
    lines = report(capsys).splitlines()
    assert lines[1] == "  5 unaudited, 1 rejected, 1 unverifiable"
    assert lines[3] == "Rejected by a trusted reviewer (1): choose another version"
    at = lines.index("  debug@1.0.0: rejected: rejected by Bob")
    assert lines[at + 1:at + 4] == [
        f"      via express \u203a debug (package-lock.json:{debug})",
        "      Bob wrote: phones home with the user's tokens",
        "      audited versions of debug in the ledger: 0.9.0",
    ]
    assert "From outside the npm registry (1): no audit can cover them" in lines
    text = "\n".join(lines)
    advice = text[text.index("What to do:"):]
    assert "Rejected: do not install these versions. Choose another version" in advice
    assert '"debug@1.0.0"' not in advice  # never an exemption for a rejected package
    assert ("    package-trust fetch --lockfile package-lock.json --failing\n"
            "    package-trust sign --lockfile package-lock.json --failing "
            "--key YOUR-FINGERPRINT") in advice
    pinned = ('    exemptions:\n      - package: "is-number@7.0.0"\n'
              f'        source: "{vendored}"\n'
              "        reason: why it needs no audit")
    assert "switch to a registry version (npm install NAME@VERSION)" in advice
    assert pinned in advice

    # The exemption as printed holds: pasted into the policy, the package passes.
    policy = app.root / "trust-policy.yml"
    policy.write_text(policy.read_text() + textwrap.dedent(pinned) + "\n")
    out = report(capsys, "--format", "json")
    status = {p["name"]: p["status"] for p in json.loads(out)["packages"]}
    assert status["is-number"] == "exempt" and status["debug"] == "rejected"


def test_a_tarball_on_disk_is_exempted_by_its_path_and_integrity(
        app: Project, world: NpmRegistry, tmp_path: Path, capsys: CapSys) -> None:
    """A vendored tarball (file:) in sync with package.json: the advice exempts it pinned
    to its path and its integrity, which pasted into the policy passes it; a path alone
    pins no bytes, and the policy says so at its line."""
    (app.root / "vendor").mkdir()
    (app.root / "vendor/is-number-7.0.0.tgz").write_bytes(
        world.packages["is-number"]["7.0.0"].tarball)
    lockfile = lock(app, world, tmp_path, {"is-number": "file:vendor/is-number-7.0.0.tgz"})
    integrity = entry(lockfile, "node_modules/is-number")["integrity"]
    advice = report(capsys).split("What to do:")[1]
    pinned = ('    exemptions:\n      - package: "is-number@7.0.0"\n'
              '        source: "file:vendor/is-number-7.0.0.tgz"\n'
              f'        integrity: "{integrity}"\n'
              "        reason: why it needs no audit")
    assert pinned in advice
    policy = app.root / "trust-policy.yml"
    before = policy.read_text()
    policy.write_text(before + textwrap.dedent(pinned) + "\n")
    out = report(capsys, "--format", "json", code=0)
    assert [p["status"] for p in json.loads(out)["packages"]] == ["exempt"]
    unpinned = "\n".join(x for x in textwrap.dedent(pinned).splitlines() if "integrity" not in x)
    policy.write_text(before + unpinned + "\n")
    assert main(["check"]) == 2
    source_line = before.count("\n") + 3
    assert (f"trust-policy.yml:{source_line}: source 'file:vendor/is-number-7.0.0.tgz' is a "
            "file on disk, whose path pins no bytes") in capsys.readouterr().err


def test_a_large_project_reads_counts_then_twenty_packages(app: Project,
                                                           capsys: CapSys) -> None:
    shutil.copy(DATA / "lockfiles/large-install-v3-aliases/package-lock.json", app.root)
    failing = json.loads(report(capsys, "--format", "json"))["summary"]["failing"]
    assert failing > 1000
    lines = report(capsys).splitlines()
    assert lines[0].startswith(f"{failing} of {failing} packages are not audited")
    assert lines[1] == f"  {failing} unaudited"
    listed = [x for x in lines if x.startswith("  ") and ": unaudited: " in x]
    assert len(listed) == 20
    assert (f"… and {failing - 20} more: package-trust check --format json (or --format "
            "markdown) lists them all") in lines
    assert len(lines) < 80
    packages = json.loads(report(capsys, "--format", "json"))["packages"]
    assert all(p["via"] for p in packages)  # each reached from what the project chose


def run_in_terminal(cwd: Path, args: list[str], env: dict[str, str], stdout_tty: bool,
                    stderr_tty: bool) -> tuple[int, str, str]:
    """package-trust with stdout and/or stderr on a pseudo-terminal: (exit, out, err)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "package_trust", *args], cwd=cwd,
        env={**env, "PYTHONPATH": str(HOOK), "TERM": "xterm"}, stdin=subprocess.DEVNULL,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave if stderr_tty else subprocess.PIPE)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process is done with it
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    out, err = proc.communicate(timeout=120)
    piped = (out or b"").decode() if not stdout_tty else (err or b"").decode()
    terminal = shown.decode().replace("\r\n", "\n")
    return (proc.returncode, terminal, piped) if stdout_tty else (
        proc.returncode, piped, terminal)


@pytest.fixture
def slow_gpg(tmp_path: Path) -> str:
    """gpg that takes a second and a half to start: a cold check of a large project."""
    real = shutil.which("gpg")
    assert real is not None
    wrapper = tmp_path / "slow" / "gpg"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nsleep 1.5\nexec {real} \"$@\"\n")
    wrapper.chmod(0o755)
    return str(wrapper)


def test_a_slow_check_shows_progress_on_a_terminal_only(app: Project, keys: dict[str, Key],
                                                        slow_gpg: str) -> None:
    app.lockfile({"left-pad": "1.3.0", "right-pad": "1.0.0"})
    app.sign(keys["alice"], "left-pad", "1.3.0")
    env = {**os.environ, "PACKAGE_TRUST_GPG": slow_gpg}
    code, out, err = run_in_terminal(app.root, ["check", "--no-cache"], env, False, True)
    assert code == 1, err
    assert "\rpackage-trust: checking the lockfile against the ledger, verifying " \
           "signatures… 1 s" in err
    assert err.endswith("\r\x1b[K")  # the line is cleared: the report reads as usual
    assert out.startswith("1 of 2 packages is not audited")
    code, out, err = run_in_terminal(app.root, ["check", "--no-cache"], env, True, False)
    assert code == 1 and "checking" not in err  # stderr is no terminal: silent


def test_colour_on_a_terminal_unless_no_color(app: Project) -> None:
    app.lockfile({"left-pad": "1.3.0"})
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    code, out, _ = run_in_terminal(app.root, ["check"], env, True, False)
    assert code == 1
    assert out.startswith("\x1b[1;31m1 of 1 package is not audited")
    assert "\x1b[1;33m  left-pad@1.3.0: unaudited: " in out
    code, out, _ = run_in_terminal(app.root, ["check"], {**env, "NO_COLOR": "1"}, True, False)
    assert code == 1 and "\x1b" not in out
    assert out.startswith("1 of 1 package is not audited")
    code, out, _ = run_in_terminal(app.root, ["check"], env, False, True)
    assert code == 1 and "\x1b" not in out  # stdout is no terminal


def test_quiet_and_output(app: Project, capsys: CapSys) -> None:
    app.lockfile({"left-pad": "1.3.0"})
    full = report(capsys)
    assert report(capsys, "-q") == full.splitlines()[0] + "\n"
    assert report(capsys, "--output", "report.txt") == ""
    assert (app.root / "report.txt").read_text() == full
    assert report(capsys, "-o", "report.json", "--format", "json") == ""
    assert json.loads((app.root / "report.json").read_text())["summary"]["failing"] == 1
    assert main(["check", "-o", "no/such/folder/report.txt"]) == 2
    assert "cannot write the report" in capsys.readouterr().err
