"""Hostile input never ends a check in a traceback: a statement anyone may add to the ledger
is a problem of its own package, a broken lockfile, policy or lock file is one error naming
its file and line (exit 2), and no name, however broken, stops a report from being printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from package_trust.cli import main
from support import REPO, Auditors, Key, Project, fake_integrity

CapSys = pytest.CaptureFixture[str]
HOOK = REPO / "hook"
DEEP = 2000
LONG = "9" * 5001


def body(name: str, version: str, **extra: str) -> str:
    """A statement for ``name@version`` in JSON, with raw JSON text for ``extra`` fields."""
    sha512 = fake_integrity(name, version).removeprefix("sha512-")
    fields = [f'"package": {json.dumps(name)}', f'"version": "{version}"',
              f'"hash": {{"sha512": "{sha512}"}}', *(f'"{k}": {v}' for k, v in extra.items())]
    return "{" + ", ".join(fields) + "}"


HOSTILE: dict[str, Callable[[str, str], str]] = {
    "nested 2,000 deep": lambda n, v: body(n, v, extra="[" * DEEP + "]" * DEEP),
    "objects nested 2,000 deep": lambda n, v: body(n, v, extra='{"a":' * DEEP + "1" + "}" * DEEP),
    "a 5,001-digit number": lambda n, v: body(n, v, time=LONG),
    "a 5,001-digit fraction": lambda n, v: body(n, v, extra="0." + LONG),
    "NaN": lambda n, v: body(n, v, extra="NaN"),
}


def signed(project: Project, key: Key, text: str) -> bytes:
    return project.auditors.clearsign(key, text.encode())


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_untrusted_hostile_statement_does_not_stop_the_check(
    project: Project, keys: dict[str, Key], capsys: CapSys, kind: str
) -> None:
    """Anyone may add a key to keys/ and sign with it: what they sign is reported, never
    a reason to stop checking the audited package beside it."""
    alice, carol = keys["alice"], keys["carol"]
    project.add_key(alice)
    project.add_key(carol)  # in the ledger, not trusted by the policy
    project.policy([alice])
    project.lockfile({"left-pad": "1.3.0", "is-even": "1.0.0"})
    project.sign(alice, "left-pad", "1.3.0")
    project.sign(alice, "is-even", "1.0.0")
    project.add_statement("left-pad", "1.3.0", signed(project, carol, HOSTILE[kind](
        "left-pad", "1.3.0")), "carol.sig")
    assert main(["check", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(p["name"], p["status"]) for p in report["packages"]] == [
        ("left-pad", "audited"), ("is-even", "audited")]
    hostile = next(s for s in report["packages"][0]["statements"]
                   if s["origin"].endswith("carol.sig"))
    assert not hostile["counted"]
    assert hostile["problem"].startswith("malformed statement: not JSON (")
    assert "line 1 column" in hostile["problem"]


def test_trusted_hostile_statement_is_a_problem_of_its_package(
    project: Project, keys: dict[str, Key], capsys: CapSys
) -> None:
    alice = keys["alice"]
    project.add_key(alice)
    project.policy([alice])
    project.lockfile({"left-pad": "1.3.0", "is-even": "1.0.0"})
    project.sign(alice, "is-even", "1.0.0")
    project.add_statement("left-pad", "1.3.0", signed(project, alice, HOSTILE[
        "nested 2,000 deep"]("left-pad", "1.3.0")))
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("1 of 2 packages is not audited")
    assert ("left-pad@1.3.0: unaudited: 0 of 1 required signatures; a.sig: malformed "
            "statement: not JSON (nested more than 512 deep: line 1 column ") in out
    assert "is-even" not in out


def test_a_huge_time_is_no_time(project: Project, keys: dict[str, Key], capsys: CapSys) -> None:
    """A time no date can hold (but short enough to parse) is left out, not printed."""
    alice = keys["alice"]
    project.add_key(alice)
    project.policy([alice])
    project.lockfile({"left-pad": "1.3.0"})
    project.add_statement("left-pad", "1.3.0", signed(project, alice, body(
        "left-pad", "1.3.0", time="9" * 900)))
    assert main(["verify", "left-pad@1.3.0", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "verdict: audited; signed " in out
    assert main(["check", "--format", "json"]) == 0
    [pkg] = json.loads(capsys.readouterr().out)["packages"]
    assert pkg["statements"][0]["time"] is None


# -- lone surrogates and control characters in names ------------------------------------------

BROKEN = "left\ud800pad"  # what the JSON escape "left\ud800pad" decodes to


def broken_lockfile(project: Project, packages: dict[str, str]) -> None:
    """A lockfile installing ``packages``, then BROKEN (a key) and is-\udfffeven (a name)."""
    lockfile = project.lockfile({**packages, "left-xpad": "1.0.0", "is-odd": "1.0.0"})
    data = json.loads(lockfile.read_text())
    entries = data["packages"]
    entries[f"node_modules/{BROKEN}"] = entries.pop("node_modules/left-xpad")
    entries["node_modules/is-odd"]["name"] = "is-\udfffeven"
    lockfile.write_text(json.dumps(data, indent=2))  # ASCII: the surrogates as \ud800


@pytest.fixture
def broken_names(project: Project, keys: dict[str, Key]) -> Project:
    """A lockfile whose names hold a lone surrogate (JSON escapes allow it), a trusted key
    named with one, and a statement whose text holds them."""
    alice = keys["alice"]
    project.add_key(alice)
    project.policy([alice])
    policy = project.root / "trust-policy.yml"
    policy.write_text(policy.read_text().replace("name: Alice", 'name: "Al\\ud800ice\\e[31m"'))
    broken_lockfile(project, {"left-pad": "1.3.0"})
    project.sign(alice, "left-pad", "1.3.0", notes=f"fine\udc80\x1b[2J{BROKEN}")
    # A statement for another name, filed under left-pad: its problem names that name.
    project.add_statement("left-pad", "1.3.0", project.auditors.statement(
        alice, BROKEN, "1.3.0", fake_integrity("left-pad", "1.3.0")), "b.sig")
    return project


def test_every_format_escapes_lone_surrogates(broken_names: Project, capsys: CapSys,
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    formats = ["text", "json", "markdown", "github", "sarif"]
    reports = [f"--report={fmt}={tmp_path / fmt}" for fmt in formats]
    for fmt in formats:
        assert main(["check", "--format", fmt, *reports]) == 1
        out = capsys.readouterr().out
        assert out == (tmp_path / fmt).read_bytes().decode("utf-8")  # strict: valid UTF-8
    text = (tmp_path / "text").read_text()
    assert "left\\ud800pad@1.0.0: unverifiable" in text
    assert "is-\\udfffeven@1.0.0: unverifiable" in text
    assert "\x1b" not in text
    report = json.loads((tmp_path / "json").read_text())  # ASCII, the names exactly as read
    assert {p["name"] for p in report["packages"]} == {"left-pad", BROKEN, "is-\udfffeven"}
    [left] = [p for p in report["packages"] if p["name"] == "left-pad"]
    assert left["signers"] == ["Al\ud800ice\x1b[31m"]
    assert {s["notes"] for s in left["statements"]} == {f"fine\udc80\x1b[2J{BROKEN}", None}
    markdown = (tmp_path / "markdown").read_text()  # control characters: spaces
    assert "| `left pad@1.0.0` | unverifiable |" in markdown
    assert "| `left-pad@1.3.0` | audited | Al ice \\[31m |" in markdown
    github = (tmp_path / "github").read_text()
    assert "title=left\\ud800pad@1.0.0 cannot be checked against the ledger::" in github
    assert "  is-\\udfffeven@1.0.0: unverifiable" in github  # the text report, in the log
    sarif = json.loads((tmp_path / "sarif").read_text())
    assert {r["properties"]["package"] for r in sarif["runs"][0]["results"]} == {
        BROKEN, "is-\udfffeven"}
    assert summary.read_text() == markdown


def test_verify_prints_what_a_statement_says_escaped(broken_names: Project,
                                                     capsys: CapSys) -> None:
    assert main(["verify", "left-pad@1.3.0", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "notes: fine\\udc80\\x1b[2Jleft\\ud800pad" in out
    assert "problem: signed for left\\ud800pad@1.3.0, not this package" in out


def test_errors_naming_broken_text_are_printed(project: Project, keys: dict[str, Key],
                                                capsys: CapSys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    (project.root / "package-lock.json").write_text(
        '{"lockfileVersion": 3,\n "packages": {\n  "node_modules/\\ud800\\u001b": 5}}')
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("package-trust: error: package-lock.json")
    assert err.endswith(": entry 'node_modules/\\ud800\\x1b' must be an object\n")
    # A file name that is not UTF-8 (os.fsdecode: surrogates), and \x1b, from the command line
    unreadable = "caf\udce9\x1b.json"
    assert main(["check", unreadable]) == 2
    assert capsys.readouterr().err == (
        "package-trust: error: caf\\udce9\\x1b.json: lockfile not found\n")
    assert main(["check", "--format", "github", unreadable]) == 2
    out, err = capsys.readouterr()
    assert out == ("::error file=caf\\udce9\\x1b.json,title=package-trust could not check::"
                   "lockfile not found\n")
    assert err == "package-trust: error: caf\\udce9\\x1b.json: lockfile not found\n"


def test_output_never_fails_on_its_encoding(project: Project, keys: dict[str, Key]) -> None:
    """On a terminal that takes ASCII only, what it cannot show is escaped."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    broken_lockfile(project, {"café": "1.0.0"})
    env = {**os.environ, "PYTHONPATH": str(HOOK), "PYTHONIOENCODING": "ascii"}
    for fmt in ("text", "markdown", "github"):
        proc = subprocess.run(
            [sys.executable, "-m", "package_trust", "check", "--format", fmt],
            cwd=project.root, env=env, capture_output=True, timeout=120, check=False)
        assert (proc.returncode, proc.stderr) == (1, b""), proc.stderr.decode()
        assert b"caf\\xe9@1.0.0" in proc.stdout


