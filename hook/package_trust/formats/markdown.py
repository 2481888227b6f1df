"""The Markdown summary (a workflow's job summary): counts first, then what failed and why,
then a collapsed list of what passed. Text from lockfiles and ledgers is escaped, so a
package name cannot inject markup.
"""

from __future__ import annotations

import re

from package_trust.check.result import CheckResult, PackageResult, Status
from package_trust.formats.text import (
    age,
    alternatives,
    headline,
    ledger_line,
    notes,
    via,
    ways_out,
    where,
)
from package_trust.formats.text import counts as count_line
from package_trust.textsafe import CONTROL

MAX_ROWS = 500  # per table: a job summary holds 1 MiB at most
COUNTED = [
    (Status.AUDITED, "audited"),
    (Status.EXEMPT, "exempt"),
    (Status.UNAUDITED, "not audited"),
    (Status.REJECTED, "rejected"),
    (Status.UNVERIFIABLE, "unverifiable"),
    (Status.SKIPPED, "skipped"),
]
# Markup, HTML, entities, math, mentions, issue links, autolinks (the : and . they need).
_PUNCTUATION = re.compile(r"([\\`*_\[\]<>#|~&:@$.])")


def one_line(text: str) -> str:
    """``text`` with control characters (newlines included) turned into spaces."""
    return CONTROL.sub(" ", text).strip()


def md(text: str) -> str:
    """Plain text, safe in Markdown and in a table cell: markup characters are escaped."""
    return _PUNCTUATION.sub(r"\\\1", one_line(text))


def code(text: str) -> str:
    """``text`` as a code span, whatever backticks or pipes it holds."""
    text = one_line(text).replace("|", "\\|")
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(lines: list[str]) -> list[str]:
    """A code block holding ``lines`` verbatim (control characters aside)."""
    body = [CONTROL.sub(" ", line) for line in lines]
    runs = [len(r) for line in body for r in re.findall(r"`{3,}", line)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [fence, *body, fence]


def _table(header: list[str], rows: list[list[str]], total: int) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if total > len(rows):
        lines += ["", f"… and {total - len(rows)} more (see the JSON report)."]
    return lines


def _failing_row(pkg: PackageResult) -> list[str]:
    signers = ", ".join(md(s) for s in pkg.signers + pkg.rejected_by) or "—"
    why = [pkg.reason, *notes(pkg), *[x for x in [alternatives(pkg)] if x]]
    when = f"; {md(age(pkg))}" if age(pkg) else ""
    return [code(pkg.spec), pkg.status.value, md("; ".join(why)), signers,
            f"{md(via(pkg))} ({code(where(pkg))}{when})"]


def _failing_table(title: str, found: list[PackageResult]) -> list[str]:
    header = ["package", "status", "why", "signed by", "via"]
    rows = [_failing_row(p) for p in found[:MAX_ROWS]]
    return [f"#### {title}", "", *_table(header, rows, len(found)), ""]


def _passed_row(pkg: PackageResult) -> list[str]:
    why = ", ".join(md(s) for s in pkg.signers) if pkg.status is Status.AUDITED else md(pkg.reason)
    return [code(pkg.spec), pkg.status.value, why]


def summary(result: CheckResult) -> str:
    """The whole summary as Markdown."""
    counts = {status: 0 for status, _ in COUNTED}
    for pkg in result.packages:
        counts[pkg.status] += 1
    mark = "❌" if result.blocking else "⚠️" if result.failing else "✅"
    lines = [f"### {mark} package-trust: {md(headline(result))}", ""]
    lines += _table([label for _, label in COUNTED], [[str(counts[s]) for s, _ in COUNTED]], 1)
    if result.fail_on_new or any(p.new is not None for p in result.failing):
        lines += ["", md(count_line(result))]
    ledgers = "; ".join(code(ledger_line(x)) for x in result.ledgers) or "none"
    lines += ["", f"Ledgers: {ledgers}", ""]
    lines += [f"> [!WARNING]\n> {md(note)}\n" for note in result.notices]
    failing, blocking = result.failing, result.blocking
    if failing:
        kept = {id(p) for p in blocking}
        warned = [p for p in failing if id(p) not in kept]
        if blocking:
            lines += _failing_table("Not audited", blocking)
        if warned:
            lines += _failing_table("Already there before this change: warnings "
                                    "(--fail-on new)", warned)
        lines += ["<details><summary>How to fix</summary>", "", *fenced(ways_out(result)),
                  "", "</details>", ""]
    passed = [p for p in result.packages if p.status.passed]
    if passed:
        noun = "package" if len(passed) == 1 else "packages"
        rows = [_passed_row(p) for p in passed[:MAX_ROWS]]
        lines += [f"<details><summary>{len(passed)} {noun} passed</summary>", ""]
        lines += _table(["package", "status", "signed by, or why it passed"], rows, len(passed))
        lines += ["", "</details>", ""]
    return "\n".join(lines)


class MarkdownReporter:
    def render(self, result: CheckResult) -> str:
        return summary(result)
