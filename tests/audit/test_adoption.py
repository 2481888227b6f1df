"""Adopting package-trust on an existing project: ``init`` baselines what nobody audited,
``suggest`` ranks the reviews that retire the baseline, ``sign --delta-from`` signs one,
``exemptions prune`` removes what is no longer needed. A lockfile made by the real npm
against a local registry, real gpg, the commands as a user runs them."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from npm_harness import NPM, Trap, npm
from npm_registry import NpmRegistry, package_tgz
from package_trust.check import lockfile
from package_trust.cli import main
from registry_server import LEFT_PAD_INDEX
from support import DATA, REPO, Auditors, Key, Project, integrity_of

needs_npm = pytest.mark.skipif(NPM is None, reason="npm is not installed")
pytestmark = needs_npm

IS_ODD = b"".join(f"exports.check{i} = (n) => n % 2 === {i % 2};\n".encode()
                  for i in range(400))
MANIFEST = {"name": "demo", "version": "1.0.0",
            "dependencies": {"left-pad": "^1.3.1", "is-odd": "1.0.0"},
            "devDependencies": {"tap-lite": "1.0.0"}}


def publish(registry: NpmRegistry, name: str, version: str, files: dict[str, bytes],
            **manifest: object) -> bytes:
    body = {"name": name, "version": version, **manifest}
    tarball = package_tgz(body, files)
    registry.publish_package(tarball, body)
    return tarball


@dataclass
class World:
    """A registry with a few packages, and the lockfile npm made for a project using them."""

    registry: NpmRegistry
    url: str  # what package-trust's commands use
    lock: bytes
    tarballs: dict[str, bytes]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    registry = NpmRegistry()
    tarballs = {
        "left-pad@1.3.0": publish(registry, "left-pad", "1.3.0", {"index.js": LEFT_PAD_INDEX}),
        "left-pad@1.3.1": publish(registry, "left-pad", "1.3.1", {
            "index.js": LEFT_PAD_INDEX.replace(b"str = str + '';", b"str = String(str);")}),
        "is-odd@1.0.0": publish(registry, "is-odd", "1.0.0", {"index.js": IS_ODD}),
        "tap-lite@1.0.0": publish(registry, "tap-lite", "1.0.0", {"index.js": b"ok()\n"},
                                  dependencies={"diff-lite": "1.0.0"}),
        "diff-lite@1.0.0": publish(registry, "diff-lite", "1.0.0", {"index.js": b"diff()\n"}),
    }
    work = tmp_path_factory.mktemp("adoption-npm")
    project = work / "project"
    project.mkdir()
    (project / "package.json").write_text(json.dumps(MANIFEST, indent=2) + "\n")
    trap = Trap()
    try:
        code, output = npm(project, work / "npm", registry.client_url("npm"),
                           ["install", "--package-lock-only"], trap)
    finally:
        trap.close()
    assert code == 0, output
    yield World(registry, registry.client_url("package-trust"),
                (project / "package-lock.json").read_bytes(), tarballs)
    registry.close()


@pytest.fixture
def adopting(project: Project, world: World, auditors: Auditors,
             monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project, its package.json and npm's lockfile; the reviewers' GnuPG as the
    user's; package-trust's commands talk to the local registry."""
    (project.root / "package.json").write_text(json.dumps(MANIFEST, indent=2) + "\n")
    (project.root / "package-lock.json").write_bytes(world.lock)
    shutil.rmtree(project.root / "keys")
    shutil.rmtree(project.root / "signatures")
    monkeypatch.setenv("GNUPGHOME", auditors.home)
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", world.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    (project.root / ".npmrc").write_text(f"registry={world.registry.client_url('npm')}\n")
    return project


def policy_text(project: Project) -> str:
    return (project.root / "trust-policy.yml").read_text()


def exempted(project: Project) -> list[str]:
    return re.findall(r"^  - package: (.*)$", policy_text(project), re.M)


