"""The terminal report: what a developer whose commit was blocked needs to read. Counts
first; then at most MAX_LISTED failing packages grouped by reason, each with the chain
that brings it in; then what to do, by reason. Names, versions, reasons and paths come
from lockfiles and ledgers: each line is made printable (colour is added after).
"""

import json
import shlex
from collections.abc import Callable
from typing import NamedTuple

from package_trust.check.result import CheckResult, LedgerInfo, PackageResult, Status
from package_trust.textsafe import printable

MAX_PATHS = 3
MAX_LISTED = 20  # packages the text report lists; the JSON and Markdown ones list all
MAX_NOTES = 300  # characters of a reviewer's notes shown
MAX_NAMED = 3  # packages a batch command names before it takes --lockfile … --failing
CHAIN = " \u203a "  # between the names of a dependency chain: a single right angle quote


class Reason(NamedTuple):
    key: str
    label: str  # the group's header: label (count): hint
    hint: str


REASONS = [
    Reason("rejected", "Rejected by a trusted reviewer", "choose another version"),
    Reason("source", "From outside the npm registry", "no audit can cover them"),
    Reason("sync", "package.json and the lockfile disagree",
           "npm would install what was never checked"),
    Reason("unbound", "Cannot be bound to an audit", "no sha512 integrity, or no valid name"),
    Reason("unaudited", "Not audited", "have them audited"),
]
_ORDER = {r.key: i for i, r in enumerate(REASONS)}


def reason_of(pkg: PackageResult) -> str:
    """The key of the group a failing package is listed in, which decides the advice."""
    if pkg.status is Status.REJECTED:
        return "rejected"
    if pkg.status is Status.UNAUDITED:
        return "unaudited"
    return {"other": "source", "package.json": "sync"}.get(pkg.source, "unbound")


def ordered(result: CheckResult) -> list[PackageResult]:
    """The failing packages as listed: those that fail the check first, by reason."""
    blocking = {id(p) for p in result.blocking}
    return sorted(result.failing,
                  key=lambda p: (id(p) not in blocking, _ORDER[reason_of(p)]))


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


def counts(result: CheckResult) -> str:
    """``2 unaudited, 1 rejected; 1 new, 2 already there before this change``."""
    failing = result.failing
    by_status = [(s, sum(p.status is s for p in failing))
                 for s in (Status.UNAUDITED, Status.REJECTED, Status.UNVERIFIABLE)]
    line = ", ".join(f"{n} {s.value}" for s, n in by_status if n)
    new = sum(p.new is True for p in failing)
    old = sum(p.new is False for p in failing)
    if new or old:
        line += f"; {new} new, {old} already there before this change"
    if result.fail_on_new:
        n = len(result.blocking)
        line += f"; {n} {'fails' if n == 1 else 'fail'} the check (--fail-on new)"
    return line


def brought_in_by(pkg: PackageResult) -> str:
    """Where the lockfile installs the package (its first paths)."""
    shown = ", ".join(pkg.paths[:MAX_PATHS])
    more = len(pkg.paths) - MAX_PATHS
    return shown + (f" (+{more} more)" if more > 0 else "")


def via(pkg: PackageResult) -> str:
    """``via express, send, ms`` (joined by CHAIN), an alias saying what it aliases;
    else the install path (nothing in the lockfile reaches the package)."""
    if not pkg.via:
        return f"installed at {brought_in_by(pkg)}"
    alias = f" (npm:{pkg.spec})" if pkg.via[-1] != pkg.name else ""
    direct = ", a direct dependency" if len(pkg.via) == 1 else ""
    return f"via {CHAIN.join(pkg.via)}{alias}{direct}"


def where(pkg: PackageResult) -> str:
    """``package-lock.json:16``."""
    return f"{pkg.lockfile}:{pkg.line}" if pkg.line else pkg.lockfile


def age(pkg: PackageResult) -> str:
    """Whether the change brought the package in: ``new``, ``already there …``, or ``""``
    (nothing to compare with)."""
    if pkg.new is None:
        return ""
    return "new" if pkg.new else "already there before this change"


