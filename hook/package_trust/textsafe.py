"""Untrusted text made safe for a terminal: what could move the cursor, change colours,
start a new line or reorder what is shown (C0 and C1 controls, DEL, bidirectional
controls, line and paragraph separators) is printed as a visible escape instead, and so
is what no encoding can write (a lone surrogate, from a JSON escape such as ``"\\ud800"``).
"""

from __future__ import annotations

import re

# Runs of control characters. The bidi ones reorder text on screen: embeddings and
# overrides (U+202A-202E), isolates (U+2066-2069) and the marks (U+061C, U+200E-200F).
# Surrogates (U+D800-DFFF) stand alone in a str only when the input was broken.
CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    r"\ud800-\udfff]+"
)
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(c: str) -> str:
    if c in _SHORT:
        return _SHORT[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def _escaped(match: re.Match[str]) -> str:
    return "".join(map(_escape, match.group()))


def printable(text: str) -> str:
    """``text`` on one line, every control character (or lone surrogate) shown as ``\\x1b``
    or ``\\u202e``: text that UTF-8 can write, and no terminal can act on."""
    return CONTROL.sub(_escaped, text)
