"""GitHub Actions: the text report for the log, then an error annotation at each failing
package's line in its lockfile (workflow commands), and the job summary.

Everything printed is either a workflow command whose data and properties are escaped, or
text between ``::stop-commands::`` and its token, or a ``plain`` line, so that no
package name, reason or file name can smuggle in a workflow command of its own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from package_trust.check.result import CheckResult, PackageResult, Status
from package_trust.errors import PackageTrustError
from package_trust.formats.markdown import MAX_ROWS, summary
from package_trust.formats.text import TextReporter, details, ordered
from package_trust.textsafe import printable

MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations per step
MAX_NAMED = 20  # packages named in the notice for the annotations left out
TITLES = {
    Status.UNAUDITED: "is not audited",
    Status.REJECTED: "was rejected by an auditor",
    Status.UNVERIFIABLE: "cannot be checked against the ledger",
}


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped, then other control characters
    and lone surrogates made printable (``\\x1b``)."""
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(text: str) -> str:
    """A workflow command's property value: ``:`` and ``,`` escaped as well."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str | int | None) -> str:
    """``::name key=value,...::message``, leaving out properties that are None."""
    props = ",".join(
        f"{key}={escape_property(str(value))}" for key, value in properties.items()
        if value is not None
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def plain(text: str) -> str:
    """``text`` as one line the runner cannot take as a command, on stdout or stderr: it
    reads ``::name::`` at the start of a line and ``##[name]`` anywhere in one."""
    line = printable(text).replace("##[", "##\\[")
    return "\\" + line if line.lstrip().startswith("::") else line


def quiet(text: str) -> list[str]:
    """``text`` printed with workflow commands off: the token is its own hash, so the text
    cannot contain the line that turns them back on."""
    token = hashlib.sha256(text.encode()).hexdigest()
    return [f"::stop-commands::{token}", text.rstrip("\n"), f"::{token}::"]


def repo_path(path: str | Path) -> str:
    """``path`` as GitHub wants it: relative to the repository ($GITHUB_WORKSPACE, else the
    working directory), with forward slashes; absolute when it lies outside."""
    full = Path(path).resolve()
    root = Path(os.environ.get("GITHUB_WORKSPACE") or ".").resolve()
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        return full.as_posix()


def title(pkg: PackageResult) -> str:
    return f"{pkg.spec} {TITLES.get(pkg.status, pkg.status.value)}"


def annotation(pkg: PackageResult, level: str = "error") -> str:
    """An error (a warning: a package that does not fail the check) at the package's line,
    saying why it fails and what brings it in."""
    message = "\n".join([f"{pkg.status.value}: {pkg.reason}", *details(pkg, place=False)])
    return command(level, message, file=repo_path(pkg.lockfile), line=pkg.line, title=title(pkg))


def listed_where(failing: int) -> str:
    """Where the failing packages are listed: the job summary holds MAX_ROWS at most."""
    if failing <= MAX_ROWS:
        return "The job summary lists them all."
    return (f"The job summary lists the first {MAX_ROWS} of the {failing}; "
            "the JSON report lists them all.")


def annotate(result: CheckResult) -> list[str]:
    """At most MAX_ANNOTATIONS errors (and as many warnings, for packages that do not
    fail the check), then one notice naming the rest."""
    failing, kept = ordered(result), {id(p) for p in result.blocking}
    errors = [p for p in failing if id(p) in kept]
    warnings = [p for p in failing if id(p) not in kept]
    lines = [annotation(p) for p in errors[:MAX_ANNOTATIONS]]
    lines += [annotation(p, "warning") for p in warnings[:MAX_ANNOTATIONS]]
    rest = errors[MAX_ANNOTATIONS:] + warnings[MAX_ANNOTATIONS:]
    if rest:
        named = ", ".join(p.spec for p in rest[:MAX_NAMED])
        more = f" and {len(rest) - MAX_NAMED} more" if len(rest) > MAX_NAMED else ""
        noun = "package is" if len(rest) == 1 else "packages are"
        lines.append(command(
            "notice",
            f"{len(rest)} more {noun} not audited: {named}{more}. {listed_where(len(failing))}",
            title=f"package-trust: {len(rest)} more not audited",
        ))
    lines += [command("warning", note, title="package-trust") for note in result.notices]
    return lines


def error_annotation(error: PackageTrustError) -> str:
    """A check that could not be made, anchored at the file (and line) to fix."""
    file = None if error.path is None else repo_path(error.path)
    return command("error", error.message, file=file, line=error.line,
                   title="package-trust could not check")


def append_step_summary(result: CheckResult) -> None:
    """Append the Markdown summary to $GITHUB_STEP_SUMMARY when it is set. A failure to
    write it is a warning: the check's verdict stands either way."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(summary(result))
    except OSError as e:
        print(command("warning", f"cannot write the job summary: {e.strerror}",
                      title="package-trust"))


class GithubReporter:
    def render(self, result: CheckResult) -> str:
        return "\n".join([*quiet(TextReporter().render(result)), *annotate(result)]) + "\n"
