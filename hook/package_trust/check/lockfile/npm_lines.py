"""Where each entry of an npm lockfile is written: the line reports point at."""

from __future__ import annotations

import json
import re

_TO_OBJECT = r"[ \t\r\n]*:[ \t\r\n]*\{"  # from a key to the object it names
_KEY_END = re.compile(_TO_OBJECT)
_KEY_LINE = re.compile(r'^[ \t]*"((?:[^"\\\n]|\\.)*)"' + _TO_OBJECT, re.MULTILINE)
_QUOTE = json.JSONEncoder(ensure_ascii=False).encode  # a key as npm writes it


class KeyLines:
    """The line of each entry, asked for in the order json.loads read the entries.

    That is the order of the text (for nested v1 entries, depth first), so each key is looked
    for after the previous one: one pass over the text in all. Should a key not be ahead (an
    escape npm does not write, sections in another order), an index of every ``"key": {`` at
    the start of a line is built once and used from then on: the next one, else the first.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0  # where to look next: just after the previous key's opening quote
        self._line = 1  # the line of _pos
        self._index: dict[str, list[tuple[int, int]]] | None = None

    def of(self, key: str) -> int | None:
        """The line of the next ``"key": {``, if any."""
        if self._index is None:
            pos = _find_key(self._text, key, self._pos)
            if pos >= 0:
                self._line += self._text.count("\n", self._pos, pos)
                self._pos = pos + 1
                return self._line
            self._index = index_keys(self._text)
        found = self._index.get(key)
        if not found:
            return None
        from bisect import bisect_left  # only for unusual files: not at start-up

        at = bisect_left(found, (self._pos, 0))
        pos, self._line = found[at] if at < len(found) else found[0]
        self._pos = pos + 1
        return self._line


def _find_key(text: str, key: str, start: int) -> int:
    """Where ``"key": {`` is first written from ``start`` on, or -1."""
    quoted = _QUOTE(key)
    pos = text.find(quoted, start)
    while pos >= 0:
        end = pos + len(quoted)
        # npm writes '"key": {'. After a backslash the quote is in a string: "a\"key": {…}.
        if (text.startswith(": {", end) or _KEY_END.match(text, end)) and text[pos - 1] != "\\":
            return pos
        pos = text.find(quoted, pos + 1)
    return -1


def line_of(text: str, key: str) -> int | None:
    """The line where ``"key":`` is first written (for an error message), if anywhere."""
    found = re.search(re.escape(_QUOTE(key)) + r"[ \t\r\n]*:", text)
    return None if found is None else text.count("\n", 0, found.start()) + 1


def index_keys(text: str) -> dict[str, list[tuple[int, int]]]:
    """Every ``"key": {`` starting a line: key -> [(position, line)], in the text's order."""
    index: dict[str, list[tuple[int, int]]] = {}
    line, last = 1, 0
    for m in _KEY_LINE.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        raw = m.group(1)
        try:
            key = json.loads(f'"{raw}"') if "\\" in raw else raw
        except json.JSONDecodeError:
            continue
        index.setdefault(key, []).append((m.start(1) - 1, line))
    return index