# -- the policy and its lock file -------------------------------------------------------------


@pytest.mark.parametrize("value", ["0x1", "0o7", "0b1", "1_000", "+1", "010", "1:30", "-1",
                                   "!!int 0x1", "!!int [1]", "1.0", LONG])
def test_minimum_signatures_in_other_forms(project: Project, keys: dict[str, Key],
                                           capsys: CapSys, value: str) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    policy = project.root / "trust-policy.yml"
    policy.write_text(policy.read_text().replace("minimum-signatures: 1",
                                                 f"minimum-signatures: {value}"))
    project.lockfile({"left-pad": "1.3.0"})
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    expected = ("minimum-signatures is 9999" if value == LONG
                else "minimum-signatures must be a whole number of at least 1, in decimal digits")
    assert err.startswith(f"package-trust: error: trust-policy.yml:1: {expected}")
    assert err.count("\n") == 1


def nested_yaml(flow: bool) -> str:
    """What follows a key: a list of lists 1,000 deep."""
    if flow:
        return " " + "[" * 1000 + "]" * 1000 + "\n"
    return "\n" + "".join(f"{'  ' * i}- \n" for i in range(1000))


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "block"])
def test_policy_nested_1000_deep(project: Project, keys: dict[str, Key], capsys: CapSys,
                                 flow: bool) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]], extra="exemptions:" + nested_yaml(flow))
    project.lockfile({"left-pad": "1.3.0"})
    assert main(["check"]) == 2
    line = 5 if flow else 6 + 62  # where the list nested 64 deep (the policy: 1) starts
    assert capsys.readouterr().err == (
        f"package-trust: error: trust-policy.yml:{line}: not valid YAML: "
        "nested more than 64 deep\n")


