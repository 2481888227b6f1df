"""Parsed policies (cache/policies.py): a check after a lockfile change reads the policy it
parsed before, without PyYAML; any edit, or a damaged row, and it is parsed afresh, with
the same errors and lines."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from package_trust.cli import main
from support import Key, Project

# A check in a process of its own: whether it imported PyYAML, and its exit code.
PROBE = ("import sys\nfrom package_trust.cli import main\ncode = main(['check'])\n"
         "print('yaml' in sys.modules, code)\n")


def probe(project: Project) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=project.root, env=os.environ,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.stdout.splitlines()[-1]


def policies(tmp_path: Path, sql: str = "SELECT body FROM policy") -> list[tuple[str]]:
    path = tmp_path / "cache" / "package-trust" / "verifications.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        return db.execute(sql).fetchall()


@pytest.fixture
def signed(project: Project, keys: dict[str, Key]) -> Project:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]], extra='exemptions:\n  - package: "@ours/*"\n'
                                         "    reason: ours\n    expires: 2999-01-01\n")
    project.lockfile({"left-pad": "1.3.0", "@ours/a": "1.0.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    return project


def test_a_policy_parsed_before_is_read_without_pyyaml(signed: Project,
                                                       keys: dict[str, Key]) -> None:
    assert probe(signed) == "True 0"
    signed.lockfile({"left-pad": "1.3.0", "@ours/a": "1.0.1"})  # the result cache misses
    assert probe(signed) == "False 0"
    signed.lockfile({"left-pad": "1.3.0", "@ours/a": "1.0.1", "is-odd": "1.0.0"})
    assert probe(signed) == "False 1"  # judged with the kept policy: is-odd unaudited


def test_an_edited_policy_is_parsed_afresh(signed: Project, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    policy = signed.root / "trust-policy.yml"
    policy.write_text(policy.read_text().replace("expires: 2999-01-01", "expires: someday"))
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "trust-policy.yml:" in err and "expires" in err
    assert len(policies(tmp_path)) == 1


@pytest.mark.parametrize("damage", [
    "UPDATE policy SET body = '[1]'",
    "UPDATE policy SET body = replace(body, '\"@ours/*\"', '\"*\"')",  # exempts all
    "UPDATE policy SET body = 'not json'",
])
def test_a_damaged_row_is_not_used(signed: Project, tmp_path: Path, damage: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    signed.lockfile({"left-pad": "1.3.0", "@ours/a": "1.0.0", "is-odd": "1.0.0"})
    assert main(["check"]) == 1
    policies(tmp_path, damage)
    assert main(["check"]) == 1
    assert "is-odd@1.0.0" in capsys.readouterr().out
