"""The HTML report: one self-contained page (no request leaves it: no external script, style,
font or image), rendered from the same CheckResult as every other format.

The verdict, the counts and the coverage bars are HTML, readable without JavaScript. The
rest (the package table, the reviewers, the exemptions, the backlog) is drawn by the page's
one inline script from a JSON block. Text from lockfiles, statements and notes is made
printable (as in the terminal), escaped in the HTML, and escaped in the JSON so that
``</script>`` or ``<!--`` cannot end the block; the script only ever sets it as text. A
Content-Security-Policy allows nothing but the page's own script and style, by their hashes.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import html
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from importlib import resources
from string import Template
from typing import Any

from package_trust.check.policy import Exemptions
from package_trust.check.result import CheckResult, PackageResult, StatementResult, Status
from package_trust.formats.markdown import COUNTED
from package_trust.formats.text import headline, ledger_line
from package_trust.textsafe import printable

# What other parts may add to a PackageResult: rendered when present, not required.
OPTIONAL = ("via", "new", "scope", "chain", "lines")
SOON = dt.timedelta(days=30)  # an exemption expiring within this is flagged


@functools.cache
def _asset(name: str) -> str:
    return resources.files("package_trust").joinpath("data", name).read_text("utf-8")


def csp_hash(text: str) -> str:
    """A CSP source allowing exactly this inline script or style."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def script_json(data: object) -> str:
    """JSON to put inside ``<script type="application/json">``: ASCII, with ``<``, ``>`` and
    ``&`` as escapes (which JSON.parse reads back), so no ``</script>`` or ``<!--`` appears."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _text(value: object) -> str:
    """Untrusted text on one line, every control character made visible."""
    return printable(str(value))


def _notes(value: str | None) -> str | None:
    """A statement's notes, keeping their line breaks."""
    if value is None:
        return None
    return "\n".join(printable(line) for line in value.replace("\r\n", "\n").split("\n"))


