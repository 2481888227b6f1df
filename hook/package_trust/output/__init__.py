"""Output formats: one module per format, each implementing ``interface.Reporter``."""

from __future__ import annotations

from package_trust.output.github import GithubReporter
from package_trust.output.interface import Reporter
from package_trust.output.json import JsonReporter
from package_trust.output.markdown import MarkdownReporter
from package_trust.output.sarif import SarifReporter
from package_trust.output.text import TextReporter

FORMATS: dict[str, Reporter] = {
    "text": TextReporter(),
    "json": JsonReporter(),
    "github": GithubReporter(),
    "markdown": MarkdownReporter(),
    "sarif": SarifReporter(),
}

__all__ = ["FORMATS", "Reporter"]
