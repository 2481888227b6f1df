"""Judged statements as text, and back (a package verdict's body, verdicts.py): read
back, they stay text until first read."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import overload

from package_trust.check.result import StatementResult

_NO_PINS = "-"  # before the text of statements none of which counts and pins packages


class StoredStatements(Sequence[StatementResult]):
    """Statements as kept, decoded when first read. ``pins``: False when no counted
    statement among them pins packages (a shrinkwrap): ``rounds.pinned`` then decodes
    nothing."""

    def __init__(self, text: str):
        self.pins = not text.startswith(_NO_PINS)  # text of another shape: it may
        self.text = text.removeprefix(_NO_PINS)
        self._items: list[StatementResult] | None = None

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
    """Statements as text: each a list of its fields, marked when none pins packages."""
    text = json.dumps(list(statements)) if statements else "[]"
    return text if any(s.counted and s.shrinkwrap for s in statements) else _NO_PINS + text