def _value(value: object) -> Any:
    """An attribute another part may add (``via``, ``scope``…) as JSON: text made printable,
    sequences kept as lists."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        return [_value(v) for v in value]
    return _text(value)


def _statement(s: StatementResult) -> dict[str, Any]:
    return {
        "signer": _text(s.signer or s.uid or s.fingerprint or "unknown key"),
        "outcome": _text(s.outcome), "verdict": _value(s.verdict),
        "counted": s.counted, "rejects": s.rejects, "signed_at": _value(s.signed_at),
        "problem": _value(s.problem), "notes": _notes(s.notes), "origin": _text(s.origin),
    }


def _vouching(pkg: PackageResult) -> list[StatementResult]:
    return [s for s in pkg.statements if s.counted or s.rejects]


def _newest(times: Iterable[int | None]) -> int | None:
    return max((t for t in times if isinstance(t, int)), default=None)


def package_row(pkg: PackageResult) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": _text(pkg.name), "version": _text(pkg.version), "status": pkg.status.value,
        "reason": _text(pkg.reason), "signatures": pkg.signatures, "required": pkg.required,
        "signers": [_text(s) for s in pkg.signers],
        "rejected_by": [_text(s) for s in pkg.rejected_by],
        "problems": [_text(p) for p in pkg.problems],
        "exemption": None if pkg.exemption is None else _text(pkg.exemption),
        "source": _text(pkg.source), "lockfile": _text(pkg.lockfile), "line": pkg.line,
        "paths": [_text(p) for p in pkg.paths],
        "signed": _newest(s.signed_at for s in _vouching(pkg)),
        "statements": [_statement(s) for s in pkg.statements],
    }
    for name in OPTIONAL:
        row[name] = _value(getattr(pkg, name, None))
    return row


def reviewers(result: CheckResult) -> list[dict[str, Any]]:
    """Each key that vouched for (or rejected) a package, most recent first."""
    found: dict[str, dict[str, Any]] = {}
    for pkg in result.packages:
        for s in _vouching(pkg):
            key = s.fingerprint or s.signer or "?"
            who = found.setdefault(key, {"name": _text(s.signer or s.uid or key),
                                         "fingerprint": s.fingerprint, "specs": {}})
            seen = who["specs"].get(pkg.spec)
            if seen is None or (s.signed_at or 0) > (seen["signed_at"] or 0):
                who["specs"][pkg.spec] = {"spec": _text(pkg.spec), "signed_at": s.signed_at,
                                          "verdict": "rejected" if s.rejects else "audited"}
    out = []
    for who in found.values():
        vouched = sorted(who.pop("specs").values(), key=lambda x: -(x["signed_at"] or 0))
        rejected = sum(x["verdict"] == "rejected" for x in vouched)
        times = [x["signed_at"] for x in vouched if x["signed_at"] is not None]
        out.append(who | {"audited": len(vouched) - rejected, "rejected": rejected,
                          "newest": max(times, default=None), "oldest": min(times, default=None),
                          "packages": vouched})
    return sorted(out, key=lambda r: (-(r["newest"] or 0), r["name"]))


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def exemptions(result: CheckResult, today: dt.date) -> list[dict[str, Any]]:
    """The policy's exemptions, applied or not (those that applied, when the result does
    not carry the policy's), soonest expiry first, each with the number of exempt packages
    it is the first to name."""
    exempt = [p for p in result.packages if p.status is Status.EXEMPT]
    rows: list[tuple[str, str | None, dt.date | None, int]]
    if result.exemptions is not None:
        listed = result.exemptions
        found = listed if isinstance(listed, Exemptions) else Exemptions(listed)
        first: Counter[int] = Counter()
        for p in exempt:
            named = found.positions(p.name, p.version)
            if named:
                first[named[0]] += 1
        rows = [(e.package, e.reason, e.expires, first[n]) for n, e in enumerate(found)]
    else:
        rows = [(p.spec, p.exemption, _date(p.exemption_expires), 1) for p in exempt]
    out = [{"package": _text(pattern), "reason": _text(reason or ""),
            "expires": expires and expires.isoformat(),
            "expired": bool(expires and expires < today),
            "soon": bool(expires and today <= expires <= today + SOON), "packages": covered}
           for pattern, reason, expires, covered in rows]
    return sorted(out, key=lambda x: (x["expires"] is None, x["expires"] or "", x["package"]))


def backlog(result: CheckResult) -> dict[str, Any] | None:
    """``suggest``'s reviews, smallest first, and the lines they read; None when the
    result has none."""
    if result.backlog is None:
        return None
    rows = [{"package": _text(r.spec), "kind": "full" if r.base is None else "delta",
             "from": None if r.base is None else _text(r.base), "lines": r.lines,
             "command": _text(r.command)} for r in result.backlog]
    rows.sort(key=lambda x: (x["lines"], x["package"]))
    return {"items": rows, "lines": sum(x["lines"] for x in rows)}


def counts(result: CheckResult) -> dict[str, int]:
    found = {status.value: 0 for status, _ in COUNTED}
    for pkg in result.packages:
        found[pkg.status.value] += 1
    return found


def lines_by_status(result: CheckResult) -> dict[str, int] | None:
    """Lines of code per status, when the result knows them for some package."""
    found = {status.value: 0 for status, _ in COUNTED}
    known = False
    for pkg in result.packages:
        lines = getattr(pkg, "lines", None)
        if isinstance(lines, int) and not isinstance(lines, bool):
            found[pkg.status.value] += lines
            known = True
    return found if known else None


def report_data(result: CheckResult, today: dt.date) -> dict[str, Any]:
    """Everything the page's script draws."""
    return {
        "statuses": [{"id": s.value, "label": label} for s, label in COUNTED],
        "counts": counts(result),
        "packages": [package_row(p) for p in result.packages],
        "reviewers": reviewers(result),
        "exemptions": exemptions(result, today),
        "expiry_known": result.exemptions is not None,
        "backlog": backlog(result),
    }


