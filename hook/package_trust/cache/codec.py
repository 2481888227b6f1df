"""A check's result as text, and back: what the cache keeps is the result, never its
rendering (each format renders it again from what is read back).

Read back, a package has its status at once and the rest when first read (a passing
check's text report reads only statuses); a verdict's statements stay text until read.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from package_trust.check.result import (
    CheckResult,
    LedgerInfo,
    PackageResult,
    StatementResult,
    Status,
)

_FIELDS = tuple(s for s in PackageResult.__slots__ if s not in ("status", "statements"))
_fields_of = operator.attrgetter(*_FIELDS)  # a package's _FIELDS, as a tuple
# Part of what a kept result is found by: a row of another shape is never decoded.
SHAPE = json.dumps([PackageResult.__slots__, StatementResult._fields, CheckResult.__slots__])


class StoredStatements(Sequence[StatementResult]):
    """Statements as kept, decoded when first read."""

    def __init__(self, text: str, items: list[StatementResult] | None = None):
        self.text = text  # ``statements_text`` of ``items``, when they are given
        self._items = items

    def _load(self) -> list[StatementResult]:
        if self._items is None:
            self._items = [StatementResult(*row) for row in json.loads(self.text)]
        return self._items

    @overload
    def __getitem__(self, index: int) -> StatementResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[StatementResult]: ...

    def __getitem__(self, index: int | slice) -> StatementResult | Sequence[StatementResult]:
        return self._load()[index]

    def __len__(self) -> int:
        return len(self._load())

    def __iter__(self) -> Iterator[StatementResult]:
        return iter(self._load())


def statements_text(statements: Sequence[StatementResult]) -> str:
    """Statements as text: each a list of its fields."""
    if isinstance(statements, StoredStatements):
        return statements.text
    return json.dumps(list(statements)) if statements else "[]"


class _Kept:
    """What the packages of a kept result share: their fields (``_FIELDS``, each package's
    a list), decoded when first read, and the text of their statements."""

    __slots__ = ("_fields", "ends", "fields_text", "statements_text")

    def __init__(self, fields_text: str, statements_text: str, ends: list[int]):
        self.fields_text, self.statements_text, self.ends = fields_text, statements_text, ends
        self._fields: list[list[Any]] | None = None

    def fields(self, index: int) -> list[Any]:
        if self._fields is None:
            self._fields = json.loads(self.fields_text)
        return self._fields[index]

    def statements(self, index: int) -> StoredStatements:
        start = self.ends[index - 1] if index else 0
        return StoredStatements(self.statements_text[start : self.ends[index]])


class StoredPackage(PackageResult):
    """A package as kept: its status, and the rest decoded when one of it is first read."""

    __slots__ = ("_index", "_kept")

    def __init__(self, status: Status, kept: _Kept, index: int) -> None:  # the rest: lazily
        self.status, self._kept, self._index = status, kept, index

    def __getattr__(self, name: str) -> Any:
        if name not in PackageResult.__slots__:
            raise AttributeError(name)
        for slot, value in zip(_FIELDS, self._kept.fields(self._index), strict=True):
            _fill(self, slot, value)
        _fill(self, "statements", self._kept.statements(self._index))
        return object.__getattribute__(self, name)


def _fill(pkg: PackageResult, slot: str, value: object) -> None:
    """Set a slot not set since (a value set on the package stays)."""
    try:
        object.__getattribute__(pkg, slot)
    except AttributeError:
        setattr(pkg, slot, value)


def dump(result: CheckResult) -> str:
    """The result as three lines: a JSON one with all but its packages (of which the
    statuses, and where each one's statements end in the third line), a JSON one with
    the packages' fields, then the packages' statements one after the other."""
    packages = result.packages
    texts = [statements_text(p.statements) for p in packages]
    ends, end = [], 0
    for text in texts:
        end += len(text)
        ends.append(end)
    head = json.dumps([
        str(result.policy), result.required, [str(p) for p in result.lockfiles],
        [list(x) for x in result.ledgers], result.notices, result.fail_on_new,
        [p.status.value for p in packages], ends,
    ])
    fields = json.dumps(list(map(_fields_of, packages)), check_circular=False,
                        separators=(",", ":"))
    return "\n".join([head, fields, "".join(texts)])


def load(text: str) -> CheckResult | None:
    """The result ``dump`` wrote; None when the text is not one."""
    try:
        head, fields, statements = text.split("\n")
        policy, required, lockfiles, ledgers, notices, fail_on_new, statuses, ends = (
            json.loads(head))
        if len(ends) != len(statuses) or ends != sorted(ends) or not all(
                type(e) is int and 0 <= e <= len(statements) for e in ends):
            return None
        kept = _Kept(fields, statements, ends)
        packages: list[PackageResult] = [StoredPackage(Status(status), kept, n)
                                         for n, status in enumerate(statuses)]
        result = CheckResult(Path(policy), required, [Path(p) for p in lockfiles], packages,
                             [LedgerInfo(*x) for x in ledgers], notices)
        result.fail_on_new = fail_on_new
    except (ValueError, TypeError):
        return None
    return result
