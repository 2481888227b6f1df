"""An output format renders a CheckResult to text; it never prints or exits."""

from __future__ import annotations

from typing import Protocol

from package_trust.check.result import CheckResult


class Reporter(Protocol):
    def render(self, result: CheckResult) -> str:
        """The whole report, ready to print."""