def located(pkg: PackageResult) -> str:
    """``package-lock.json:16; new``."""
    return "; ".join(x for x in (where(pkg), age(pkg)) if x)


def notes(pkg: PackageResult) -> list[str]:
    """What each rejecting reviewer wrote."""
    out = []
    for s in pkg.statements:
        if s.rejects:
            text = " ".join((s.notes or "").split())
            text = text if len(text) <= MAX_NOTES else text[:MAX_NOTES] + "…"
            out.append(f"{s.signer or s.fingerprint} wrote: {text}" if text
                       else f"{s.signer or s.fingerprint} left no notes")
    return out


def alternatives(pkg: PackageResult) -> str | None:
    """The versions the ledger holds as audited, for a rejected package."""
    if pkg.alternatives is None:
        return None
    if not pkg.alternatives:
        return f"the ledger holds no audited version of {pkg.name}"
    return f"audited versions of {pkg.name} in the ledger: {', '.join(pkg.alternatives)}"


def details(pkg: PackageResult, place: bool = True) -> list[str]:
    """The lines under a failing package: its chain (and ``place``, where it is in the
    lockfile), whether it is new, and for a rejected one the reviewers' notes and the
    versions to choose from."""
    if reason_of(pkg) == "sync":  # a package.json's line, not a package
        return [f"declared in {located(pkg) if place else where(pkg)}"]
    shown = located(pkg) if place else age(pkg)
    lines = [f"{via(pkg)} ({shown})" if shown else via(pkg)]
    if pkg.status is Status.REJECTED:
        lines += notes(pkg)
        lines += [x for x in [alternatives(pkg)] if x]
    return lines


def _batch(verb: str, specs: list[str], lockfiles: list[str], tail: str = "") -> str:
    """``package-trust fetch a@1 b@2``, or ``… --lockfile F --failing`` for many."""
    if len(specs) <= MAX_NAMED:
        named = " ".join(map(shlex.quote, specs))
    else:
        named = " ".join(f"--lockfile {shlex.quote(f)}" for f in lockfiles) + " --failing"
    return f"    package-trust {verb} {named}{tail}"


def _exemption(pkg: PackageResult, source: bool) -> list[str]:
    lines = ["    exemptions:", f"      - package: {json.dumps(pkg.spec)}"]
    if source and pkg.origin:
        lines.append(f"        source: {json.dumps(pkg.origin)}")
        if pkg.origin[:5].lower() == "file:" and pkg.integrity:  # a path pins no bytes
            lines.append(f"        integrity: {json.dumps(pkg.integrity)}")
    return [*lines, "        reason: why it needs no audit"]


def _unaudited(found: list[PackageResult], policy: str) -> list[str]:
    specs = list(dict.fromkeys(p.spec for p in found))
    lockfiles = list(dict.fromkeys(p.lockfile for p in found))
    return [
        "To audit them (auditors): review each, sign a statement, and open a pull request",
        "to the ledger with the new signatures/ files:",
        _batch("fetch", specs, lockfiles),
        _batch("sign", specs, lockfiles, " --key YOUR-FINGERPRINT"),
        f"To exempt one that needs no audit (maintainers), add to {policy}:",
        *_exemption(found[0], source=False),
    ]


def _rejected(found: list[PackageResult], policy: str) -> list[str]:
    return [
        "Rejected: do not install these versions. Choose another version (one the ledger",
        "holds as audited, named above), or drop or replace the dependency that brings it",
        "in (npm install NAME@VERSION, or an override in package.json). An exemption does",
        "not lift a rejection.",
    ]


def _source(found: list[PackageResult], policy: str) -> list[str]:
    return [
        "From outside the registry: switch to a registry version (npm install NAME@VERSION),",
        f"or, for first-party code, exempt it in {policy}, pinned to its source:",
        *_exemption(found[0], source=True),
    ]


def _sync(found: list[PackageResult], policy: str) -> list[str]:
    return ["Out of sync: run npm install --package-lock-only, and commit the lockfile."]


def _unbound(found: list[PackageResult], policy: str) -> list[str]:
    return ["Cannot be bound: install it afresh from the registry (npm install NAME@VERSION)",
            "so that the lockfile records its name, version and sha512 integrity."]