def _bar(name: str, caption: str, values: dict[str, int]) -> tuple[str, str]:
    """A coverage bar and its legend (HTML), and the CSS sizing its segments."""
    total = sum(values.values())
    shown = [(s.value, label) for s, label in COUNTED if values[s.value]]
    said = ", ".join(f"{label} {values[s]:,}" for s, label in shown)
    segments = "".join(
        f'<span class="seg s-{s}" title="{label}: {values[s]:,}"></span>' for s, label in shown
    )
    legend = "".join(
        f'<li><span class="swatch s-{s.value}" aria-hidden="true"></span>{label} '
        f'<strong class="count" data-status="{s.value}">{values[s.value]:,}</strong> '
        f'<span class="pct">{_percent(values[s.value], total)}</span></li>'
        for s, label in COUNTED
    )
    css = "".join(f".bar-{name} .s-{s}{{flex:{values[s]} 0 0}}" for s, _ in shown)
    block = (f'<figure class="coverage"><figcaption>{caption}</figcaption>'
             f'<div class="bar bar-{name}" role="img" aria-label="{html.escape(said or "none")}">'
             f'{segments}</div><ul class="legend" data-bar="{name}">{legend}</ul></figure>')
    return block, css


def _percent(part: int, total: int) -> str:
    return f"{100 * part / total:.1f}%" if total else "—"


def coverage(result: CheckResult) -> tuple[str, str]:
    """The coverage section's HTML (by packages, and by lines where known) and its CSS."""
    by_package = counts(result)
    n, checked = len(result.packages), len(result.checked)
    caption = f"By packages: {n:,} lockfile entries ({checked:,} checked, {n - checked:,} skipped)"
    html_, css = _bar("packages", caption, by_package)
    lines = lines_by_status(result)
    if lines is not None:
        measured = sum(isinstance(getattr(p, "lines", None), int) for p in result.packages)
        more, more_css = _bar("lines", f"By lines of code: {sum(lines.values()):,} in the "
                              f"{measured:,} packages measured", lines)
        html_, css = html_ + more, css + more_css
    return html_, css


def _meta(result: CheckResult, today: dt.date) -> str:
    ledgers = "; ".join(ledger_line(x) for x in result.ledgers) or "none"
    lockfiles = ", ".join(str(p) for p in result.lockfiles) or "none"
    return " · ".join(html.escape(_text(x)) for x in (
        f"policy {result.policy}", f"lockfiles {lockfiles}", f"ledgers {ledgers}",
        f"checked on {today.isoformat()}"))


def _notices(result: CheckResult) -> str:
    if not result.notices:
        return ""
    items = "".join(f"<li>{html.escape(_text(n))}</li>" for n in result.notices)
    return ('<section class="card" aria-labelledby="notices-title"><h2 id="notices-title">'
            f'Notes</h2><ul class="notices">{items}</ul></section>')


def render_page(result: CheckResult, today: dt.date) -> str:
    script = _asset("report.js")
    coverage_html, bar_css = coverage(result)
    style = _asset("report.css") + bar_css
    csp = (f"default-src 'none'; script-src {csp_hash(script)}; style-src {csp_hash(style)}; "
           "base-uri 'none'; form-action 'none'")
    passed = not result.blocking
    title = headline(result)
    page = Template(_asset("report.html")).substitute(
        csp=csp, style=style, script=script, data=script_json(report_data(result, today)),
        title=html.escape(_text(f"package-trust: {title}")),
        verdict_class="pass" if passed else "fail",
        verdict="✓ Passed" if passed else "✗ Not passed",
        headline=html.escape(_text(title)), meta=_meta(result, today),
        coverage=coverage_html, notices=_notices(result),
    )
    # Lone surrogates (a hostile name can hold one) cannot be written as UTF-8.
    return page.encode("utf-8", "replace").decode("utf-8")


class HtmlReporter:
    def render(self, result: CheckResult) -> str:
        return render_page(result, dt.date.today())
