"""JSON from hostile hands (lockfiles, signed statements): parsed with a bound on nesting
and on the length of numbers, so that no input ends in RecursionError or ValueError.

Every failure is one ``JsonError``, a ``json.JSONDecodeError`` with its line and column.
Non-standard constants (``NaN``, ``Infinity``) are refused, as JavaScript's JSON.parse does.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

MAX_DEPTH = 512  # arrays and objects within each other (a v1 lockfile: 2 per nested package)
MAX_NUMBER = 1000  # characters of one number (Python's int() refuses more than 4300 digits)

_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_BRACKET = re.compile(rf"{_STRING}|([\[\]{{}}])", re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b'[]{}"')  # quotes kept
_QUOTED = re.compile(rb'"[^"]*"')
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class JsonError(json.JSONDecodeError):
    """Not JSON, or JSON beyond the bounds; ``lineno`` and ``colno`` say where."""


class _Refused(Exception):
    """Raised in a parse hook; turned into a JsonError once its place is found."""

    def __init__(self, message: str, pattern: str):
        super().__init__(message)
        self.message, self.pattern = message, pattern


def loads(text: str, max_depth: int = MAX_DEPTH, max_number: int = MAX_NUMBER) -> Any:
    """``json.loads(text)``, within the bounds; raises JsonError only."""
    _check_depth(text, max_depth)
    if text.startswith("\ufeff"):  # as json.loads
        raise JsonError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    try:
        return _decoder(max_number).decode(text)
    except _Refused as e:
        raise JsonError(e.message, text, _first(text, e.pattern)) from None
    except json.JSONDecodeError as e:
        raise JsonError(e.msg, text, e.pos) from None
    except RecursionError:  # not expected within MAX_DEPTH; fail with an error all the same
        raise JsonError("nested too deeply", text, 0) from None


@functools.lru_cache(maxsize=4)
def _decoder(max_number: int) -> json.JSONDecoder:
    """One decoder for each bound (a decoder keeps no state between texts)."""
    return json.JSONDecoder(parse_int=_number(int, max_number),
                            parse_float=_number(float, max_number), parse_constant=_constant)


def _number(kind: Callable[[str], Any], limit: int) -> Callable[[str], Any]:
    def parse(literal: str) -> Any:
        if len(literal) > limit:
            raise _Refused(f"a number longer than {limit} characters",
                           rf"[-0-9][0-9.eE+-]{{{limit},}}")
        return kind(literal)

    return parse


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value", re.escape(name))


def _check_depth(text: str, limit: int) -> None:
    """JsonError when arrays and objects nest more than ``limit`` deep. Quick (a few
    milliseconds for a large lockfile): the scan is made of bytes operations."""
    if text.count("[") + text.count("{") <= limit:  # most statements: no need to look further
        return
    data = text.encode("utf-8", "surrogatepass")
    if b"\\" in data:  # escaped backslashes and quotes, which neither open nor close a string
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Brackets and quotes only. Removing two adjacent quotes leaves every bracket inside or
    # outside a string as it was, and takes away most strings (those without brackets).
    brackets = data.translate(None, _NOT_BRACKETS).replace(b'""', b"")
    if b'"' in brackets:
        brackets = _QUOTED.sub(b"", brackets)
    if max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit:
        raise JsonError(f"nested more than {limit} deep", text, _too_deep(text, limit))


def _too_deep(text: str, limit: int) -> int:
    """Where the first array or object nested more than ``limit`` deep starts."""
    depth = 0
    for m in _BRACKET.finditer(text):
        bracket = m.group(1)
        if bracket is not None:
            depth += 1 if bracket in "[{" else -1
            if depth > limit:
                return m.start()
    return 0


def _first(text: str, pattern: str) -> int:
    """Where ``pattern`` first matches outside a string."""
    found = next((m for m in re.finditer(rf"{_STRING}|({pattern})", text, re.DOTALL)
                  if m.group(1) is not None), None)
    return 0 if found is None else found.start()