def test_policy_with_a_character_yaml_refuses(project: Project, keys: dict[str, Key],
                                              capsys: CapSys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]], extra="exemptions:\n  - package: a\x07b\n    reason: x\n")
    project.lockfile({"left-pad": "1.3.0"})
    assert main(["check"]) == 2
    assert capsys.readouterr().err == (
        "package-trust: error: trust-policy.yml:6: not valid YAML: character U+0007 is not "
        "allowed\n")


def test_policy_lock_nested_1000_deep(project: Project, keys: dict[str, Key],
                                      capsys: CapSys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]],
                   extra="ledgers:\n  - git: https://example.invalid/ledger.git\n")
    (project.root / "trust-policy.lock").write_text("ledgers:" + nested_yaml(flow=False))
    project.lockfile({"left-pad": "1.3.0"})
    assert main(["check"]) == 2
    assert capsys.readouterr().err == (
        "package-trust: error: trust-policy.lock:64: not valid YAML: nested more than 64 deep\n")


# -- lockfiles ---------------------------------------------------------------------------------


def v1_nested(depth: int) -> str:
    """A lockfileVersion 1 file, each package depending on the next: ``depth`` levels, two
    JSON levels each (written by hand: json.dumps itself recurses)."""
    deps = ""
    for i in reversed(range(depth)):
        fields = ['"version": "1.0.0"', f'"integrity": "{fake_integrity(f"p{i}", "1.0.0")}"',
                  f'"resolved": "https://registry.npmjs.org/p{i}/-/p{i}-1.0.0.tgz"']
        fields += [f'"dependencies": {deps}'] if deps else []
        deps = f'{{\n"p{i}": {{\n' + ",\n".join(fields) + "}}"
    return '{"lockfileVersion": 1,\n"dependencies": ' + deps + "}\n"


def line_of(text: str, key: str) -> int:
    return text[:text.index(f'"{key}": {{')].count("\n") + 1


