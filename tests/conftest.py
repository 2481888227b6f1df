from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_server import FakeRegistry
from support import Auditors, GpgLog, Key, Project


@pytest.fixture(scope="session")
def auditors() -> Iterator[Auditors]:
    """Reviewers' keys, generated once per test session."""
    a = Auditors()
    a.create("alice")
    a.create("bob")
    a.create("carol")  # never trusted
    a.create("dave", subkey=True)  # signs with a subkey
    a.create("erin", expire="1d", past=True)  # expired long ago
    a.create("frank")  # revoked (see the revoked fixture)
    a.create("grace", expire="20y", past=True)  # signs in 2020, signatures that expire
    yield a
    a.close()


@pytest.fixture(scope="session")
def keys(auditors: Auditors) -> dict[str, Key]:
    return auditors.keys


@pytest.fixture
def project(tmp_path: Path, auditors: Auditors, monkeypatch: pytest.MonkeyPatch) -> Project:
    """An empty project in a temporary folder, which is also the working directory."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # The user's own GnuPG must never be consulted: point it at a folder that breaks.
    monkeypatch.setenv("GNUPGHOME", str(tmp_path / "no-such-gnupghome"))
    return Project(root, auditors)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRegistry]:
    """A fake npm registry on 127.0.0.1, which NPM_CONFIG_REGISTRY points at."""
    with FakeRegistry() as r:
        monkeypatch.setenv("NPM_CONFIG_REGISTRY", r.url)
        monkeypatch.delenv("npm_config_registry", raising=False)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        yield r


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("PRE_COMMIT_COLOR", "never")


def pytest_report_header(config: pytest.Config) -> str:
    """The npm client the differential tests run (tests/check/test_npm_differential.py)."""
    from npm_harness import npm_version

    return f"npm: {npm_version() or 'not installed (the npm differential tests are skipped)'}"


@pytest.fixture
def gpg_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GpgLog:
    """gpg, through a wrapper that logs every process started (PACKAGE_TRUST_GPG)."""
    real = shutil.which("gpg")
    assert real is not None
    log = tmp_path / "gpg.log"
    wrapper = tmp_path / "bin" / "gpg"
    wrapper.parent.mkdir()
    # gpg --decrypt-files with no file reads their names from stdin: kept in gpg.log.<pid>
    # by tee, gpg alone holding its output (the end of which tells it ended).
    gpg = shlex.quote(real)
    wrapper.write_text(f'#!/bin/sh\nlog={shlex.quote(str(log))}\n'
                       'case " $* " in *" --decrypt-files ")\n'
                       '  echo "$* <$log.$$" >> "$log"; exec 3<&0\n'
                       f'  tee "$log.$$" <&3 3<&- | {gpg} "$@" 3<&- & exec 0<&- 3<&- >&-\n'
                       '  wait $!; exit $?;;\nesac\n'
                       f'echo "$*" >> "$log"\nexec {gpg} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PACKAGE_TRUST_GPG", str(wrapper))
    return GpgLog(log)
