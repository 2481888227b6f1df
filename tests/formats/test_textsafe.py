"""Untrusted text on the terminal: control characters become visible escapes."""

from __future__ import annotations

import pytest

from package_trust.textsafe import printable


@pytest.mark.parametrize(("text", "shown"), [
    ("plain text, é ü 中", "plain text, é ü 中"),
    ("a\nb\r\tc", "a\\nb\\r\\tc"),
    ("\x1b[8mhidden\x1b[0m", "\\x1b[8mhidden\\x1b[0m"),
    ("\x00\x07\x7f\x85\x9b", "\\x00\\x07\\x7f\\x85\\x9b"),
    ("abc\u202edcba\u202c \u2066x\u2069", "abc\\u202edcba\\u202c \\u2066x\\u2069"),
    ("line\u2028separator", "line\\u2028separator"),
    ("lone \ud800 and \udcff", "lone \\ud800 and \\udcff"),  # a JSON escape, os.fsdecode
])
def test_control_characters_are_shown_escaped(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(text).isprintable()
    assert printable(text).encode("utf-8")
