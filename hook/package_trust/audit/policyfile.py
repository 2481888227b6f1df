"""trust-policy.yml edited in place: items added to or removed from a top-level list
(``exemptions``, ``trusted-keys``), every other byte kept, comments and order included.

PyYAML's node marks say where each item is; the edit is made on the text. Each edit is
then read back as a policy and must say exactly what was meant (else nothing is written):
what the marks cannot place with certainty (anchors, aliases, odd layouts) fails closed.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from package_trust.atomic import write_atomic
from package_trust.check.policy import Exemption, Policy, TrustedKey, YamlReader, parse
from package_trust.errors import PolicyError

if TYPE_CHECKING:
    import yaml

Item = Sequence[tuple[str, str]]  # one list item: its keys and values, in order


# A plain scalar that cannot be read as anything but itself (no indicator, no ": " or
# " #"); YAML's resolvers must still read it as a string (not a number, a boolean, null).
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_ .,/()+=@-]*(?<! )")


@functools.lru_cache(maxsize=1024)
def scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain where that reads back the same, else quoted."""
    import yaml

    if _PLAIN.fullmatch(value) and (_is_date(value) or isinstance(
            yaml.safe_load(value), str)):
        return value
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def _is_date(value: str) -> bool:
    try:
        return dt.date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def render(items: Sequence[Item], indent: int) -> str:
    """Block list items, each line ``indent`` spaces in."""
    pad = " " * indent
    return "".join(f"{pad}{'- ' if i == 0 else '  '}{key}: {scalar(value)}\n"
                   for item in items for i, (key, value) in enumerate(item))


class PolicyText:
    """The policy's text, its lines as YAML counts them, and its node tree."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.text = text if text.endswith(("\n", "\r")) or not text else text + "\n"
        self.lines = self.text.splitlines(keepends=True)  # as PyYAML breaks lines
        self.reader = YamlReader(path)

    def _top(self, key: str) -> tuple[yaml.Node, yaml.Node] | None:
        """The top-level key's node and its value's, or None when it is not there."""
        import yaml

        root = self.reader.compose(self.text)
        if not isinstance(root, yaml.MappingNode):
            raise PolicyError("the policy must be a mapping", self.path, 1)
        return next(((k, v) for k, v in root.value if k.value == key), None)

    def _joined(self, before: int, insert: str) -> str:
        """The text with ``insert`` before line ``before`` (0-based)."""
        return "".join(self.lines[:before]) + insert + "".join(self.lines[before:])

    def append(self, key: str, items: Sequence[Item]) -> str:
        """The text with ``items`` added at the end of the top-level list ``key`` (made
        at the end of the file when there is none)."""
        import yaml

        found = self._top(key) if items else None
        if not items:
            return self.text
        if found is None:
            return f"{self.text}{key}:\n{render(items, 2)}"
        key_node, value = found
        if not isinstance(value, yaml.SequenceNode):
            raise self.reader.fail(f"{key} must be a list", value)
        if not value.flow_style and value.value:
            return self._joined(_last_line(value) + 1, render(items, value.start_mark.column))
        if value.value or self.text[value.start_mark.index:value.end_mark.index] != "[]":
            raise self.reader.fail(f"{key} is written in flow style ([...]): write it as a block "
                                   "list (one '- ' item a line) to let package-trust edit it",
                                   value)
        n = value.start_mark.line  # `key: []  # comment` keeps its comment, loses the []
        start = len("".join(self.lines[:n]))
        line = self.lines[n]
        a, b = value.start_mark.index - start, value.end_mark.index - start
        self.lines[n] = line[:a].rstrip(" ") + line[b:]
        return self._joined(n + 1, render(items, key_node.start_mark.column + 2))

    def remove(self, key: str, indexes: Collection[int]) -> str:
        """The text without the items of the top-level list ``key`` at ``indexes``; a list
        left empty is written ``[]``."""
        import yaml

        found = self._top(key) if indexes else None
        if found is None:
            return self.text
        key_node, value = found
        if not isinstance(value, yaml.SequenceNode) or value.flow_style:
            raise self.reader.fail(f"{key} must be a block list (one '- ' item a line) to let "
                                   "package-trust edit it", value)
        cut: set[int] = set()
        for i in set(indexes):
            item = value.value[i]
            cut.update(range(self._dash_line(item), _last_line(item) + 1))
        if len(set(indexes)) == len(value.value):  # `key:` alone would be null, not a list
            n = key_node.start_mark.line
            start = len("".join(self.lines[:n]))
            colon = self.text.index(":", key_node.end_mark.index) + 1 - start
            self.lines[n] = self.lines[n][:colon] + " []" + self.lines[n][colon:]
        return "".join(line for n, line in enumerate(self.lines) if n not in cut)

    def _dash_line(self, item: yaml.Node) -> int:
        """The line of the ``-`` that starts an item: its own, or one above it with only
        blank and comment lines between."""
        n = item.start_mark.line
        head = self.lines[n][:item.start_mark.column].strip()
        while n >= 0:
            if head.endswith("-") and not head.rstrip("-").strip():
                return n
            if head and not head.startswith("#"):
                break
            n -= 1
            head = self.lines[n].split("#", 1)[0].strip() if n >= 0 else ""
        raise self.reader.fail("cannot tell where this list item starts: edit it by hand", item)


def _last_line(node: yaml.Node) -> int:
    """The last line (0-based) holding any of the node's content."""
    import yaml

    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        end = node.end_mark
        return end.line if end.column > 0 or end.line == node.start_mark.line else end.line - 1
    children: list[yaml.Node] = []
    for part in node.value:
        children += list(part) if isinstance(part, tuple) else [part]
    return max((_last_line(c) for c in children), default=node.start_mark.line)