@pytest.mark.parametrize(("text", "line", "message"), [
    ('{"lockfileVersion": 3,\n "packages": ' + "[" * DEEP + "]" * DEEP + "}", 2,
     "nested more than 512 deep"),
    (v1_nested(DEEP // 2), line_of(v1_nested(DEEP // 2), "p255"), "nested more than 512 deep"),
    ('{\n"lockfileVersion": ' + LONG + "}", 2, "a number longer than 1000 characters"),
    ('{"lockfileVersion": 3, "packages": {},\n"x": [1, -' + LONG + "]}", 2,
     "a number longer than 1000 characters"),
    ('{"lockfileVersion": 3, "packages": {},\n"x": -Infinity}', 2,
     "-Infinity is not a JSON value"),
])
def test_broken_lockfile_names_its_line(project: Project, keys: dict[str, Key], capsys: CapSys,
                                        text: str, line: int, message: str) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    (project.root / "package-lock.json").write_text(text)
    assert main(["check"]) == 2
    assert capsys.readouterr().err == (
        f"package-trust: error: package-lock.json:{line}: not valid JSON: {message}\n")


def test_a_deep_but_bounded_lockfile_is_checked(project: Project, keys: dict[str, Key],
                                                capsys: CapSys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    (project.root / "package-lock.json").write_text(v1_nested(250))
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("250 of 250 packages are not audited")


@pytest.mark.parametrize("value", ["5", '"abc"', "[1, 2]", "null", "true"])
def test_dependencies_of_another_shape_stop_no_check(project: Project, keys: dict[str, Key],
                                                     capsys: CapSys, value: str) -> None:
    """An entry's dependencies are an object of names; anything else names none (it
    explains no chain) and the check goes on: the package is judged as any other."""
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    (project.root / "package-lock.json").write_text(
        '{"name": "x", "lockfileVersion": 3, "packages": {"": {"dependencies": {"a": "1"}}, '
        '"node_modules/a": {"version": "1.0.0", "resolved": '
        '"https://registry.npmjs.org/a/-/a-1.0.0.tgz", '
        f'"integrity": "{fake_integrity("a", "1.0.0")}", '
        f'"dependencies": {value}, "devDependencies": {value}}}}}}}')
    assert main(["check"]) == 1
    assert "a@1.0.0: unaudited" in capsys.readouterr().out


def test_a_key_whose_user_id_is_not_utf8(project: Project, keys: dict[str, Key],
                                         capsys: CapSys, request: pytest.FixtureRequest) -> None:
    """Anyone may add a key to keys/: a user ID in no encoding stops no check."""
    auditors = Auditors()  # its own keyring: the session's stays readable for other tests
    request.addfinalizer(auditors.close)
    uid = os.fsdecode(b"Mallory \xff\xed\xa0\x80\x1b[2J <mallory@example.org>")
    auditors.gpg("--quick-gen-key", uid, "ed25519", "sign", "2y")
    [mallory] = [line.split(":")[9] for line in auditors.gpg(
        "--with-colons", "--list-keys", "<mallory@example.org>").decode("utf-8", "replace")
        .splitlines() if line.startswith("fpr:")][:1]
    (project.root / "keys" / f"{mallory}.asc").write_bytes(auditors.gpg("--armor", "--export",
                                                                         mallory))
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    project.add_statement("left-pad", "1.3.0", auditors.clearsign(
        Key("mallory", mallory, mallory), b'{"package": "left-pad"}'), "m.sig")
    assert main(["check", "--format", "json"]) == 0
    [pkg] = json.loads(capsys.readouterr().out)["packages"]
    [signer] = [s["signer"] for s in pkg["statements"] if s["origin"].endswith("m.sig")]
    assert signer == "Mallory \ufffd\ufffd\ufffd\ufffd\x1b[2J <mallory@example.org>"
    assert main(["verify", "left-pad@1.3.0", "--offline"]) == 0
    assert (f"  untrusted: {mallory} Mallory \ufffd\ufffd\ufffd\ufffd\\x1b[2J "
            "<mallory@example.org>\n") in capsys.readouterr().out


def test_a_statement_file_name_not_in_utf8(project: Project, keys: dict[str, Key],
                                           capsys: CapSys) -> None:
    """A file name anyone may add to the ledger: every format prints it, escaped."""
    alice = keys["alice"]
    project.add_key(alice)
    project.policy([alice])
    project.lockfile({"left-pad": "1.3.0", "is-even": "1.0.0"})
    project.sign(alice, "left-pad", "1.3.0")
    folder = project.root / "signatures" / "is-even" / "1.0.0"
    folder.mkdir(parents=True)
    name = os.fsdecode(b"\xff\x1b.sig")
    (folder / name).write_bytes(project.auditors.statement(alice, "left-pad", "1.3.0"))
    for fmt in ("json", "markdown", "github", "sarif"):
        assert main(["check", "--format", fmt]) == 1
        capsys.readouterr()
    assert main(["check"]) == 1
    assert ("  is-even@1.0.0: unaudited: 0 of 1 required signatures; \\udcff\\x1b.sig: signed "
            "for left-pad@1.3.0, not this package\n") in capsys.readouterr().out
