"""Each plug-in point (lockfile format, ledger source, output format) through its own
interface.py: what every implementation must offer, checked on every implementation."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from package_trust.cache.memory import Cache
from package_trust.cache.store import Store
from package_trust.check import policy
from package_trust.check.interfaces import FRESH, Memory
from package_trust.check.ledger.folder import FolderLedger
from package_trust.check.ledger.git import GitLedger
from package_trust.check.ledger.interface import Ledger, LedgerFile
from package_trust.check.lockfile import PARSERS, Lockfile
from package_trust.check.lockfile.interface import LockfileParser
from package_trust.check.result import CheckResult, PackageResult, Status
from package_trust.formats import FORMATS
from package_trust.formats.interface import Reporter
from support import Key, Project


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


def test_every_memory_verifies_alike(project: Project, keys: dict[str, Key],
                                     tmp_path: Path) -> None:
    """The memory plug-in point (check/interfaces.py): with no cache (FRESH) and with
    one, cold then warm, each statement gets the same verification, each position once."""
    project.add_key(keys["alice"])
    pol = policy.load(project.policy([keys["alice"]]))
    good = [project.sign(keys["alice"], f"p{n}", "1.0.0").read_bytes() for n in range(3)]
    statements = [*good, good[0].replace(b'"p0"', b'"q0"'), b"not a statement", good[1]]
    store = Store.open(tmp_path / "memory")
    assert store is not None
    memories: list[Memory] = [FRESH, Cache(store), Cache(store)]
    seen = []
    for memory in memories:
        verifier, _ = memory.open(pol, [FolderLedger(project.root)])
        try:
            verified = dict(verifier.verify(iter(statements)))
        finally:
            verifier.close()
        assert sorted(verified) == list(range(len(statements)))
        seen.append({n: (v.good, v.problem, v.plaintext) for n, v in verified.items()})
    store.close()
    assert seen[0] == seen[1] == seen[2]
    assert [seen[0][n][0] for n in range(len(statements))] == [True, True, True, False,
                                                                False, True]
