"""The lockfile is read as npm reads it (GitHub issue "Judge exactly what npm installs"):
each test is a way an unaudited tarball got past ``check`` while ``npm ci`` installed it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from package_trust.check import lockfile, statement
from package_trust.cli import main
from support import DATA, Key, Project, fake_integrity

NODE = shutil.which("node")
NPM_LIB = Path("/usr/lib/node_modules/npm/node_modules")
TGZ = "https://registry.npmjs.org/{0}/-/{0}-{1}.tgz"


def _entry(name: str, version: str, **extra: Any) -> dict[str, Any]:
    return {"version": version, "resolved": TGZ.format(name, version),
            "integrity": fake_integrity(name, version), **extra}


def _setup(project: Project, keys: dict[str, Key]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.sign(keys["alice"], "left-pad", "1.3.0")


def _write(project: Project, data: dict[str, Any], name: str = "package-lock.json") -> Path:
    path = project.root / name
    path.write_text(json.dumps(data, indent=2))
    return path


def _failing(capsys: pytest.CaptureFixture[str]) -> set[tuple[str, str]]:
    report = json.loads(capsys.readouterr().out)
    return {(p["name"], p["status"]) for p in report["packages"] if p["status"] not in (
        "audited", "skipped", "exempt")}


# 1. `packages` is what npm 7+ installs from, whatever lockfileVersion says.

@pytest.mark.parametrize("version", [1, 1.0])
def test_packages_read_whatever_the_lockfile_version(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str],
        version: float) -> None:
    _setup(project, keys)
    _write(project, {"lockfileVersion": version,
                     "packages": {"": {}, "node_modules/evil": _entry("evil", "1.0.0")},
                     "dependencies": {"left-pad": _entry("left-pad", "1.3.0")}})
    assert main(["check", "--format", "json"]) == 1
    assert _failing(capsys) == {("evil", "unaudited")}


@pytest.mark.parametrize("version", ["true", '"3"', "4", "null"])
def test_a_lockfile_version_npm_gives_no_meaning_is_refused(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str],
        version: str) -> None:
    """Python's True == 1: a file saying ``true`` is no version 1 file to npm."""
    _setup(project, keys)
    (project.root / "package-lock.json").write_text(
        "{\n" + f'  "lockfileVersion": {version},\n  "dependencies": {{}}\n' + "}")
    assert main(["check"]) == 2
    assert "package-lock.json:2: unsupported lockfileVersion" in capsys.readouterr().err


# 2. npm installs from npm-shrinkwrap.json when there is one.