_ADVICE: dict[str, Callable[[list[PackageResult], str], list[str]]] = {
    "rejected": _rejected, "source": _source, "sync": _sync, "unbound": _unbound,
    "unaudited": _unaudited,
}


def ways_out(result: CheckResult, failing: list[PackageResult] | None = None) -> list[str]:
    """What to do next, for each reason a package fails, the worst first."""
    failing = result.failing if failing is None else failing
    lines: list[str] = []
    for reason in REASONS:
        found = [p for p in failing if reason_of(p) == reason.key]
        if found:
            lines += ["", *_ADVICE[reason.key](found, result.policy.name)]
    return lines[1:]


def ledger_line(ledger: LedgerInfo) -> str:
    """A ledger source and the commit it was read at."""
    return ledger.description + (f" at {ledger.revision}" if ledger.revision else "")


def more_line(shown: int, total: int) -> str | None:
    """The line after the list when it was cut short."""
    if total <= shown:
        return None
    return (f"… and {total - shown} more: package-trust check --format json (or "
            "--format markdown) lists them all")


# Roles of lines, and their colours (SGR codes) on a terminal.
OK, BAD, WARN, TITLE, DIM = "ok", "bad", "warn", "title", "dim"
_SGR = {OK: "1;32", BAD: "1;31", WARN: "1;33", TITLE: "1", DIM: "2"}
_STATUS_ROLE = {Status.REJECTED: BAD, Status.UNVERIFIABLE: BAD, Status.UNAUDITED: WARN}


class TextReporter:
    """The report; ``colour``: SGR colours, for a terminal."""

    def __init__(self, colour: bool = False) -> None:
        self.colour = colour

    def render(self, result: CheckResult) -> str:
        lines: list[tuple[str, str]] = []
        failing = result.failing
        role = BAD if result.blocking else WARN if failing else OK
        lines.append((role, headline(result, failing)))
        if failing:
            lines += [("", "  " + counts(result)), ("", "")]
        lines += self._listed(result)
        lines.append((DIM, f"ledgers: {'; '.join(ledger_line(x) for x in result.ledgers)}"))
        lines += [(WARN, f"note: {note}") for note in result.notices]
        ways = ways_out(result, failing)
        if ways:
            lines += [("", ""), (TITLE, "What to do:"), ("", ""), *[("", w) for w in ways]]
        return "".join(self._line(role, text) for role, text in lines)

    def _listed(self, result: CheckResult) -> list[tuple[str, str]]:
        listed = ordered(result)
        blocking = {id(p) for p in result.blocking}
        lines: list[tuple[str, str]] = []
        group: tuple[bool, str] | None = None
        for pkg in listed[:MAX_LISTED]:
            here = (id(pkg) in blocking, reason_of(pkg))
            if here != group:
                lines += self._title(result, listed, here, group)
                group = here
            lines.append((_STATUS_ROLE.get(pkg.status, ""),
                          f"  {pkg.spec}: {pkg.status.value}: {pkg.reason}"))
            lines += [(DIM, f"      {x}") for x in details(pkg)]
        more = more_line(min(len(listed), MAX_LISTED), len(listed))
        return lines + ([("", more)] if more else [])

    @staticmethod
    def _title(result: CheckResult, listed: list[PackageResult], here: tuple[bool, str],
               before: tuple[bool, str] | None) -> list[tuple[str, str]]:
        blocks, key = here
        lines = [] if before is None else [("", "")]
        if not blocks and (before is None or before[0]):
            lines.append((WARN, "Warnings: already there before this change, so they do not "
                                "fail the check (--fail-on new)"))
        blocking = {id(p) for p in result.blocking}
        n = sum((id(p) in blocking) == blocks and reason_of(p) == key for p in listed)
        reason = next(r for r in REASONS if r.key == key)
        return [*lines, (TITLE, f"{reason.label} ({n}): {reason.hint}")]

    def _line(self, role: str, text: str) -> str:
        text = printable(text)
        if self.colour and role in _SGR and text:
            return f"\x1b[{_SGR[role]}m{text}\x1b[0m\n"
        return text + "\n"
