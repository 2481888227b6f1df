"""The line of each lockfile entry, which reports and error messages point at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from package_trust.check import lockfile
from package_trust.check.lockfile.npm import index_keys
from package_trust.cli import main
from support import DATA, Key, Project

LOCKFILES = sorted((DATA / "lockfiles").glob("*/package-lock.json"))


def lines(path: Path) -> dict[str, int | None]:
    return {d.path: d.line for d in lockfile.load(path).dependencies}


@pytest.mark.parametrize("path", LOCKFILES, ids=lambda p: p.parent.name)
def test_every_entry_has_the_line_it_is_written_on(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    rows = text.splitlines()
    # What the old code looked lines up in: every '"key": {' starting a line.
    written = {key: [line for _, line in hits] for key, hits in index_keys(text).items()}
    deps = lockfile.load(path).dependencies
    for dep in deps:
        assert dep.line is not None
        row = rows[dep.line - 1].lstrip()
        keys = (dep.path, dep.path.rpartition("node_modules/")[2])  # v2 and v3, v1
        key = next(k for k in keys if row.startswith(json.dumps(k) + ": {"))
        # The old code gave an entry the first line of its key: the same line unless the key
        # is written more than once (v1 nests a name under several packages): its own line.
        if len(written[key]) == 1:
            assert dep.line == written[key][0]
        else:
            assert dep.line in written[key]
    assert len({d.line for d in deps}) == len(deps)


def test_a_nested_v1_entry_is_not_given_the_line_of_another() -> None:
    found = lines(DATA / "lockfiles/v1-tap-and-flow/package-lock.json")
    assert found["node_modules/@babel/highlight/node_modules/ansi-styles"] == 69
    assert found["node_modules/ansi-styles"] == 193  # the old code said 69


def test_report_points_at_each_version(project: Project, keys: dict[str, Key],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    ms = {"version": "2.1.2", "resolved": "https://registry.npmjs.org/ms/-/ms-2.1.2.tgz"}
    old_ms = {"version": "2.0.0", "resolved": "https://registry.npmjs.org/ms/-/ms-2.0.0.tgz"}
    debug = {"version": "2.6.9", "resolved": "https://registry.npmjs.org/debug/-/debug-2.6.9.tgz",
             "requires": {"ms": "2.0.0"}, "dependencies": {"ms": old_ms}}
    text = json.dumps({"lockfileVersion": 1, "dependencies": {"debug": debug, "ms": ms}},
                      indent=2)
    (project.root / "package-lock.json").write_text(text)
    assert main(["check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    found = {f'{p["name"]}@{p["version"]}': p["line"] for p in report["packages"]}
    rows = text.splitlines()
    assert found == {"debug@2.6.9": 4, "ms@2.0.0": 11, "ms@2.1.2": 17}
    assert rows[10].strip() == rows[16].strip() == '"ms": {'  # the old code said 11 for both


def test_keys_written_unusually(project: Project) -> None:
    """Escapes npm does not write, a quote in a key, keys spaced oddly: still the right line."""
    text = "\n".join([
        '{"lockfileVersion": 3, "packages": {',  # 1
        '  "": {},',
        r'  "node_modules/q\"node_modules/b": {"version": "1.0.0"},',  # 3
        '  "node_modules/b": {"version": "1.0.0"},',
        '  "node_modules/c"',  # 5
        "    :",
        '     {"version": "2.0.0"},',
        r'  "node_modules/caf\u00e9": {"version": "1.0.0"},',  # 8: not found ahead
        '  "node_modules/a/node_modules/c": {"version": "1.0.0"},',
        '  "node_modules/d"  :{"version": "1.0.0"}',  # 10
        "}}",
    ])
    path = project.root / "package-lock.json"
    path.write_text(text)
    assert lines(path) == {
        'node_modules/q"node_modules/b': 3,
        "node_modules/b": 4,
        "node_modules/c": 5,
        "node_modules/café": 8,
        "node_modules/a/node_modules/c": 9,
        "node_modules/d": 10,
    }


def test_keys_after_an_unusual_one_keep_their_own_lines(project: Project) -> None:
    entry = {"version": "1.0.0"}
    nested = {"ms": {**entry, "dependencies": {"ms": entry}}}
    text = json.dumps({"lockfileVersion": 1, "dependencies": {
        "caf\u00e9": entry, "a": {**entry, "dependencies": nested}, "ms": entry}}, indent=1)
    path = project.root / "package-lock.json"
    path.write_text(text)  # "caf\u00e9", as json.dumps writes it: the lines come from the index
    rows = [row.strip() for row in text.splitlines()]
    found = lines(path)
    assert [rows[line - 1] for line in found.values() if line] == [
        '"caf\\u00e9": {', '"a": {', '"ms": {', '"ms": {', '"ms": {']
    assert len(set(found.values())) == 5


def test_one_line_lockfile(project: Project) -> None:
    path = project.lockfile({"left-pad": "1.3.0", "@scope/b": "2.0.0"})
    path.write_text(json.dumps(json.loads(path.read_text()), separators=(",", ":")))
    assert lines(path) == {"node_modules/left-pad": 1, "node_modules/@scope/b": 1}
