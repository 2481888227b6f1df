"""YAML files read as nodes (trust-policy.yml, trust-policy.lock), so that every error can
name its line: composed by libyaml where PyYAML has it, else by PyYAML's own parser, which
also names what libyaml refuses.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from package_trust.errors import PolicyError

if TYPE_CHECKING:
    import yaml

MAX_NESTING = 64  # mappings and lists within each other (a policy needs 4): PyYAML recurses


class YamlReader:
    """Walks the YAML node tree, so that every error can give a line."""

    def __init__(self, path: Path):
        import yaml

        self.path = path
        self._yaml = yaml  # imported once: the methods below run for every node

    def compose(self, text: str) -> yaml.Node | None:
        """The node tree of ``text`` (None when empty); an error with the line when it is not
        YAML. libyaml composes it where PyYAML has it (a tenth of the time: a policy with
        thousands of exemptions); what libyaml refuses, PyYAML's own parser reads again, so
        that the error is named as it always was."""
        import yaml

        loader = _c_loader()
        if loader is not None:
            try:
                return _single_node(loader(text))
            except (yaml.YAMLError, UnicodeEncodeError):  # text with a lone surrogate
                pass
        return self._compose(text)

    def _compose(self, text: str) -> yaml.Node | None:
        """``compose`` by PyYAML's parser in Python, which nests no more than MAX_NESTING
        deep (it recurses: a deep file would end in RecursionError)."""
        import yaml

        try:
            loader = _bounded_loader()(text)  # its reader looks for control characters
        except yaml.reader.ReaderError as e:
            raise PolicyError(f"not valid YAML: character U+{e.character:04X} is not allowed",
                              self.path, text.count("\n", 0, e.position) + 1) from None
        try:
            return _single_node(loader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = None if mark is None else mark.line + 1
            problem = e.problem or e.context
            raise PolicyError(f"not valid YAML: {problem}", self.path, line) from None
        except yaml.YAMLError as e:
            raise PolicyError(f"not valid YAML: {e}", self.path) from None
        except (ValueError, OverflowError):  # PyYAML's scanner: "\\U…" past chr()'s range
            raise PolicyError("not valid YAML: a character escape out of range", self.path,
                              loader.line + 1) from None

    def fail(self, message: str, node: yaml.Node | None) -> PolicyError:
        line = None if node is None else node.start_mark.line + 1
        return PolicyError(message, self.path, line)

    def mapping(
        self, node: yaml.Node, what: str, required: set[str], optional: set[str]
    ) -> dict[str, yaml.Node]:
        if not isinstance(node, self._yaml.MappingNode):
            raise self.fail(f"{what} must be a mapping", node)
        out: dict[str, yaml.Node] = {}
        allowed = required | optional
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, self._yaml.ScalarNode) else None
            if not isinstance(key, str) or key not in allowed:
                listed = ", ".join(sorted(allowed))
                raise self.fail(f"unknown key {key!r} in {what} (allowed: {listed})", key_node)
            if key in out:
                raise self.fail(f"duplicate key {key!r} in {what}", key_node)
            out[key] = value
        missing = sorted(required - out.keys())
        if missing:
            raise self.fail(f"{what} is missing {', '.join(missing)}", node)
        return out

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, self._yaml.SequenceNode):
            raise self.fail(f"{what} must be a list", node)
        return list(node.value)

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, self._yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            raise self.fail(f"{what} must be a string", node)
        if not node.value.strip():
            raise self.fail(f"{what} must not be empty", node)
        return str(node.value)

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, self._yaml.ScalarNode) or not str(node.value).strip():
            raise self.fail(f"{what} must be a value", node)
        return str(node.value)


def _single_node(loader: yaml.SafeLoader | yaml.CSafeLoader) -> yaml.Node | None:
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


@functools.cache
def _c_loader() -> type[yaml.CSafeLoader] | None:
    """PyYAML's loader on libyaml, if PyYAML was built with a libyaml that refuses to nest
    more than 1,000 deep (0.2.5 on; its composer recurses too); else None."""
    import yaml

    if not yaml.__with_libyaml__:
        return None
    from yaml import _yaml

    if _yaml.get_version() < (0, 2, 5):
        return None
    base = yaml.CSafeLoader
    if None in base.yaml_implicit_resolvers or base.yaml_path_resolvers:
        return base  # resolved as PyYAML resolves them (none of these in a SafeLoader)
    return _quick_resolving(base)


def _quick_resolving(base: type[yaml.CSafeLoader]) -> type[yaml.CSafeLoader]:
    """``base``, resolving each node's tag as PyYAML's Resolver does where no path
    resolvers and no resolvers for every scalar are registered: the first implicit
    resolver for the scalar's first character that matches it, else the default tag of
    the node's kind. The composer asks for every node, so Resolver's checks for what is
    not registered cost a policy with thousands of exemptions a fifth of its parse."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    class QuickResolving(base):  # type: ignore[valid-type,misc]
        def descend_resolver(self, current_node: object, current_index: object) -> None:
            pass  # Resolver's returns at once when no path resolver is registered

        def ascend_resolver(self) -> None:
            pass

        def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str | None:
            if kind is ScalarNode:
                if implicit[0]:
                    first = value[0] if value else ""
                    for tag, regexp in self.yaml_implicit_resolvers.get(first, ()):
                        if regexp.match(value):
                            return tag  # type: ignore[no-any-return]
                return base.DEFAULT_SCALAR_TAG
            if kind is SequenceNode:
                return base.DEFAULT_SEQUENCE_TAG
            return base.DEFAULT_MAPPING_TAG if kind is MappingNode else None

    return QuickResolving


@functools.cache
def _bounded_loader() -> type[yaml.SafeLoader]:
    """PyYAML's SafeLoader, refusing to nest more than MAX_NESTING deep (its composer
    recurses: a deep file would end in RecursionError)."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
            if self.depth >= MAX_NESTING and parent is not None:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_NESTING} deep", parent.start_mark
                )
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


