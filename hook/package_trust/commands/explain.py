"""What ``check`` adds to a result for the developer it blocked, and how it shows it:
each failing package's chain and whether the change brought it in (graph.py, since.py),
the audited versions to choose instead of a rejected one, a progress line while a slow
check runs, colour, ``--quiet`` and ``--output``. The engine stays silent and offline.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from package_trust import filenames
from package_trust.errors import LockfileError, PackageTrustError
from package_trust.filenames import lock_path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from package_trust.check.ledger import FolderLedger, Ledger
    from package_trust.check.policy import Policy
    from package_trust.check.result import CheckResult, PackageResult

PROGRESS_AFTER = 1.0  # seconds of silence before the progress line shows
MAX_ALTERNATIVES = 5  # audited versions named for a rejected package
MAX_CANDIDATES = 100  # versions of a package looked at in a ledger folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """check's options for the blocked developer."""
    parser.add_argument(
        "--fail-on", choices=("any", "new"), default="any",
        help="new: fail only on failing packages the change brought in (compared with the "
        "lockfile at --since, default HEAD); those already there are warnings")
    parser.add_argument(
        "--since", metavar="REF",
        help="tell new packages from those already there by the lockfile at this git "
        "revision (default HEAD), e.g. a pull request's base commit")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only the count (the exit code says the rest)")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write the report to FILE (whole or not at all), not to stdout")


def policy_files(policy_path: Path) -> set[str]:
    """The names of the policy and its lock, which the hook passes when they change."""
    return {policy_path.name, filenames.POLICY, lock_path(policy_path).name,
            lock_path(Path(filenames.POLICY)).name}


def hook_files(files: list[Path], policy_path: Path) -> list[Path]:
    """The files to check: as named, but for a commit that changes only the policy (the
    hook names only it), every lockfile git tracks. Exit 2 when git tracks none."""
    if not files or any(f.name not in policy_files(policy_path) for f in files):
        return files
    from package_trust.commands import since

    tracked = since.tracked_lockfiles()
    if tracked is None:  # not in git: the lockfile here, as before
        return files
    if not tracked:
        raise LockfileError("no lockfile to check: git tracks no package-lock.json or "
                            "npm-shrinkwrap.json here (outside node_modules); commit the "
                            "policy with the lockfile it is for")
    return [*files, *tracked]


def check_since(args: argparse.Namespace) -> None:
    """A --since that names no commit is an error before anything is checked."""
    if args.since is None:
        return
    from package_trust.commands import since

    try:
        found = since.commit_of(Path("."), args.since)
    except since.NotGit as e:
        raise PackageTrustError(f"--since {args.since}: {e}") from None
    if found is None:
        raise PackageTrustError(f"--since {args.since}: no such commit in this repository "
                                "(a shallow clone may lack it: fetch it first)")


def explain(result: CheckResult, args: argparse.Namespace) -> None:
    """Fill in, for each failing package, why it is there, whether it is new, and (a
    rejected one) what to choose instead."""
    result.fail_on_new = args.fail_on == "new"
    if not result.failing:
        return
    from package_trust.check import graph, lockfile
    from package_trust.check.result import Status
    from package_trust.commands import since

    loaded = []
    for path in result.lockfiles:
        with contextlib.suppress(LockfileError):  # changed since the check: no chains
            loaded.append(lockfile.load(path))
    graphs = graph.annotate_via(result, loaded)
    before = {}
    for lf in loaded:
        before[str(lf.path)], notice = since.before(lf.path, args.since)
        if notice:
            result.notices.append(notice)
    graph.mark_new(result, graphs, before)
    unknown = [p for p in result.failing if p.new is None]
    if result.fail_on_new and unknown:
        result.notices.append(
            f"--fail-on new: {len(unknown)} failing package(s) cannot be told new or already "
            "there (no git history to compare with, or not an entry of the lockfile), so "
            "they fail the check")
    rejected = [p for p in result.failing if p.status is Status.REJECTED]
    if rejected:
        audited_alternatives(rejected, args)


def audited_alternatives(rejected: list[PackageResult], args: argparse.Namespace) -> None:
    """For each rejected package, the other versions the ledger folders hold audited
    statements for that pass the policy on signatures alone, judged offline (against the
    hashes the statements name; the registry is not asked)."""
    from package_trust.cache.folder import clones
    from package_trust.check import policy
    from package_trust.check.ledger import FolderLedger, open_ledgers
    from package_trust.commands.check import given_ledgers

    try:
        pol = policy.load(args.policy)
        ledgers = given_ledgers(args.ledger) if args.ledger else open_ledgers(pol, clones())
        folders = [x for x in ledgers if isinstance(x, FolderLedger)]
        for pkg in rejected:
            found = _candidates(pkg.name, pkg.version, folders)
            pkg.alternatives = _passing(pkg.name, found, pol, ledgers)
    except PackageTrustError:
        return  # the advice goes without the list


