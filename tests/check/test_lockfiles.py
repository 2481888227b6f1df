"""Every real lockfile in tests/data/lockfiles/ (copied from npm/cli, see its SOURCES.md)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from package_trust.check import lockfile
from package_trust.cli import main
from package_trust.errors import LockfileError
from support import DATA, Key, Project

LOCKFILES = sorted((DATA / "lockfiles").glob("*/package-lock.json"))
# folder -> sources found (registry, link, other)
EXPECTED = {
    "large-install-v3-aliases": {"registry": 1306},
    "npm-cli-v3-workspaces": {"link": 32, "registry": 1241},
    "v1-dev-deps": {"registry": 5},
    "v1-link-dep": {"link": 1},
    "v1-old": {"registry": 2},
    "v1-tap-and-flow": {"registry": 471},
    "v2-bundled": {"registry": 421},
    "v2-external-link": {"link": 8, "registry": 7},
    "v2-git-dep": {"other": 1},
    "v2-install-types-aliases": {"registry": 19, "other": 11, "link": 2},
    "v2-pnpm-layout": {"registry": 8, "link": 9},
}
# folder -> entries npm takes from another package's tarball (Dependency.bundled_in), as
# arborist's Node.inDepBundle says. npm-cli bundles 356 in all, but its own (150, right
# under it) and what they bundle (43) npm installs on their own: only 163 come in tap's.
BUNDLED = {"npm-cli-v3-workspaces": 163, "v1-tap-and-flow": 127, "v2-bundled": 129,
           "v2-install-types-aliases": 3}


def test_every_shared_lockfile_is_covered() -> None:
    assert {p.parent.name for p in LOCKFILES} == set(EXPECTED)


@pytest.mark.parametrize("path", LOCKFILES, ids=lambda p: p.parent.name)
def test_parses(path: Path) -> None:
    lf = lockfile.load(path)
    assert dict(Counter(d.source.value for d in lf.dependencies)) == EXPECTED[path.parent.name]
    assert sum(1 for d in lf.dependencies if d.bundled_in) == BUNDLED.get(path.parent.name, 0)
    assert all(d.line for d in lf.dependencies)


@pytest.mark.parametrize("path", LOCKFILES, ids=lambda p: p.parent.name)
def test_check_reports_every_package(path: Path, project: Project, keys: dict[str, Key],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    shutil.copy(path, project.root / "package-lock.json")
    code = main(["check", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    statuses = Counter(p["status"] for p in report["packages"])
    assert code == (1 if report["summary"]["failing"] else 0)
    assert set(statuses) <= {"unaudited", "unverifiable", "skipped"}
    assert report["summary"]["packages"] == sum(
        n for s, n in statuses.items() if s != "skipped")


def test_alias_uses_the_real_name() -> None:
    lf = lockfile.load(DATA / "lockfiles/large-install-v3-aliases/package-lock.json")
    dep = next(d for d in lf.dependencies if d.path == "node_modules/string-width-cjs")
    assert (dep.name, dep.version) == ("string-width", "4.2.3")


def test_git_dependency_is_unverifiable(project: Project, keys: dict[str, Key],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    shutil.copy(DATA / "lockfiles/v2-git-dep/package-lock.json", project.root)
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "minimist@0.0.8: unverifiable: unsupported source git+ssh://" in out


def test_same_package_at_several_paths_is_checked_once(project: Project, keys: dict[str, Key],
                                                       capsys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile([("left-pad", "1.3.0"), ("a/node_modules/left-pad", "1.3.0")])
    # the second entry: node_modules/a/node_modules/left-pad
    data = json.loads((project.root / "package-lock.json").read_text())
    entry = data["packages"].pop("node_modules/a/node_modules/left-pad")
    entry["integrity"] = data["packages"]["node_modules/left-pad"]["integrity"]
    data["packages"]["node_modules/a/node_modules/left-pad"] = entry
    (project.root / "package-lock.json").write_text(json.dumps(data))
    assert main(["check", "--format", "json"]) == 1
    [pkg] = json.loads(capsys.readouterr().out)["packages"]
    assert pkg["paths"] == ["node_modules/left-pad", "node_modules/a/node_modules/left-pad"]


def test_shrinkwrap_is_the_fallback(project: Project, keys: dict[str, Key]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"}, name="npm-shrinkwrap.json")
    project.sign(keys["alice"], "left-pad", "1.3.0")
    assert main(["check"]) == 0


@pytest.mark.parametrize(("text", "message", "line"), [
    ('{\n  "lockfileVersion": 3,\n  "packages": {\n    "x": \n}', "not valid JSON", 5),
    ('{"lockfileVersion": 7}', "unsupported lockfileVersion 7", 1),
    ("[]", "not an npm lockfile", 1),
    ('{\n "lockfileVersion": 2,\n "packages": {\n  "node_modules/a": 3\n }\n}',
     "entry 'node_modules/a' must be an object", None),
    ('{\n "lockfileVersion": 3,\n "packages":\n  ["node_modules/a"]\n}',
     '"packages" must be an object', 3),
])
def test_malformed_lockfile(project: Project, keys: dict[str, Key], text: str, message: str,
                            line: int | None, capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    (project.root / "package-lock.json").write_text(text)
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    where = "package-lock.json" + (f":{line}" if line else "")
    assert f"package-trust: error: {where}: {message}" in err


def test_missing_lockfile(project: Project, keys: dict[str, Key], capsys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    assert main(["check"]) == 2
    assert "no lockfile found" in capsys.readouterr().err
    assert main(["check", "nope/package-lock.json"]) == 2
    assert "nope/package-lock.json: lockfile not found" in capsys.readouterr().err


def test_lockfile_error_type() -> None:
    with pytest.raises(LockfileError):
        lockfile.load(Path("/nonexistent/package-lock.json"))


def test_v2_legacy_section_that_disagrees_is_checked_too(
    project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]
) -> None:
    """npm 6 installs a v2 lockfile from "dependencies": it cannot hide a package."""
    from support import fake_integrity

    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.sign(keys["alice"], "left-pad", "1.3.0")
    good = fake_integrity("left-pad", "1.3.0")
    data = {"lockfileVersion": 2, "packages": {"": {}, "node_modules/left-pad": {
        "version": "1.3.0", "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
        "integrity": good}},
        "dependencies": {"left-pad": {"version": "1.3.0", "integrity": good}}}
    lock = project.root / "package-lock.json"
    lock.write_text(json.dumps(data))
    assert main(["check"]) == 0
    capsys.readouterr()
    data["dependencies"]["left-pad"]["integrity"] = fake_integrity("evil", "1")
    data["dependencies"]["evil"] = {"version": "git+ssh://git@example.org/evil.git#abc"}
    lock.write_text(json.dumps(data))
    assert main(["check", "--format", "json"]) == 1
    failing = {(p["name"], p["status"]) for p in json.loads(capsys.readouterr().out)["packages"]
               if p["status"] != "audited"}
    assert failing == {("left-pad", "unaudited"), ("evil", "unverifiable")}


def test_v1_file_tarball_is_not_first_party() -> None:
    lf = lockfile.load(DATA / "lockfiles/v2-install-types-aliases/package-lock.json")
    tarballs = [d for d in lf.dependencies if d.version.endswith(".tgz")]
    assert tarballs and all(d.source.value == "other" for d in tarballs)


def _v3(packages: dict[str, dict[str, object]]) -> str:
    return json.dumps({"lockfileVersion": 3, "packages": {"": {"name": "app"}, **packages}})


def _sources(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "package-lock.json"
    path.write_text(text)
    return {d.path: d.source.value for d in lockfile.load(path).dependencies}


def _bundled_in(tmp_path: Path, text: str) -> dict[str, str | None]:
    path = tmp_path / "package-lock.json"
    path.write_text(text)
    return {d.path: d.bundled_in for d in lockfile.load(path).dependencies}


def test_bundled_only_inside_a_package(tmp_path: Path) -> None:
    """An entry is taken from a package's tarball only if that package bundles it (its
    bundleDependencies, as npm reads them). Right under the project, or a workspace, or
    inside a package the project itself bundles, it is installed on its own: checked like
    any other."""
    tgz = "https://registry.npmjs.org/x/-/x-1.0.0.tgz"
    entry = {"version": "1.0.0", "resolved": tgz, "integrity": "sha512-AA==", "inBundle": True}
    pkg = {**entry, "inBundle": False, "bundleDependencies": ["dep"]}
    assert _bundled_in(tmp_path, _v3({
        "node_modules/evil": entry,
        "node_modules/pkg": pkg,
        "node_modules/pkg/node_modules/dep": entry,
        "node_modules/pkg/node_modules/dep/node_modules/deeper": entry,
        "node_modules/nobd": {**entry, "inBundle": False},
        "node_modules/nobd/node_modules/dep": entry,
        "packages/ws": {"version": "1.0.0", "bundleDependencies": ["wsdep"]},
        "packages/ws/node_modules/wsdep": entry,
    })) == {"node_modules/evil": None, "node_modules/pkg": None,
            "node_modules/pkg/node_modules/dep": "node_modules/pkg",
            "node_modules/pkg/node_modules/dep/node_modules/deeper": "node_modules/pkg",
            "node_modules/nobd": None, "node_modules/nobd/node_modules/dep": None,
            "packages/ws": None, "packages/ws/node_modules/wsdep": None}
    v1 = {"lockfileVersion": 1, "dependencies": {
        "evil": {"version": "1.0.0", "resolved": tgz, "bundled": True},
        "pkg": {"version": "1.0.0", "resolved": tgz, "requires": {"dep": "1.0.0"},
                "dependencies": {"dep": {"version": "1.0.0", "resolved": tgz, "bundled": True}}}}}
    assert _bundled_in(tmp_path, json.dumps(v1)) == {
        "node_modules/evil": None, "node_modules/pkg": None,
        "node_modules/pkg/node_modules/dep": "node_modules/pkg"}


def test_a_folder_key_in_a_v1_lockfile_cannot_be_checked(tmp_path: Path) -> None:
    """Keys like ".pnpm/…" are folders only in npm 7's copy of a v2 file; in a v1 file such
    an entry is not first party but something that cannot be checked."""
    tgz = "https://registry.npmjs.org/x/-/x-1.0.0.tgz"
    v1 = {"lockfileVersion": 1,
          "dependencies": {".evil": {"version": "1.0.0", "resolved": tgz}}}
    assert _sources(tmp_path, json.dumps(v1)) == {"node_modules/.evil": "other"}
