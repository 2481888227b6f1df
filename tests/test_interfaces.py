"""Each plug-in point (lockfile format, ledger source, output format) through its own
interface.py: what every implementation must offer, checked on every implementation."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from package_trust.check.ledger.folder import FolderLedger
from package_trust.check.ledger.git import GitLedger
from package_trust.check.ledger.interface import Ledger, LedgerFile
from package_trust.check.lockfile import PARSERS, Lockfile
from package_trust.check.lockfile.interface import LockfileParser
from package_trust.check.result import CheckResult, PackageResult, Status
from package_trust.formats import FORMATS
from package_trust.formats.interface import Reporter


def members(protocol: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(protocol)
            if not name.startswith("_")} - {"register"}


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: type(p).__name__)
def test_every_lockfile_parser_offers_the_interface(parser: LockfileParser,
                                                    tmp_path: Path) -> None:
    assert members(LockfileParser) <= set(dir(parser))
    path = tmp_path / "package-lock.json"
    assert parser.accepts(path)
    text = json.dumps({"lockfileVersion": 3, "packages": {"": {}}})
    parsed = parser.parse(path, text)
    assert isinstance(parsed, Lockfile) and parsed.dependencies == []


def test_every_ledger_source_offers_the_interface(tmp_path: Path) -> None:
    """A folder here; a git ledger, which needs a repository, in check/test_ledger_git.py."""
    (tmp_path / "keys").mkdir()
    assert members(Ledger) <= set(dir(FolderLedger(tmp_path))) - {"observed", "seen"}
    assert {"key_files", "statements"} <= set(dir(GitLedger))


def test_a_folder_ledger_reads_keys_and_statements(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "a.asc").write_bytes(b"key")
    folder = tmp_path / "signatures" / "left-pad" / "1.3.0"
    folder.mkdir(parents=True)
    (folder / "a.sig").write_bytes(b"statement")
    ledger: Ledger = FolderLedger(tmp_path)
    assert [f.data for f in ledger.key_files()] == [b"key"]
    [found] = ledger.statements("left-pad", "1.3.0")
    assert isinstance(found, LedgerFile) and found.data == b"statement"
    assert ledger.statements("left-pad", "9.9.9") == []


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_renders_one_result(name: str) -> None:
    reporter: Reporter = FORMATS[name]
    assert members(Reporter) <= set(dir(reporter))
    pkg = PackageResult("left-pad", "1.3.0", Status.UNAUDITED, 1, "package-lock.json",
                        ["node_modules/left-pad"], problems=["no signed statement"])
    result = CheckResult(Path("trust-policy.yml"), 1, [Path("package-lock.json")], [pkg])
    out = reporter.render(result)
    assert isinstance(out, str) and "left-pad" in out
