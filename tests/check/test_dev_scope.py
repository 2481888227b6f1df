"""Development scope: which lockfile entries only development needs (npm's "dev" flag,
held against the lockfile's own production edges), and the policy's minimum for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from package_trust.check import lockfile
from package_trust.check.policy import parse
from package_trust.errors import PolicyError
from support import DATA, fake_integrity

FPR = "A" * 40
FPR2 = "B" * 40


def entry(name: str, version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    return {"version": version, "resolved": f"https://registry.npmjs.org/{name}/-/{name}-"
            f"{version}.tgz", "integrity": fake_integrity(name, version), **extra}


def dev_names(tmp_path: Path, packages: dict[str, Any], manifest: dict[str, Any] | None = None,
              version: int = 3) -> set[str]:
    root = packages.get("", {"name": "demo", "version": "1.0.0"})
    data = {"name": "demo", "version": "1.0.0", "lockfileVersion": version,
            "packages": {"": root, **packages}}
    (tmp_path / "package-lock.json").write_text(json.dumps(data, indent=2))
    if manifest is not None:
        (tmp_path / "package.json").write_text(json.dumps(manifest))
    return {d.path for d in lockfile.load(tmp_path / "package-lock.json").dependencies if d.dev}


def test_dev_only_entries_are_development(tmp_path: Path) -> None:
    root = {"name": "demo", "dependencies": {"a": "1.0.0"}, "devDependencies": {"t": "1.0.0"}}
    assert dev_names(tmp_path, {
        "": root,
        "node_modules/a": entry("a", dependencies={"shared": "1.0.0"}),
        "node_modules/shared": entry("shared"),
        "node_modules/t": entry("t", dev=True, dependencies={"u": "1.0.0"}),
        "node_modules/u": entry("u", dev=True),
        "node_modules/both": entry("both", devOptional=True),
    }) == {"node_modules/t", "node_modules/u"}


def test_a_production_package_marked_dev_stays_production(tmp_path: Path) -> None:
    """A hostile lockfile marks what production reaches dev, to lower what it needs."""
    root = {"name": "demo", "dependencies": {"a": "1.0.0"}, "devDependencies": {"t": "1.0.0"}}
    assert dev_names(tmp_path, {
        "": root,
        "node_modules/a": entry("a", dev=True, dependencies={"b": "1.0.0"}),
        "node_modules/a/node_modules/b": entry("b", dev=True),
        "node_modules/t": entry("t", dev=True),
    }) == {"node_modules/t"}


def test_package_json_production_dependencies_count_too(tmp_path: Path) -> None:
    manifest = {"name": "demo", "version": "1.0.0", "dependencies": {"a": "1.0.0"}}
    assert dev_names(tmp_path, {"": {"name": "demo"},
                                "node_modules/a": entry("a", dev=True)}, manifest) == set()


def test_a_workspace_production_dependency_is_production(tmp_path: Path) -> None:
    assert dev_names(tmp_path, {
        "": {"name": "demo", "workspaces": ["w"]},
        "w": {"name": "w", "version": "1.0.0", "dependencies": {"a": "1.0.0"},
              "devDependencies": {"t": "1.0.0"}},
        "node_modules/w": {"resolved": "w", "link": True},
        "node_modules/a": entry("a", dev=True),
        "node_modules/t": entry("t", dev=True),
    }) == {"node_modules/t"}


def test_unreadable_dependencies_make_everything_production(tmp_path: Path) -> None:
    assert dev_names(tmp_path, {
        "": {"name": "demo", "dependencies": ["a"]},
        "node_modules/t": entry("t", dev=True)}) == set()
    assert dev_names(tmp_path, {
        "": {"name": "demo"},
        "node_modules/a": entry("a", dependencies="t"),
        "node_modules/t": entry("t", dev=True)}) == set()


def test_version_1_lockfiles_read_dev_with_package_json(tmp_path: Path) -> None:
    text = (DATA / "lockfiles/v1-dev-deps/package-lock.json").read_text()
    (tmp_path / "package-lock.json").write_text(text)
    path = tmp_path / "package-lock.json"
    assert not any(d.dev for d in lockfile.load(path).dependencies)  # no package.json: prod
    (tmp_path / "package.json").write_text(json.dumps({
        "name": "dev-deps", "version": "1.0.0", "dependencies": {"once": "^1.4.0"},
        "optionalDependencies": {"inflight": "^1.0.6"},
        "devDependencies": {"tcompare": "^4.0.1", "diff-frag": "^1.0.1"}}))
    assert {d.name for d in lockfile.load(path).dependencies if d.dev} == {"tcompare",
                                                                          "diff-frag"}


def test_real_lockfiles_agree_with_npm_flags() -> None:
    for folder in ("npm-cli-v3-workspaces", "large-install-v3-aliases", "v2-bundled"):
        path = DATA / "lockfiles" / folder / "package-lock.json"
        packages = json.loads(path.read_text())["packages"]
        marked = {k for k, e in packages.items() if e.get("dev") and not e.get("devOptional")}
        found = {d.path for d in lockfile.load(path).dependencies if d.dev}
        assert found == marked and found, folder


POLICY = f"""minimum-signatures:
  production: 2
  development: 1
trusted-keys:
  - fingerprint: {FPR}
  - fingerprint: {FPR2}
"""


def test_the_minimum_for_each_scope() -> None:
    p = parse(Path("trust-policy.yml"), POLICY)
    assert (p.minimum_signatures, p.minimum_for(dev=False), p.minimum_for(dev=True)) == (2, 2, 1)
    plain = parse(Path("trust-policy.yml"), POLICY.replace(
        "\n  production: 2\n  development: 1", " 2"))
    assert (plain.minimum_for(dev=False), plain.minimum_for(dev=True)) == (2, 2)
    only = parse(Path("trust-policy.yml"), POLICY.replace("  development: 1\n", ""))
    assert only.minimum_for(dev=True) == 2


@pytest.mark.parametrize(("text", "line", "message"), [
    (POLICY.replace("production: 2", "production: 3"), 2,
     "minimum-signatures.production is 3 but only 2 keys are trusted"),
    (POLICY.replace("development: 1", "development: 0"), 3,
     "minimum-signatures.development must be a whole number of at least 1"),
    (POLICY.replace("  production: 2\n", ""), 2, "minimum-signatures is missing production"),
    (POLICY.replace("development", "dev"), 3,
     "unknown key 'dev' in minimum-signatures (allowed: development, production)"),
    (POLICY.replace("  production: 2\n  development: 1", "  - 1"), 2,
     "minimum-signatures must be a whole number of at least 1"),
])
def test_a_bad_minimum_names_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(PolicyError) as e:
        parse(Path("trust-policy.yml"), text)
    assert str(e.value).startswith(f"trust-policy.yml:{line}: {message}")
