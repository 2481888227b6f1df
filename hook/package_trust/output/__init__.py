"""Output formats: one module per format, each implementing ``interface.Reporter``."""

from __future__ import annotations

from package_trust.output.interface import Reporter
from package_trust.output.json import JsonReporter
from package_trust.output.text import TextReporter

FORMATS: dict[str, Reporter] = {
    "text": TextReporter(),
    "json": JsonReporter(),
}

__all__ = ["FORMATS", "Reporter"]