def _versions(name: str, version: str, folders: list[FolderLedger]) -> list[str]:
    """The other versions of ``name`` the ledger folders hold, the highest first."""
    from package_trust.audit.review import version_key
    from package_trust.check.names import is_valid_name, is_valid_version

    if not is_valid_name(name):
        return []
    found: set[str] = set()
    for ledger in folders:
        with contextlib.suppress(OSError), os.scandir(
                ledger.root.joinpath("signatures", *name.split("/"))) as entries:
            found |= {e.name for e in entries if e.is_dir(follow_symlinks=False)
                      and is_valid_version(e.name) and e.name != version}
    return sorted(found, key=version_key, reverse=True)[:MAX_CANDIDATES]


def _candidates(name: str, version: str, folders: list[FolderLedger]) -> dict[str, set[str]]:
    """Version -> the sha512s its audited statements name, read without verifying (the
    engine then verifies them), for the other versions the ledger folders hold."""
    from package_trust.cache.clearsign import cleartext
    from package_trust.check import statement

    found: dict[str, set[str]] = {}
    for v in _versions(name, version, folders):
        for f in (f for ledger in folders for f in ledger.statements(name, v)):
            text = cleartext(f.data) if f.problem is None else None
            try:
                st = statement.parse(text) if text else None
            except statement.StatementError:
                continue
            if st is not None and (st.package, st.version, st.verdict) == (name, v, "audited"):
                found.setdefault(v, set()).add(st.sha512)
    return found


def _passing(name: str, found: dict[str, set[str]], pol: Policy,
             ledgers: Sequence[Ledger]) -> list[str]:
    """The versions in ``found`` one of whose tarballs passes on signatures alone."""
    from package_trust.check import engine
    from package_trust.check.lockfile import Dependency, Lockfile, Source
    from package_trust.check.result import Status

    deps = [Dependency(name, v, Source.REGISTRY, f"node_modules/{name}", f"sha512-{sha}")
            for v, hashes in found.items() for sha in sorted(hashes)]
    if not deps:
        return []
    result = engine.check([Lockfile(Path("ledger"), deps)], pol._replace(exemptions=[]), ledgers)
    audited = {p.version for p in result.packages if p.status is Status.AUDITED}
    return [v for v in found if v in audited][:MAX_ALTERNATIVES]


@contextlib.contextmanager
def progress(args: argparse.Namespace, stream: TextIO | None = None) -> Iterator[None]:
    """While the check runs: after PROGRESS_AFTER seconds, a line on stderr (a terminal
    only, and not --quiet) saying what is checked and for how long; cleared at the end."""
    stream = stream or sys.stderr
    if args.quiet or not stream.isatty():
        yield
        return
    import threading
    import time

    names = ", ".join(str(f) for f in args.files) or "the lockfile"
    done = threading.Event()
    shown = threading.Event()

    def show() -> None:
        start = time.monotonic()
        while not done.wait(PROGRESS_AFTER if not shown.is_set() else 0.5):
            seconds = int(time.monotonic() - start)
            stream.write(f"\rpackage-trust: checking {names} against the ledger, verifying "
                         f"signatures… {seconds} s\x1b[K")
            stream.flush()
            shown.set()

    thread = threading.Thread(target=show, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if shown.is_set():
            stream.write("\r\x1b[K")
            stream.flush()


def colour(args: argparse.Namespace) -> bool:
    """Colour for the text report: on a terminal, when NO_COLOR is unset (or empty)."""
    return (args.format == "text" and args.output is None and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb" and sys.stdout.isatty())


def variant(args: argparse.Namespace) -> list[str]:
    """What changes a passing report's text beside the format (for the result cache)."""
    return [f"quiet={args.quiet}", f"colour={colour(args)}", f"fail-on={args.fail_on}"]


def render(result: CheckResult, args: argparse.Namespace) -> str:
    """The report in --format: the text one coloured on a terminal, or only its count."""
    from package_trust.formats import FORMATS

    if args.format != "text":
        return FORMATS[args.format].render(result)
    from package_trust.formats.text import TextReporter, headline
    from package_trust.textsafe import printable

    if args.quiet:
        return printable(headline(result)) + "\n"
    return TextReporter(colour=colour(args)).render(result)


def emit(out: str, args: argparse.Namespace) -> None:
    """The report to stdout, or (--output) to a file, whole or not at all."""
    if args.output is None:
        sys.stdout.write(out)
        return
    from package_trust.atomic import write_atomic

    try:
        write_atomic(args.output, out.encode())
    except OSError as e:
        raise PackageTrustError(f"cannot write the report: {e.strerror}", args.output) from None