def test_the_shrinkwrap_beside_the_package_lock_is_what_is_checked(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    _setup(project, keys)
    project.lockfile({"left-pad": "1.3.0"})
    project.lockfile({"evil": "1.0.0"}, name="npm-shrinkwrap.json")
    for args in ([], ["package-lock.json"], ["package.json"], ["npm-shrinkwrap.json"]):
        assert main(["check", "--format", "json", *args]) == 1, args
        assert _failing(capsys) == {("evil", "unaudited")}
    lf = lockfile.load(project.root / "package-lock.json")
    assert lf.path == project.root / "npm-shrinkwrap.json"
    assert lf.notices == [f"{project.root / 'package-lock.json'}: npm installs this project "
                          f"from {project.root / 'npm-shrinkwrap.json'}, which was checked "
                          "in its place"]
    assert {project.root / n for n in ("package-lock.json", "npm-shrinkwrap.json",
                                       "package.json")} <= set(lf.read)


def test_an_empty_shrinkwrap_is_passed_over(project: Project, keys: dict[str, Key]) -> None:
    """arborist: ``data = sw || lock``: an empty npm-shrinkwrap.json is no lockfile."""
    _setup(project, keys)
    project.lockfile({"left-pad": "1.3.0"})
    (project.root / "npm-shrinkwrap.json").write_text("")
    assert main(["check"]) == 0
    assert lockfile.find_default(project.root).name == "package-lock.json"


def test_a_workspace_package_json_names_the_root_lockfile(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    _setup(project, keys)
    lock = project.lockfile({"evil": "1.0.0"})
    data = json.loads(lock.read_text())
    data["packages"][""]["workspaces"] = ["packages/*"]
    data["packages"]["node_modules/a"] = {"resolved": "packages/a", "link": True}
    data["packages"]["packages/a"] = {"name": "a"}
    lock.write_text(json.dumps(data))
    (project.root / "package.json").write_text('{"workspaces": ["packages/*"]}')
    (project.root / "packages" / "a").mkdir(parents=True)
    (project.root / "packages/a/package.json").write_text('{"name": "a"}')
    assert main(["check", "--format", "json", "packages/a/package.json"]) == 1
    assert _failing(capsys) == {("evil", "unaudited")}
    (project.root / "package.json").write_text("{}")  # another project's lockfile above
    assert lockfile.lockfile_for(Path("packages/a/package.json")) is None  # declares nothing


def test_the_hook_runs_when_package_json_changes() -> None:
    hooks = yaml.safe_load((DATA.parent.parent / ".pre-commit-hooks.yaml").read_text())
    assert re.search(hooks[0]["files"], "web/package.json")


# 3. The integrity is read as ssri reads it.

def _b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha512(data).digest()).decode()


A, B = _b64(b"audited"), _b64(b"evil")
HOSTILE = {
    "one": (f"sha512-{A}", A),
    "nbsp": (f"sha512-{A}\u00a0sha512-{B}", None),
    "bom": (f"sha512-{A}\ufeffsha512-{B}", None),
    "ideographic space": (f"sha512-{A}\u3000sha512-{B}", None),
    "sha3 ranks above sha512": (f"sha512-{A} sha3-{B}", None),
    "an algorithm of unknown rank": (f"blake2b512-{B} sha512-{A}", None),
    "sha3-512 is no algorithm to ssri": (f"sha512-{A} sha3-512-{B}", None),
    "weaker ones are ignored": (f"sha1-{B} sha256-{B} sha512-{A}?opt", A),
    "JavaScript whitespace around": (f"\ufeff\u2028 sha512-{A}\u205f", A),
    "a digest npm cannot match": (f"sha512-{A} sha512-{B[:-2]}", A),
    "not split on U+001C": (f"sha512-{A}\x1csha512-{B}", None),
    "upper case is no hash": (f"SHA512-{A}", None),
}


@pytest.mark.parametrize(("integrity", "bound"), HOSTILE.values(), ids=HOSTILE.keys())
def test_integrity_binds_one_sha512_or_none(integrity: str, bound: str | None) -> None:
    digest = statement.sha512_of(integrity)
    assert (base64.b64encode(digest).decode() if digest else None) == bound


@pytest.mark.skipif(NODE is None or not (NPM_LIB / "ssri").is_dir(), reason="no npm's ssri")
def test_integrity_reading_agrees_with_npms_ssri() -> None:
    """Where sha512_of binds a digest, ssri (with this node's hashes) accepts that tarball
    and no other of those tried."""
    script = (f"const ssri=require('{NPM_LIB / 'ssri'}');const crypto=require('crypto');"
              "const cases=JSON.parse(require('fs').readFileSync(0,'utf8'));"
              "console.log(JSON.stringify(cases.map(s=>['audited','evil'].filter("
              "d=>ssri.checkData(Buffer.from(d),s)))))")
    cases = [i for i, _ in HOSTILE.values()]
    proc = subprocess.run([str(NODE), "-e", script], input=json.dumps(cases),
                          capture_output=True, text=True, check=True)
    for (integrity, bound), accepted in zip(HOSTILE.values(), json.loads(proc.stdout),
                                            strict=True):
        if bound is not None:
            assert accepted == ["audited"], integrity


# 4. What npm-package-arg makes of a v1 entry's version.

@pytest.mark.parametrize(("entry", "source"), [
    ({"version": "file:x.TGZ", "integrity": fake_integrity("x", "1")}, "other"),
    ({"version": "file:vendor/x.Tar.Gz"}, "other"),
    ({"version": "file:../x"}, "link"),
    ({"version": "file:./x"}, "link"),
    # no integrity: npm reads the entry from its resolved, and fetches that tarball unchecked
    ({"version": "file:../x", "resolved": "https://example.org/x/-/x-1.tgz"}, "other"),
    ({"version": "file:../x", "from": "^1", "resolved": "https://example.org/x.tgz"}, "link"),
    # a link into node_modules: npm installs a package there from the link's resolved
    ({"version": "file:node_modules/y", "resolved": TGZ.format("y", "1")}, "other"),
    ({"version": "link:../x"}, "other"),
    ({"version": "github:a/b#abc"}, "other"),
    ({"version": "a/b"}, "other"),
    ({"version": "https://example.org/x/-/x-1.tgz", "integrity": "sha512-AA=="}, "other"),
    ({"version": "npm:@s/real@1.0.0", "resolved": TGZ.format("@s/real", "1.0.0"),
      "integrity": fake_integrity("@s/real", "1.0.0")}, "registry"),
])
def test_v1_versions_read_as_npm_package_arg_reads_them(
        tmp_path: Path, entry: dict[str, Any], source: str) -> None:
    path = tmp_path / "package-lock.json"
    path.write_text(json.dumps({"lockfileVersion": 1, "dependencies": {"x": entry}}))
    [dep] = lockfile.load(path).dependencies
    assert dep.source.value == source
    if entry["version"].startswith("npm:"):
        assert (dep.name, dep.version) == ("@s/real", "1.0.0")


def test_a_tarball_in_upper_case_is_not_skipped(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    _setup(project, keys)
    _write(project, {"lockfileVersion": 1, "dependencies": {
        "left-pad": _entry("left-pad", "1.3.0"),
        "evil": {"version": "file:evil-1.0.0.TGZ", "integrity": fake_integrity("evil", "1")}}})
    assert main(["check", "--format", "json"]) == 1
    assert _failing(capsys) == {("evil", "unverifiable")}


# 5. Links, folders outside node_modules, and what `resolved` npm fetches with integrity.

@pytest.mark.parametrize(("resolved", "source"), [
    # Only an http(s) URL with /-/ in its path is a registry tarball; else unverifiable.
    ("https://registry.npmjs.org/@s/a/-/a-1.0.0.tgz", "registry"),
    ("HTTP://mirror.example:8080/a/-/a-1.0.0.tgz?x=1#y", "registry"),
    ("https://example.org/a-1.0.0.tgz", "other"),
    ("https://example.org/a-1.0.0.tgz?from=/-/", "other"),
    ("https://example.org/a-1.0.0.tgz#/-/", "other"),
    ("https://example.org?/-/a-1.0.0.tgz", "other"),
    ("git+https://example.org/a/-/a.git", "other"),
    ("file:a/-/a-1.0.0.tgz", "other"),
    ("https:/example.org/a/-/a-1.0.0.tgz", "other"),
    # ... and not one pacote would clone, nor one that leaves the registry's path
    ("https://bitbucket.org/u/r/-/r-1.0.0.tgz", "other"),  # a git clone: no integrity
    ("https://github.com/u/r/tree/-/r-1.0.0.tgz", "other"),
    ("https://www.github.com/-/r-1.0.0.tgz", "other"),
    ("https://gist.github.com/u/-/x.tgz", "other"),
    ("https://git.sr.ht/~u/r/-/x.tgz", "other"),
    ("https://registry.npmjs.org/a/-/../../b.tgz", "other"),
    ("https://registry.npmjs.org/a/-/%2E%2e/b.tgz", "other"),
    ("https:\\\\registry.npmjs.org/a/-/a-1.tgz", "other"),
    ("https://user@registry.npmjs.org/a/-/a-1.tgz", "other"),
    ("https://github.com/u/r/-/r-1.0.0.tgz", "registry"),
    ("https://gitlab.com/api/v4/projects/1/packages/npm/a/-/a-1.0.0.tgz", "registry"),
])
def test_resolved_read_as_pacote_fetches_it(project: Project, resolved: str,
                                            source: str) -> None:
    path = project.lockfile({"a": "1.0.0"})
    data = json.loads(path.read_text())
    data["packages"]["node_modules/a"]["resolved"] = resolved
    path.write_text(json.dumps(data))
    [dep] = lockfile.load(path).dependencies
    assert dep.source.value == source


def test_a_hosted_git_url_in_registry_shape_is_not_audited(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    """npm clones bitbucket.org/u/left-pad and never checks it against the integrity."""
    _setup(project, keys)
    _write(project, {"lockfileVersion": 3, "packages": {"": {}, "node_modules/left-pad": {
        **_entry("left-pad", "1.3.0"),
        "resolved": "https://bitbucket.org/u/left-pad/-/left-pad-1.3.0.tgz"}}})
    assert main(["check", "--format", "json"]) == 1
    assert _failing(capsys) == {("left-pad", "unverifiable")}


def test_keys_and_flags_read_as_arborist_reads_them(tmp_path: Path) -> None:
    """A backslash separates folders on Windows: such a key is a package there. ``link``
    and ``hasShrinkwrap`` are true to npm whenever JavaScript holds them true. npm never
    fetches a folder outside node_modules (diff.js), but one naming a tarball is none npm
    writes: it is judged all the same."""
    path = tmp_path / "package-lock.json"
    path.write_text(json.dumps({"lockfileVersion": 3, "packages": {
        "": {},
        "node_modules\\evil": _entry("evil", "1.0.0"),
        "node_modules/w": {"link": 1, "resolved": "packages/w"},
        "packages/w": {"version": "1.0.0"},
        "vendor/v": _entry("v", "1.0.0"),
        "node_modules/s": _entry("s", "1.0.0", hasShrinkwrap="yes"),
    }}))
    deps = {d.path: d for d in lockfile.load(path).dependencies}
    assert {p: d.source.value for p, d in deps.items()} == {
        "node_modules\\evil": "registry", "node_modules/w": "link", "packages/w": "link",
        "vendor/v": "registry", "node_modules/s": "registry"}
    assert deps["node_modules\\evil"].name == "evil"
    assert deps["node_modules/s"].has_shrinkwrap


@pytest.mark.skipif(NODE is None or not (NPM_LIB / "@npmcli/arborist").is_dir(),
                    reason="no npm's arborist")
@pytest.mark.parametrize("folder", ["v2-bundled", "npm-cli-v3-workspaces", "v1-tap-and-flow"])
def test_bundled_entries_are_those_arborist_takes_from_a_tarball(tmp_path: Path,
                                                                 folder: str) -> None:
    shutil.copy(DATA / "lockfiles" / folder / "package-lock.json", tmp_path)
    script = (f"const A=require('{NPM_LIB / '@npmcli/arborist'}');new A({{path:process.argv[1]}})"
              ".loadVirtual().then(t=>{const o={};for(const n of t.inventory.values()){"
              "if(!n.isLink&&n.location&&n.inDepBundle)o[n.location]=n.getBundler().location}"
              "console.log(JSON.stringify(o))})")
    proc = subprocess.run([str(NODE), "-e", script, str(tmp_path)], capture_output=True,
                          text=True, check=True)
    found = {d.path: d.bundled_in for d in lockfile.load(tmp_path / "package-lock.json")
             .dependencies if d.bundled_in}
    assert found == json.loads(proc.stdout)


def test_only_what_the_bundler_bundles_comes_in_its_tarball(tmp_path: Path) -> None:
    """npm reads bundleDependencies, not the inBundle flags: without it, npm fetches the
    entry from its own resolved; inside a package the project bundles, too."""
    packages = {"": {"bundleDependencies": ["top"]},
                "node_modules/p": _entry("p", "1.0.0", bundleDependencies=["x"]),
                "node_modules/p/node_modules/x": _entry("x", "1.0.0", inBundle=True),
                "node_modules/p/node_modules/x/node_modules/y": _entry("y", "1", inBundle=True),
                "node_modules/p/node_modules/z": _entry("z", "1.0.0", inBundle=True),
                "node_modules/top": _entry("top", "1.0.0", inBundle=True,
                                           bundleDependencies=["t"]),
                "node_modules/top/node_modules/t": _entry("t", "1.0.0", inBundle=True)}
    path = tmp_path / "package-lock.json"
    path.write_text(json.dumps({"lockfileVersion": 3, "packages": packages}))
    assert {d.path: d.bundled_in for d in lockfile.load(path).dependencies if d.bundled_in} == {
        "node_modules/p/node_modules/x": "node_modules/p",
        "node_modules/p/node_modules/x/node_modules/y": "node_modules/p"}


# 6. package.json in sync with the lockfile.

def _package_json(project: Project, deps: dict[str, str], folder: str = "",
                  **extra: Any) -> None:
    (project.root / folder).mkdir(parents=True, exist_ok=True)
    (project.root / folder / "package.json").write_text(
        json.dumps({"name": folder or "app", "version": "1.0.0", "dependencies": deps,
                    **extra}, indent=2))


def test_a_dependency_package_json_adds_is_out_of_sync(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    _setup(project, keys)
    lock = project.lockfile({"left-pad": "1.3.0"})
    data = json.loads(lock.read_text())
    data["packages"][""]["dependencies"] = {"left-pad": "^1.3.0"}
    lock.write_text(json.dumps(data, indent=2))
    _package_json(project, {"left-pad": "^1.3.0"})
    assert main(["check"]) == 0
    capsys.readouterr()
    _package_json(project, {"left-pad": "^1.3.0", "evil": "^1.0.0"})
    [x] = lockfile.load(lock).out_of_sync
    assert (x.name, x.spec, x.manifest.name, x.line) == ("evil", "^1.0.0", "package.json", 6)
    assert "npm install --package-lock-only" in x.problem
    assert main(["check", "--format", "json"]) == 1
    assert ("evil", "unverifiable") in _failing(capsys)


@pytest.mark.parametrize("deps", [["^1.0.0"], "^1.0.0"])
def test_dependencies_that_are_not_an_object_are_out_of_sync(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str],
        deps: object) -> None:
    """npm reads a package's dependencies with Object.entries: an array or a string there
    are dependencies named 0, 1, ... that npm install fetches unseen."""
    _setup(project, keys)
    lock = project.lockfile({"left-pad": "1.3.0"})
    data = json.loads(lock.read_text())
    data["packages"][""]["dependencies"] = {"left-pad": "^1.3.0"}
    data["packages"]["node_modules/left-pad"]["dependencies"] = deps
    lock.write_text(json.dumps(data, indent=2))
    _package_json(project, {"left-pad": "^1.3.0"})
    [x] = lockfile.load(lock).out_of_sync
    assert "node_modules/left-pad's dependencies is not an object" in x.problem
    assert main(["check"]) == 1


def test_a_workspace_package_json_and_a_new_workspace_are_held_against_the_lockfile(
        project: Project) -> None:
    lock = project.lockfile({"left-pad": "1.3.0"})
    data = json.loads(lock.read_text())
    data["packages"][""]["workspaces"] = ["packages/*"]
    data["packages"]["node_modules/a"] = {"resolved": "packages/a", "link": True}
    data["packages"]["packages/a"] = {"name": "a", "version": "1.0.0",
                                      "dependencies": {"left-pad": "^1.0.0"}}
    lock.write_text(json.dumps(data, indent=2))
    _package_json(project, {}, workspaces=["packages/*"])
    _package_json(project, {"left-pad": "^1.0.0"}, folder="packages/a")
    assert lockfile.load(lock).out_of_sync == []
    _package_json(project, {"left-pad": "^1.0.0", "sneaky": "2.0.0"}, folder="packages/a")
    _package_json(project, {}, folder="packages/b")
    found = {(x.name, x.manifest.relative_to(project.root).as_posix())
             for x in lockfile.load(lock).out_of_sync}
    assert found == {("sneaky", "packages/a/package.json"), ("packages/b", "package.json")}


@pytest.mark.parametrize(("spec", "problem"), [
    ("^1.3.0", None),
    ("1.3.0 || 2", None),
    ("^2.0.0", "the lockfile's left-pad@1.3.0 (node_modules/left-pad) does not satisfy ^2.0.0"),
    ("> 1.2", None),
    ("==1.3.0", "cannot tell whether the lockfile's left-pad@1.3.0"),
    ("github:left/pad", "cannot tell whether the lockfile's left-pad@1.3.0"),
])
def test_v1_declared_dependencies_must_be_met(project: Project, spec: str,
                                              problem: str | None) -> None:
    lock = _write(project, {"lockfileVersion": 1, "dependencies": {
        "left-pad": _entry("left-pad", "1.3.0")}})
    _package_json(project, {"left-pad": spec, "missing": "^1.0.0"})
    found = {x.name: x.problem for x in lockfile.load(lock).out_of_sync}
    assert "holds no entry" in found.pop("missing")
    assert (problem is None) == ("left-pad" not in found)
    if problem:
        assert problem in found["left-pad"]


@pytest.mark.parametrize(("spec", "resolved", "in_sync"), [
    ("file:vendor/lib-1.0.0.tgz", "file:vendor/lib-1.0.0.tgz", True),
    ("file:./vendor/../vendor/lib-1.0.0.tgz", "file:vendor/lib-1.0.0.tgz", True),
    ("file:vendor/lib-1.0.0.tgz", "file:vendor/other-1.0.0.tgz", False),
    ("file:vendor/lib-1.0.0.tgz", TGZ.format("lib", "1.0.0"), False),
    ("file:vendor/lib%2D1.0.0.tgz", "file:vendor/lib%2D1.0.0.tgz", False),  # escapes: unread
    ("file:/abs/lib-1.0.0.tgz", "file:/abs/lib-1.0.0.tgz", False),
    ("file:~/lib-1.0.0.tgz", "file:~/lib-1.0.0.tgz", False),
])
def test_a_tarball_on_disk_is_met_by_an_entry_from_that_very_file(
        project: Project, spec: str, resolved: str, in_sync: bool) -> None:
    """npm ci takes a lockfile entry for a file: tarball when it was resolved from the same
    file, the package.json's spec read from its own folder (dep-valid.js tarballValid)."""
    lock = _write(project, {"lockfileVersion": 3, "packages": {
        "": {"name": "app", "version": "1.0.0", "dependencies": {"lib": spec}},
        "node_modules/lib": {"version": "1.0.0", "resolved": resolved,
                             "integrity": fake_integrity("lib", "1.0.0")}}})
    _package_json(project, {"lib": spec})
    found = [x.problem for x in lockfile.load(lock).out_of_sync]
    assert (found == []) is in_sync, found


def test_a_workspace_s_tarball_on_disk_is_read_from_the_workspace_or_the_override(
        project: Project) -> None:
    """A workspace's file: spec is read from its folder; an override's, from the project's
    (arborist's from-path.js)."""
    entry = {"version": "1.0.0", "resolved": "file:packages/a/lib-1.0.0.tgz",
             "integrity": fake_integrity("lib", "1.0.0")}
    lock = _write(project, {"lockfileVersion": 3, "packages": {
        "": {"name": "app", "version": "1.0.0", "workspaces": ["packages/*"]},
        "node_modules/a": {"resolved": "packages/a", "link": True},
        "packages/a": {"name": "a", "version": "1.0.0",
                       "dependencies": {"lib": "file:lib-1.0.0.tgz"}},
        "node_modules/lib": entry}})
    _package_json(project, {}, workspaces=["packages/*"])
    _package_json(project, {"lib": "file:lib-1.0.0.tgz"}, folder="packages/a")
    assert lockfile.load(lock).out_of_sync == []
    # the project overrides lib with a tarball of its own folder: the entry is not from it
    _package_json(project, {}, workspaces=["packages/*"],
                  overrides={"lib": "file:lib-1.0.0.tgz"})
    [found] = lockfile.load(lock).out_of_sync
    assert "is not from the tarball file:lib-1.0.0.tgz" in found.problem


def test_without_package_json_nothing_is_compared_but_it_is_looked_for(project: Project) -> None:
    lock = project.lockfile({"left-pad": "1.3.0"})
    lf = lockfile.load(lock)
    assert lf.out_of_sync == []
    assert project.root / "package.json" in lf.read


def test_a_malformed_package_json_is_bad_input(project: Project, keys: dict[str, Key],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _setup(project, keys)
    project.lockfile({"left-pad": "1.3.0"})
    (project.root / "package.json").write_text('{\n  "dependencies": [\n')
    assert main(["check"]) == 2
    assert "package.json:3: not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize(("spec", "overrides", "problem"), [
    ("1.2.0", None, None),
    ("^2.0.0", None, "the lockfile's left-pad@1.2.0 (node_modules/left-pad) does not satisfy"),
    ("1.2.0", {"left-pad": "1.4.0"}, "does not satisfy 1.4.0"),
    ("1.2.0", {"uses-old-lp": {"left-pad": "1.4.0"}}, "cannot tell how package.json's overrides"),
])
def test_each_locked_dependency_must_be_met(project: Project, spec: str, overrides: Any,
                                            problem: str | None) -> None:
    """npm install fetches afresh whatever a locked package depends on and the lockfile
    does not meet, overrides applied (npm ci refuses such a lockfile)."""
    lock = _write(project, {"lockfileVersion": 3, "packages": {
        "": {"dependencies": {"uses-old-lp": "1.0.0"}},
        "node_modules/uses-old-lp": _entry("uses-old-lp", "1.0.0",
                                           dependencies={"left-pad": spec}),
        "node_modules/left-pad": _entry("left-pad", "1.2.0")}})
    extra = {"overrides": overrides} if overrides else {}
    _package_json(project, {"uses-old-lp": "1.0.0"}, **extra)
    found = [x.problem for x in lockfile.load(lock).out_of_sync]
    assert (found == []) == (problem is None)
    if problem:
        [text] = found
        assert problem in text


# 7. Peer dependencies: edges npm installs from (arborist's node.js, edge.js).

PEERS: dict[str, tuple[dict[str, Any], dict[str, Any], str | None]] = {
    # peerDependenciesMeta, entries besides left-pad's, the problem (None: in sync)
    "missing": ({}, {}, "nothing in the lockfile meets it"),
    "missing, optional": ({"host": {"optional": True}}, {}, None),
    "missing, meta of another shape": ({"host": "optional"}, {}, "nothing in the lockfile"),
    "met": ({}, {"node_modules/host": _entry("host", "1.2.0")}, None),
    "unmet": ({}, {"node_modules/host": _entry("host", "2.0.0")}, "does not satisfy ^1.0.0"),
    "unmet, optional": ({"host": {"optional": True}},
                        {"node_modules/host": _entry("host", "2.0.0")}, "does not satisfy"),
    "in its own node_modules": ({}, {"node_modules/left-pad/node_modules/host":
                                     _entry("host", "1.0.0")}, "own node_modules"),
}
# a dependency of the same name replaces the peer's edge (npm's own lockfile has one)
ALSO_DEPENDENCY = {"dependencies": {"host": "^1.0.0"}}


def _peer_lock(project: Project, meta: dict[str, Any], entries: dict[str, Any],
               **extra: Any) -> Path:
    _package_json(project, {"left-pad": "^1.3.0"})
    return _write(project, {"name": "app", "lockfileVersion": 3, "packages": {
        "": {"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}},
        "node_modules/left-pad": _entry("left-pad", "1.3.0", peerDependencies={
            "host": "^1.0.0"}, **({"peerDependenciesMeta": meta} if meta else {}), **extra),
        **entries}})


@pytest.mark.parametrize("case", PEERS)
def test_a_peer_is_an_edge_npm_installs_from(project: Project, case: str) -> None:
    """npm install fetches a peer the lockfile does not meet, unless it is optional and
    missing (the differential cases peer-missing-* show npm doing it)."""
    meta, entries, problem = PEERS[case]
    found = [x.problem for x in lockfile.load(_peer_lock(project, meta, entries)).out_of_sync]
    if problem is None:
        assert found == []
    else:
        [x] = found
        assert problem in x and "node_modules/left-pad depends on host@^1.0.0" in x
        assert x.endswith("say so in its .npmrc: legacy-peer-deps=true)")


def test_a_peer_that_is_also_a_dependency_is_judged_as_the_dependency(
        project: Project) -> None:
    """In its own node_modules, as npm's own lockfile has ajv under ajv-formats: the
    dependency's edge is the one npm keeps, and it is met."""
    lock = _peer_lock(project, {}, {"node_modules/left-pad/node_modules/host":
                                    _entry("host", "1.0.0")}, **ALSO_DEPENDENCY)
    assert lockfile.load(lock).out_of_sync == []


@pytest.mark.parametrize(("npmrc", "env", "judged"), [
    ("legacy-peer-deps=true\n", {}, False),
    ('legacy-peer-deps = "true"\n', {}, False),
    ("legacy-peer-deps=false\n", {}, True),
    ("legacy-peer-deps\n", {}, True),  # not plainly true: peers are judged
    ("legacy-peer-deps=true\n", {"NPM_CONFIG_LEGACY_PEER_DEPS": "false"}, True),
    ("legacy-peer-deps=true\n", {"npm_config_legacy_peer_deps": "true"}, False),
    ("legacy-peer-deps=true\n", {"Npm_Config_Legacy_Peer_Deps": "TRUE"}, False),
    ("legacy-peer-deps=true\n", {"npm_config_legacy-peer-deps": "false"}, True),
    ("legacy-peer-deps=true\n", {"npm_config_legacy_peer_deps": ""}, False),  # npm skips it
    # the environment is the committer's, not where npm installs: it cannot turn peers off
    ("", {"npm_config_legacy_peer_deps": "true"}, True),
    # lines npm reads otherwise than as legacy-peer-deps=true (its ini): peers are judged
    ("[x]\nlegacy-peer-deps=true\n", {}, True),
    ('legacy-peer-deps=true\n"legacy-peer-deps"=false\n', {}, True),
    ("x=1\u2028legacy-peer-deps=true\n", {}, True),
    ("\x1flegacy-peer-deps=true\n", {}, True),
    ("legacy-peer-deps=true\n\ufefflegacy-peer-deps=false\n", {}, True),
    ("legacy-peer-deps=true\n'legacy-peer-deps'=0\n", {}, True),
    ("# legacy-peer-deps=false\nlegacy-peer-deps=true\n", {}, False),
    ("registry=https://r.example/legacy-peer-deps/\nlegacy-peer-deps=true\n", {}, False),
])
def test_legacy_peer_deps_leaves_peers_out(project: Project, monkeypatch: pytest.MonkeyPatch,
                                           npmrc: str, env: dict[str, str], judged: bool
                                           ) -> None:
    """With legacy-peer-deps npm installs no peer: the project's .npmrc, or the
    environment, which overrides it, must plainly say so."""
    for var in list(os.environ):
        if var.lower().replace("-", "_") == "npm_config_legacy_peer_deps":
            monkeypatch.delenv(var)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    (project.root / ".npmrc").write_text(npmrc)
    out = lockfile.load(_peer_lock(project, {}, {})).out_of_sync
    assert bool(out) is judged


def test_legacy_peer_deps_leaves_the_projects_own_peers_out(project: Project) -> None:
    """npm installs none of the project's own peers either (the lockfile it writes has
    none): package.json's peerDependencies are not asked of the lockfile then."""
    lock = _peer_lock(project, {}, {"node_modules/host": _entry("host", "1.0.0")})
    data = json.loads(lock.read_text())
    data["packages"][""]["peerDependencies"] = {"react": "^18.0.0"}  # as npm records it
    lock.write_text(json.dumps(data))
    _package_json(project, {"left-pad": "^1.3.0"}, peerDependencies={"react": "^18.0.0"})
    assert [x.name for x in lockfile.load(lock).out_of_sync] == ["react"]
    (project.root / ".npmrc").write_text("legacy-peer-deps=true\n")
    assert lockfile.load(lock).out_of_sync == []


def test_a_kept_result_holds_only_under_the_same_peer_settings(
        project: Project, keys: dict[str, Key], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A passing check is kept; the next one is answered from it only while the settings
    that left a peer out are the same (the environment, the project's .npmrc)."""
    _setup(project, keys)
    _peer_lock(project, {}, {})
    (project.root / ".npmrc").write_text("legacy-peer-deps=true\n")
    assert main(["check"]) == 0
    monkeypatch.setenv("npm_config_legacy_peer_deps", "false")
    assert main(["check"]) == 1
    monkeypatch.delenv("npm_config_legacy_peer_deps")
    assert main(["check"]) == 0
    (project.root / ".npmrc").write_text("legacy-peer-deps=false\n")
    assert main(["check"]) == 1
    capsys.readouterr()
