"""The cache's one database (store.py): a row replaces the row of its id, the newest rows
are kept, and a database an earlier version made is started afresh."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

from package_trust.cache.store import FILE_NAME, RESULTS, SCHEMA_VERSION, Result, Store


def result(n: int, text: str = "report") -> Result:
    return Result(hashlib.sha256(str(n).encode()).digest(), "gpg", 0, "[]", "digest", text, None)


def test_a_row_replaces_the_row_of_its_id(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert store is not None
    now = time.time()
    store.put(RESULTS, [result(1), result(2)], now)
    store.put(RESULTS, [result(1, "again")], now)
    ids = [result(n).id for n in (1, 2)]
    assert {r.id: r.result for r in store.get(RESULTS, ids, now).values()} == {
        ids[0]: "again", ids[1]: "report"}
    store.close()
    rows = sqlite3.connect(tmp_path / FILE_NAME).execute("SELECT count(*) FROM result")
    assert rows.fetchone() == (2,)


def test_pruning_keeps_the_newest_rows(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert store is not None
    now = time.time()
    for n in range(RESULTS.limit + 10):
        store.put(RESULTS, [result(n)], now + n)
    store.put(RESULTS, [result(1000)], now + 1000, prune=True)
    kept = store.get(RESULTS, [result(n).id for n in (*range(RESULTS.limit + 10), 1000)], now)
    # pruned before the rows put are added: the newest ``limit`` of those before, and them
    assert len(kept) == RESULTS.limit + 1
    assert not any(result(n).id in kept for n in range(10)) and result(1000).id in kept


def test_a_database_of_an_earlier_version_is_started_afresh(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("CREATE TABLE result (k INTEGER PRIMARY KEY, stale)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    db.commit()
    db.close()
    store = Store.open(tmp_path)
    assert store is not None
    now = time.time()
    store.put(RESULTS, [result(1)], now)
    assert list(store.get(RESULTS, [result(1).id], now)) == [result(1).id]


def test_a_table_found_empty_is_searched_again_only_once_it_is_written(tmp_path: Path) -> None:
    """A first check (a CI runner's fresh cache) asks an empty table nothing: rows another
    check puts meanwhile are missed, as if they had come a moment later; its own are not."""
    first, other = Store.open(tmp_path), Store.open(tmp_path)
    assert first is not None and other is not None
    now = time.time()
    assert first.empty(RESULTS) and first.get(RESULTS, [result(1).id], now) == {}
    other.put(RESULTS, [result(1)], now)
    assert first.get(RESULTS, [result(1).id], now) == {}  # a miss: never a wrong answer
    first.put(RESULTS, [result(2)], now)
    assert not first.empty(RESULTS)
    assert set(first.get(RESULTS, [result(1).id, result(2).id], now)) == {
        result(1).id, result(2).id}
    later = Store(tmp_path / FILE_NAME)
    assert not later.empty(RESULTS)  # a later check searches it
    for store in (first, other, later):
        store.close()
