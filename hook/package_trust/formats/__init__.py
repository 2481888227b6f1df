"""Output formats: one module per format, each implementing ``interface.Reporter``.

A format's module is imported only when it is used (``FORMATS[name]``), so the commit-time
path pays only for the report it prints.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from package_trust.formats.interface import Reporter

_REPORTERS = {
    "text": ("text", "TextReporter"),
    "json": ("json", "JsonReporter"),
    "github": ("github", "GithubReporter"),
    "markdown": ("markdown", "MarkdownReporter"),
    "html": ("html", "HtmlReporter"),
    "sarif": ("sarif", "SarifReporter"),
}


class _Formats(Mapping[str, "Reporter"]):
    def __getitem__(self, name: str) -> Reporter:
        module, cls = _REPORTERS[name]
        reporter: Reporter = getattr(
            importlib.import_module(f"package_trust.formats.{module}"), cls
        )()
        return reporter

    def __iter__(self) -> Iterator[str]:
        return iter(_REPORTERS)

    def __len__(self) -> int:
        return len(_REPORTERS)


FORMATS: Mapping[str, Reporter] = _Formats()

__all__ = ["FORMATS"]