def test_init_baselines_an_npm_made_lockfile_then_check_passes(
        adopting: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    assert main(["check"]) == 2  # no policy yet
    capsys.readouterr()
    assert main(["init", "--trust", alice.fingerprint]) == 0
    out = capsys.readouterr().out
    assert f"wrote keys/{alice.fingerprint}.asc: {alice.fingerprint} Alice" in out
    assert "4 packages: 0 audited by trusted keys, 0 exempt already, 4 exemptions added" in out
    assert "package-trust check now passes" in out
    assert exempted(adopting) == ["diff-lite@1.0.0", "is-odd@1.0.0", "left-pad@1.3.1",
                                  "tap-lite@1.0.0"]
    text = policy_text(adopting)
    assert "minimum-signatures: 1\ntrusted-keys:\n" in text
    assert text.count("reason: baseline at adoption, ") == 4
    assert (adopting.root / "signatures").is_dir()
    assert main(["check"]) == 0
    deps = lockfile.load(adopting.root / "package-lock.json").dependencies
    assert {d.name for d in deps if d.dev} == {"tap-lite", "diff-lite"}  # npm's dev flags


def test_init_again_adds_only_what_is_missing_and_changes_nothing_else(
        adopting: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--trust", keys["alice"].fingerprint]) == 0
    first = policy_text(adopting)
    assert main(["init"]) == 0
    assert "trust-policy.yml: nothing to add, left as it was" in capsys.readouterr().out
    assert policy_text(adopting) == first
    lock = json.loads((adopting.root / "package-lock.json").read_text())
    entry = dict(lock["packages"]["node_modules/left-pad"])
    lock["packages"]["node_modules/left-pad"] = {**entry, "version": "1.3.0",
                                                 "integrity": integrity_of(b"other")}
    dependencies = {"left-pad": "1.3.0", "is-odd": "1.0.0"}
    lock["packages"][""]["dependencies"] = dependencies
    (adopting.root / "package-lock.json").write_text(json.dumps(lock, indent=2))
    (adopting.root / "package.json").write_text(json.dumps(
        {**MANIFEST, "dependencies": dependencies}))
    assert main(["init"]) == 0
    added = policy_text(adopting)
    assert added.startswith(first)
    assert added[len(first):] == (
        "  - package: left-pad@1.3.0\n"
        f"    reason: baseline at adoption, {time.strftime('%Y-%m-%d')}\n"
        f"    integrity: {integrity_of(b'other')}\n"
        f"    expires: {re.findall(r'expires: (.*)', first)[0]}\n")


def test_init_keeps_an_existing_policy_with_its_comments(
        adopting: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    adopting.root.joinpath("keys").mkdir()
    adopting.root.joinpath("signatures").mkdir()
    adopting.add_key(keys["alice"])
    adopting.add_key(keys["bob"])
    text = (f"# ours\nminimum-signatures: 1  # for now\ntrusted-keys:\n"
            f"  - fingerprint: {keys['alice'].fingerprint}  # Alice\n"
            "exemptions:\n  - package: is-odd  # any version\n    reason: tiny\n")
    (adopting.root / "trust-policy.yml").write_text(text)
    assert main(["init", "--trust", keys["bob"].fingerprint]) == 0
    after = policy_text(adopting)
    assert after.startswith(
        f"# ours\nminimum-signatures: 1  # for now\ntrusted-keys:\n"
        f"  - fingerprint: {keys['alice'].fingerprint}  # Alice\n"
        f"  - fingerprint: {keys['bob'].fingerprint}\n    name: \"Bob <bob@example.org>\"\n"
        "exemptions:\n  - package: is-odd  # any version\n    reason: tiny\n"
        "  - package: diff-lite@1.0.0\n")
    assert "is-odd@1.0.0" not in after  # exempt already
    assert main(["init", "--minimum", "2"]) == 2
    assert "init changes nothing but exemptions and trusted keys" in capsys.readouterr().err


def test_init_needs_a_key_it_can_find(adopting: Project, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 2
    assert "a new policy needs a trusted key: --trust FINGERPRINT" in capsys.readouterr().err
    assert main(["init", "--trust", "A" * 40]) == 2
    assert f"key {'A' * 40} is neither in keys nor usable from your GnuPG" in \
        capsys.readouterr().err
    assert not (adopting.root / "trust-policy.yml").exists()


def test_init_follows_no_link_in_keys(adopting: Project, auditors: Auditors,
                                      keys: dict[str, Key], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """keys/ is read as the check reads it: a key file that is a link to a file outside
    the ledger is not read, and the policy is not written."""
    alice = keys["alice"]
    outside = tmp_path / "outside.asc"
    outside.write_bytes(auditors.export(alice))
    (adopting.root / "keys").mkdir()
    (adopting.root / "keys" / f"{alice.fingerprint}.asc").symlink_to(outside)
    assert main(["init", "--trust", alice.fingerprint]) == 2
    err = capsys.readouterr().err
    assert f"does not hold the key {alice.fingerprint} (is a link; not followed)" in err
    assert not (adopting.root / "trust-policy.yml").exists()


def test_init_on_a_large_lockfile_takes_seconds(
        project: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(DATA / "lockfiles/large-install-v3-aliases/package-lock.json", project.root)
    project.add_key(keys["alice"])
    started = time.monotonic()
    assert main(["init", "--trust", keys["alice"].fingerprint]) == 0
    took = time.monotonic() - started
    assert "1178 packages: 0 audited by trusted keys, 0 exempt already, 1178 exemptions " \
           "added" in capsys.readouterr().out
    assert took < 20, f"init took {took:.1f} s"
    assert main(["check"]) == 0


def sign(args: str, key: Key) -> int:
    return main(["sign", *shlex.split(args), "--key", key.fingerprint])


def test_signing_some_packages_then_prune_removes_exactly_their_exemptions(
        adopting: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    assert main(["init", "--trust", alice.fingerprint]) == 0
    policy = adopting.root / "trust-policy.yml"
    policy.write_text("# kept\n" + policy_text(adopting).replace(
        "  - package: is-odd@1.0.0\n", "  # the odd one\n  - package: is-odd@1.0.0\n"))
    before = policy_text(adopting)
    assert main(["exemptions", "prune"]) == 0
    assert "nothing to prune" in capsys.readouterr().out
    assert sign("is-odd@1.0.0", alice) == 0
    assert sign("tap-lite@1.0.0", alice) == 0
    capsys.readouterr()
    assert main(["exemptions", "prune", "--check"]) == 1
    out = capsys.readouterr().out
    assert "would remove 2 exemptions from trust-policy.yml:" in out
    assert re.search(r"is-odd@1.0.0 \(line \d+\): now audited", out)
    assert policy_text(adopting) == before
    assert main(["exemptions", "prune"]) == 0
    assert "removed 2 exemptions" in capsys.readouterr().out
    after = policy_text(adopting)
    assert after.startswith("# kept\n") and "  # the odd one\n" in after
    assert sorted(exempted(adopting)) == ["diff-lite@1.0.0", "left-pad@1.3.1"]
    assert after == re.sub(r"  - package: (is-odd|tap-lite)@1.0.0\n(    .*\n)+", "", before)
    assert main(["check"]) == 0
    # a package gone from the lockfile
    lock = json.loads((adopting.root / "package-lock.json").read_text())
    del lock["packages"]["node_modules/diff-lite"]
    lock["packages"]["node_modules/tap-lite"].pop("dependencies")
    (adopting.root / "package-lock.json").write_text(json.dumps(lock, indent=2))
    assert main(["exemptions", "prune"]) == 0
    assert "diff-lite@1.0.0 (line" in capsys.readouterr().out
    assert exempted(adopting) == ["left-pad@1.3.1"]


def test_suggest_ranks_a_small_delta_above_a_large_full_audit(
        adopting: Project, keys: dict[str, Key], world: World,
        capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    assert main(["init", "--trust", alice.fingerprint]) == 0
    assert sign("left-pad@1.3.0", alice) == 0  # audited before, no longer locked
    assert sign("tap-lite@1.0.0", alice) == 0
    capsys.readouterr()
    assert main(["suggest"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "4 lines: left-pad@1.3.1 (exempt): delta from 1.3.0 (+2 -2)"
    assert out[1:3] == ["    package-trust inspect left-pad@1.3.1 --diff-from 1.3.0",
                        "    package-trust sign left-pad@1.3.1 --delta-from 1.3.0 "
                        "--key YOUR-FINGERPRINT"]
    assert out[3] == "5 lines: diff-lite@1.0.0 (exempt): full audit"
    assert out[6] == "404 lines: is-odd@1.0.0 (exempt): full audit"
    assert out[-1] == "audit backlog: 413 lines (3 packages)"
    assert main(["suggest", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    reviews = report["reviews"]
    assert [(r["package"], r["review"], r["from"]) for r in reviews] == [
        ("left-pad", "delta", "1.3.0"), ("diff-lite", "full", None), ("is-odd", "full", None)]
    assert report["backlog"] == {"lines": sum(r["lines"] for r in reviews), "packages": 3}
    assert reviews[0]["full_lines"] > reviews[0]["lines"]
    kept = list((adopting.root.parent / "cache/package-trust/tarballs").glob("*.tgz"))
    assert len(kept) == 4  # the three reviewed, and left-pad 1.3.0
    # the check's HTML report with the backlog in it: the same reviews, smallest first
    assert main(["suggest", "--report", "html=backlog.html"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "audit backlog: 413 lines (3 packages)"
    page = (adopting.root / "backlog.html").read_text()
    data = json.loads(re.findall(r'id="report-data">(.*?)</script>', page, flags=re.S)[0])
    assert [(x["package"], x["from"], x["lines"]) for x in data["backlog"]["items"]] == [
        (f"{r['package']}@{r['version']}", r["from"], r["lines"]) for r in reviews]
    assert data["backlog"]["items"][0]["command"] == (
        "package-trust inspect left-pad@1.3.1 --diff-from 1.3.0")
    assert data["backlog"]["lines"] == 413
    assert main(["suggest", "--report", "json=backlog.json"]) == 2
    assert "expected html=PATH" in capsys.readouterr().err


def test_sign_delta_from_binds_both_tarballs(
        adopting: Project, keys: dict[str, Key], world: World,
        capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    assert main(["init", "--trust", alice.fingerprint]) == 0
    assert sign("left-pad@1.3.1 --delta-from 1.3.0", alice) == 0
    assert "signed left-pad@1.3.1 (audited, a delta from 1.3.0) as Alice" in \
        capsys.readouterr().out
    path = adopting.root / f"signatures/left-pad/1.3.1/{alice.fingerprint}.sig"
    body = json.loads(next(x for x in path.read_text().splitlines() if x.startswith("{")))
    assert body["hash"]["sha512"] == integrity_of(world.tarballs["left-pad@1.3.1"])[7:]
    assert body["from"] == {"version": "1.3.0", "hash": {
        "sha512": integrity_of(world.tarballs["left-pad@1.3.0"])[7:]}}
    assert sign("left-pad@1.3.1 --delta-from 1.3.1 --force", alice) == 2
    assert "--delta-from '1.3.1' is not another plain version" in capsys.readouterr().err


def walkthrough() -> list[str]:
    """The commands of the README's adoption walk-through, in order."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Adopting package-trust on an existing project", 1)[1]
    section = section.split("\n## ", 1)[0]
    return [line[2:] for line in re.findall(r"^\$ .*$", section, re.M)]


def test_the_readme_walkthrough_runs_as_written(
        adopting: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    alice = keys["alice"]
    # before adoption, someone on the team had audited left-pad 1.3.0 into the ledger
    adopting.root.joinpath("keys").mkdir()
    adopting.add_key(alice)
    assert sign("left-pad@1.3.0", alice) == 0
    capsys.readouterr()
    commands = walkthrough()
    assert commands[0].startswith("package-trust init --trust")
    for command in commands:
        args = shlex.split(command.replace("$KEY", alice.fingerprint))[1:]
        expected = 1 if "--check" in args and "prune" in args else 0
        assert main(args) == expected, command
    assert "left-pad@1.3.1" not in exempted(adopting)
    assert main(["check"]) == 0


def test_init_does_not_renew_an_expired_exemption(
        adopting: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--trust", keys["alice"].fingerprint]) == 0
    policy = adopting.root / "trust-policy.yml"
    policy.write_text(re.sub(r"(package: is-odd@1.0.0\n(?:    .*\n)*?    expires: ).*",
                             r"\g<1>2020-01-01", policy_text(adopting)))
    before = policy_text(adopting)
    capsys.readouterr()
    assert main(["init"]) == 1
    out = capsys.readouterr().out
    assert "package-trust check still fails on 1 package, which init does not exempt:" in out
    assert "is-odd@1.0.0 (unaudited): 0 of 1 required signatures; no signed statement in " \
           "the ledger; exemption expired on 2020-01-01" in out
    assert policy_text(adopting) == before


def test_suggest_names_what_it_could_not_size(
        adopting: Project, keys: dict[str, Key], capsys: pytest.CaptureFixture[str]) -> None:
    lock = json.loads((adopting.root / "package-lock.json").read_text())
    lock["packages"]["node_modules/is-odd"]["integrity"] = integrity_of(b"not the registry's")
    (adopting.root / "package-lock.json").write_text(json.dumps(lock, indent=2))
    assert main(["init", "--trust", keys["alice"].fingerprint]) == 0
    capsys.readouterr()
    assert main(["suggest"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == [
        "could not size 1 package:",
        "    is-odd@1.0.0: the registry serves another tarball than the lockfile's (its "
        "integrity differs)",
        "audit backlog: 33 lines (3 packages)"]
