"""``fetch`` against a registry: integrity, missing packages, retries, timeouts."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from package_trust.cli import main
from registry_server import FakeRegistry, left_pad, tgz
from support import Project, integrity_of

REAL_INTEGRITY = (
    "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQGinBN9yTQT3bFlCBy/aVx2HrNcqQGsdot8ghrjyrvMCoEA=="
)


def leftovers(project: Project) -> list[Path]:
    """Everything fetch left under packages/."""
    packages = project.fetched
    return sorted(packages.rglob("*")) if packages.exists() else []


def test_fetch_checks_integrity_and_keeps_the_tarball(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    tarball = left_pad()
    registry.publish("left-pad", "1.3.0", tarball)
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    out = capsys.readouterr().out
    assert "sha512 and sha1 match the registry's" in out
    assert (project.fetched / "left-pad/1.3.0.tgz").read_bytes() == tarball
    assert (project.fetched / "left-pad/1.3.0/package.json").is_file()
    assert not [p for p in leftovers(project) if p.name.startswith(".")]


def test_integrity_mismatch_is_refused_and_leaves_nothing(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.publish("left-pad", "1.3.0", left_pad(), integrity=integrity_of(b"other bytes"))
    assert main(["fetch", "left-pad@1.3.0"]) == 2
    err = capsys.readouterr().err
    assert "does not match the registry's integrity" in err and "refusing it" in err
    assert leftovers(project) == []
    assert not project.fetched.exists()


def test_shasum_mismatch_is_refused(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.publish("left-pad", "1.3.0", left_pad(), shasum="0" * 40)
    assert main(["fetch", "left-pad@1.3.0"]) == 2
    assert "does not match the registry's shasum" in capsys.readouterr().err
    assert leftovers(project) == []


def test_an_unusable_sha512_does_not_fall_back_to_the_shasum(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two different sha512s (npm accepts either) are no sha1-only integrity: refused."""
    sha1 = "sha1-" + "A" * 27 + "="
    published = registry.publish("left-pad", "1.3.0", left_pad())
    other = integrity_of(b"another tarball")
    published.integrity = f"{sha1} {published.integrity} {other}"
    assert main(["fetch", "left-pad@1.3.0"]) == 2
    assert "not exactly one sha512" in capsys.readouterr().err
    assert leftovers(project) == []


def test_no_hash_at_all_is_refused(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.publish("left-pad", "1.3.0", left_pad(), integrity=None, shasum=None)
    assert main(["fetch", "left-pad@1.3.0"]) == 2
    assert "publishes no hash" in capsys.readouterr().err


def test_unknown_package_and_version_exit_2(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch", "no-such-package@1.0.0"]) == 2
    assert "package no-such-package does not exist in the registry" in capsys.readouterr().err
    registry.publish("left-pad", "1.3.0", left_pad())
    assert main(["fetch", "left-pad@9.9.9"]) == 2
    assert "left-pad@9.9.9 does not exist in the registry" in capsys.readouterr().err
    assert leftovers(project) == []


def test_invalid_names_never_become_paths(
    project: Project, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    for spec in ("../evil@1.0.0", "left-pad@../../x", "left-pad", "@scope/../x@1.0.0"):
        assert main(["fetch", spec]) == 2, spec
        assert "package-trust: error:" in capsys.readouterr().err
    assert registry.requests == []


def test_scoped_package(project: Project, registry: FakeRegistry) -> None:
    data = tgz({"package.json": b'{"name": "@scope/pad", "version": "1.0.0"}'})
    registry.publish("@scope/pad", "1.0.0", data)
    assert main(["fetch", "@scope/pad@1.0.0"]) == 0
    assert (project.fetched / "@scope/pad/1.0.0/package.json").is_file()
    assert (project.fetched / "@scope/pad/1.0.0.tgz").is_file()


def test_server_error_is_retried(project: Project, registry: FakeRegistry) -> None:
    registry.publish("left-pad", "1.3.0", left_pad())
    registry.failures["/left-pad"] = [500]
    registry.failures[registry.tarball_path("left-pad", "1.3.0")] = [503]
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    assert registry.requests.count("/left-pad") == 2


def test_server_errors_that_persist_exit_2(
    project: Project, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PACKAGE_TRUST_RETRIES", "1")
    registry.publish("left-pad", "1.3.0", left_pad())
    registry.failures["/left-pad"] = [502, 502, 502]
    assert main(["fetch", "left-pad@1.3.0"]) == 2
    assert "HTTP 502" in capsys.readouterr().err


def test_server_that_never_answers_times_out(
    project: Project, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PACKAGE_TRUST_TIMEOUT", "0.3")
    registry.publish("left-pad", "1.3.0", left_pad())
    registry.silent.add("/left-pad")
    started = time.monotonic()
    assert main(["fetch", "left-pad@1.3.0"]) == 2
    assert time.monotonic() - started < 5
    assert "timed out" in capsys.readouterr().err
    assert leftovers(project) == []


def test_no_network_exits_2(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PACKAGE_TRUST_RETRIES", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert main(["fetch", "left-pad@1.3.0", "--registry", f"http://127.0.0.1:{port}"]) == 2
    assert "cannot reach the registry" in capsys.readouterr().err


def test_registry_option_and_environment(
    project: Project, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    registry.publish("left-pad", "1.3.0", left_pad())
    monkeypatch.delenv("NPM_CONFIG_REGISTRY")
    monkeypatch.setenv("npm_config_registry", registry.url)  # npm's lower-case spelling
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    assert main(["fetch", "left-pad@1.3.0", "--registry", "ftp://example.org"]) == 2
    assert "is not an http(s) URL" in capsys.readouterr().err


def test_the_registry_npm_reads_from_the_environment(
    project: Project, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """npm reads npm_config_registry in any case, skips an empty one, and the last set
    wins (@npmcli/config's loadEnv): so does fetch."""
    registry.publish("left-pad", "1.3.0", left_pad())
    monkeypatch.delenv("NPM_CONFIG_REGISTRY")
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")  # nothing listens
    monkeypatch.setenv("Npm_Config_Registry", registry.url)
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "")
    assert main(["fetch", "left-pad@1.3.0"]) == 0, capsys.readouterr()


def test_download_over_the_size_limit_is_refused(
    project: Project, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    registry.publish("left-pad", "1.3.0", left_pad(**{"random.bin": os.urandom(4000)}))
    monkeypatch.setenv("PACKAGE_TRUST_MAX_SIZE", "1000")
    assert main(["fetch", "left-pad@1.3.0"]) == 2
    assert "over the limit of 1000 bytes" in capsys.readouterr().err
    assert leftovers(project) == []


@pytest.mark.online
def test_real_registry_left_pad(project: Project, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("NPM_CONFIG_REGISTRY", raising=False)
    monkeypatch.delenv("npm_config_registry", raising=False)
    assert main(["fetch", "left-pad@1.3.0"]) == 0
    assert "sha512 and sha1 match the registry's" in capsys.readouterr().out
    tarball = (project.fetched / "left-pad/1.3.0.tgz").read_bytes()
    assert integrity_of(tarball) == REAL_INTEGRITY
    assert (project.fetched / "left-pad/1.3.0/index.js").is_file()
