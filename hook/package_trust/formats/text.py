"""The terminal report: what a developer whose commit was blocked needs to read. Names,
versions, reasons and paths come from lockfiles and ledgers: each line is made printable."""

from __future__ import annotations

import shlex

from package_trust.check.result import CheckResult, LedgerInfo, PackageResult
from package_trust.textsafe import printable

MAX_PATHS = 3


def headline(result: CheckResult, failing_packages: list[PackageResult] | None = None) -> str:
    """``3 of 412 packages are not audited (trust-policy.yml: 2 signatures …)``."""
    failing_packages = result.failing if failing_packages is None else failing_packages
    failing, total = len(failing_packages), len(result.checked)
    plural = "" if result.required == 1 else "s"
    rule = f"{result.policy.name}: {result.required} signature{plural} from trusted keys"
    noun = "package" if total == 1 else "packages"
    if not total:
        return f"No packages to check ({rule})"
    if not failing:
        return f"All {total} {noun} {'is' if total == 1 else 'are'} audited ({rule})"
    verb = "is" if failing == 1 else "are"
    return f"{failing} of {total} {noun} {verb} not audited ({rule})"


def brought_in_by(pkg: PackageResult) -> str:
    shown = ", ".join(pkg.paths[:MAX_PATHS])
    more = len(pkg.paths) - MAX_PATHS
    return shown + (f" (+{more} more)" if more > 0 else "")


def ways_out(result: CheckResult, failing: list[PackageResult] | None = None) -> list[str]:
    """What to do next, with a failing package as the example."""
    failing = result.failing if failing is None else failing
    if not failing:
        return []
    pkg = failing[0]
    spec = shlex.quote(pkg.spec)
    return [
        "To audit a package (auditors): review it, sign a statement, and open a pull request",
        "to the ledger with the new signatures/ file:",
        f"    package-trust fetch {spec}",
        f"    package-trust sign {spec} --key YOUR-FINGERPRINT",
        f"To exempt a package (maintainers), add to {result.policy.name}:",
        "    exemptions:",
        f'      - package: "{pkg.spec}"',
        "        reason: why it needs no audit",
    ]


def ledger_line(ledger: LedgerInfo) -> str:
    """A ledger source and the commit it was read at."""
    return ledger.description + (f" at {ledger.revision}" if ledger.revision else "")


class TextReporter:
    def render(self, result: CheckResult) -> str:
        failing = result.failing
        lines = [headline(result, failing)]
        if failing:
            lines.append("")
        for pkg in failing:
            lines.append(f"  {pkg.spec}: {pkg.status.value}: {pkg.reason}")
            where = f"{pkg.lockfile}:{pkg.line}" if pkg.line else pkg.lockfile
            lines.append(f"      brought in by {brought_in_by(pkg)} ({where})")
        lines.append(f"ledgers: {'; '.join(ledger_line(x) for x in result.ledgers)}")
        for note in result.notices:
            lines.append(f"note: {note}")
        ways = ways_out(result, failing)
        if ways:
            lines += ["", *ways]
        return "".join(printable(line) + "\n" for line in lines)