def exemption_item(e: Exemption) -> Item:
    item = [("package", e.package), ("reason", e.reason)]
    if e.integrity is not None:
        item.append(("integrity", e.integrity))
    if e.source is not None:
        item.append(("source", e.source))
    if e.expires is not None:
        item.append(("expires", e.expires.isoformat()))
    return item


def _settings(p: Policy) -> tuple[object, ...]:
    """What a policy says, without the lines it says it on."""
    return (p.minimum_signatures, p.development_signatures,
            [(k.fingerprint, k.name) for k in p.trusted_keys],
            [(x.path, x.git, x.ref) for x in p.ledgers],
            [(e.package, e.reason, e.expires, e.integrity, e.source) for e in p.exemptions])


def edit_exemptions(policy: Policy, text: str, add: Sequence[Exemption] = (),
                    remove: Collection[int] = ()) -> str:
    """The policy's text with exemptions added (at the end) and removed (by index),
    read back to make sure it says that and nothing else changed."""
    edited = PolicyText(policy.path, text).remove("exemptions", remove)
    edited = PolicyText(policy.path, edited).append("exemptions",
                                                     [exemption_item(e) for e in add])
    kept = [e for i, e in enumerate(policy.exemptions) if i not in set(remove)]
    return _checked(policy._replace(exemptions=[*kept, *add]), edited)


def add_trusted_keys(policy: Policy, text: str, keys: Sequence[TrustedKey]) -> str:
    """The policy's text with trusted keys added."""
    edited = PolicyText(policy.path, text).append(
        "trusted-keys", [[("fingerprint", k.fingerprint), ("name", k.name)] for k in keys])
    return _checked(policy._replace(trusted_keys=[*policy.trusted_keys, *keys]), edited)


def _checked(expected: Policy, edited: str) -> str:
    """``edited``, once it reads back as the ``expected`` policy."""
    try:
        after = parse(expected.path, edited)
    except PolicyError as e:
        raise PolicyError(f"cannot edit the policy in place ({e.message}): nothing written",
                          expected.path) from None
    if _settings(after) != _settings(expected):
        raise PolicyError("cannot edit the policy in place (its layout is one package-trust "
                          "does not edit with certainty): nothing written", expected.path)
    return edited


def write(path: Path, text: str) -> None:
    """Replace the policy whole or not at all."""
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as e:
        raise PolicyError(f"cannot write the policy: {e.strerror}", path) from None
