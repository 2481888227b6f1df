"""An auditor clears a blocked project in two commands: ``fetch`` and ``sign`` take several
NAME@VERSION, or ``--lockfile FILE --failing``, and end with one summary. Fetched packages
go to the user's cache folder, never into the project."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from npm_registry import NpmRegistry
from npm_world import needs_npm, npm_lock, publish_world
from package_trust.cli import main
from support import Auditors, GpgLog, Key, Project

CapSys = pytest.CaptureFixture[str]
pytestmark = needs_npm


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, auditors: Auditors) -> Iterator[NpmRegistry]:
    """The registry npm locked from, which fetch and sign ask too; the auditors' GnuPG as
    the user's."""
    with NpmRegistry() as registry:
        publish_world(registry)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("NPM_CONFIG_REGISTRY", registry.client_url("auditor"))
        monkeypatch.delenv("npm_config_registry", raising=False)
        monkeypatch.setenv("GNUPGHOME", auditors.home)
        yield registry


@pytest.fixture
def blocked(project: Project, keys: dict[str, Key], world: NpmRegistry,
            tmp_path: Path) -> Project:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    npm_lock(project.root, world, tmp_path / "npm", {"express": "4.0.0",
                                                      "pad": "npm:left-pad@1.3.0"})
    return project


def test_fetch_then_sign_every_failing_package(blocked: Project, keys: dict[str, Key],
                                               gpg_log: GpgLog, capsys: CapSys) -> None:
    assert main(["check"]) == 1
    capsys.readouterr()
    assert main(["fetch", "--lockfile", "package-lock.json", "--failing"]) == 0
    out = capsys.readouterr().out
    folder = blocked.fetched
    assert f"fetched 6 of 6 package(s) into {folder}" in out
    assert "fetched ms@0.7.0 from " in out and "fetched left-pad@1.3.0 from " in out
    assert (folder / "ms/0.7.0/index.js").is_file()
    assert not (blocked.root / "packages").exists()  # nothing left in the project

    alice = keys["alice"].fingerprint
    gpg_log.take()
    assert main(["sign", "--lockfile", "package-lock.json", "--failing", "--key", alice,
                 "--notes", "read in full"]) == 0
    out = capsys.readouterr().out
    # one isolated keyring checks every new statement: the ledger's keys imported once
    assert len([line for line in gpg_log.take()
                if " --import " in f" {line} " and "show-only" not in line]) == 1
    assert "signed 6 of 6 package(s) as Alice <alice@example.org>" in out
    assert out.count("it verifies in an isolated keyring") == 6
    assert "next: commit the statement" in out
    assert main(["check"]) == 0
    capsys.readouterr()

    # Nothing fails any more: nothing to sign; a second run signs nothing twice.
    assert main(["sign", "--failing", "--key", alice]) == 0
    assert "signed 0 of 0 package(s)" in capsys.readouterr().out
    assert main(["sign", "express@4.0.0", "send@0.1.0", "--key", alice]) == 0
    out = capsys.readouterr().out
    assert "already signed by you (--force replaces) (2): express@4.0.0, send@0.1.0" in out


def test_several_named_and_one_that_fails(blocked: Project, keys: dict[str, Key],
                                          capsys: CapSys) -> None:
    code = main(["fetch", "ms@2.0.0", "ms@9.9.9", "debug@1.0.0"])
    out = capsys.readouterr().out
    assert code == 2  # one could not be fetched: the others were
    assert "not fetched (1): ms@9.9.9: ms@9.9.9 does not exist in the registry" in out
    assert "fetched 2 of 3 package(s)" in out
    assert (blocked.fetched / "debug/1.0.0.tgz").is_file()
    alice = keys["alice"].fingerprint
    assert main(["sign", "ms@2.0.0", "ms@9.9.9", "--key", alice]) == 2
    out = capsys.readouterr().out
    assert "signed 1 of 2 package(s)" in out and "not signed (1): ms@9.9.9" in out
    statements = list((blocked.root / "signatures").rglob("*.sig"))
    assert [p.relative_to(blocked.root).parts[1:3] for p in statements] == [("ms", "2.0.0")]


def test_failing_leaves_out_what_no_audit_fixes(blocked: Project, keys: dict[str, Key],
                                                capsys: CapSys) -> None:
    lock = json.loads((blocked.root / "package-lock.json").read_text())
    blocked.sign(keys["alice"], "debug", "1.0.0", lock["packages"]["node_modules/debug"][
        "integrity"], verdict="rejected")
    assert main(["fetch", "--failing", "--dest", "reviews"]) == 0
    out = capsys.readouterr().out
    assert "fetched 5 of 5 package(s) into reviews" in out
    assert "left out: no audit fixes them (1): debug@1.0.0: rejected" in out
    assert (blocked.root / "reviews/express/4.0.0/index.js").is_file()


def test_failing_judges_from_the_checks_cache(blocked: Project, keys: dict[str, Key],
                                              gpg_log: GpgLog, capsys: CapSys,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """After a check, --failing verifies nothing again: the check's cache answers."""
    lock = json.loads((blocked.root / "package-lock.json").read_text())
    blocked.sign(keys["alice"], "debug", "1.0.0", lock["packages"]["node_modules/debug"][
        "integrity"], verdict="rejected")
    assert main(["check"]) == 1
    assert gpg_log.verified() == [1]
    assert main(["fetch", "--failing", "--dest", "reviews"]) == 0
    assert "left out: no audit fixes them (1): debug@1.0.0: rejected" in \
        capsys.readouterr().out
    assert gpg_log.verified() == []
    monkeypatch.setenv("PACKAGE_TRUST_NO_CACHE", "1")  # with the cache off, gpg verifies
    assert main(["fetch", "--failing", "--dest", "reviews"]) == 0
    assert gpg_log.verified() == [1]


def test_a_batch_needs_packages_or_failing(blocked: Project, capsys: CapSys) -> None:
    assert main(["fetch"]) == 2
    assert "name a package (NAME@VERSION …), or --failing" in capsys.readouterr().err
    assert main(["fetch", "--lockfile", "package-lock.json"]) == 2
    assert "--lockfile goes with --failing" in capsys.readouterr().err
    assert main(["fetch", "ms@2.0.0", "debug@1.0.0", "--diff-from", "1.0.0"]) == 2
    assert "--diff-from goes with one package" in capsys.readouterr().err
