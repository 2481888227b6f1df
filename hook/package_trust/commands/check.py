"""``package-trust check``: every package in a lockfile against the signed ledger."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from package_trust import filenames
from package_trust.cache import results as resultcache
from package_trust.cache.memory import Cache, cached
from package_trust.commands import explain
from package_trust.errors import EXIT_ERROR, EXIT_OK, PackageTrustError
from package_trust.filenames import lock_path
from package_trust.formats import FORMATS

# The commit-time path: a check the result cache answers imports no more than this.
if TYPE_CHECKING:
    from package_trust.check.ledger import Ledger
    from package_trust.check.result import CheckResult


NAME = "check"
HELP = "check that every package in a lockfile carries enough trusted audit signatures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="LOCKFILE",
        help="lockfiles to check (default: ./package-lock.json or ./npm-shrinkwrap.json); "
        "the policy or its .lock file named here is ignored, so the pre-commit hook can pass "
        "what changed",
    )
    parser.add_argument(
        "--policy", type=Path, default=Path(filenames.POLICY), help="default: %(default)s"
    )
    parser.add_argument(
        "--format", choices=sorted(FORMATS), default="text", help="default: %(default)s"
    )
    parser.add_argument(
        "--no-cache", action="store_true",
        help="verify every signature afresh: neither read nor write the verification cache "
        "(also: PACKAGE_TRUST_NO_CACHE=1)",
    )
    parser.add_argument(
        "--report", action="append", default=[], type=report_spec, metavar="FORMAT=PATH",
        help="also write the report in FORMAT to PATH, from the same check (repeatable)",
    )
    parser.add_argument(
        "--ledger", action=LedgerOption, metavar="DIR",
        help="read keys/ and signatures/ from DIR instead of the ledgers the policy names "
        "(repeatable)",
    )
    for option, what in (("source", "where it came from"), ("revision", "its commit")):
        parser.add_argument(f"--ledger-{option}", action=LedgerOption, default=argparse.SUPPRESS,
                            help=f"for reports: {what}, of the --ledger DIR given before")
    explain.add_arguments(parser)


def report_spec(value: str) -> tuple[str, Path]:
    fmt, _, path = value.partition("=")
    if fmt not in FORMATS or not path:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected FORMAT=PATH, FORMAT one of {', '.join(sorted(FORMATS))}"
        )
    return fmt, Path(path)


class LedgerOption(argparse.Action):
    """--ledger DIR adds a folder; --ledger-source/--ledger-revision describe the last one."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        ledgers: list[dict[str, str]] = list(getattr(namespace, "ledger", None) or [])
        if option_string == "--ledger":
            ledgers.append({"root": str(values)})
        elif not ledgers:
            parser.error(f"{option_string} goes after the --ledger DIR it describes")
        else:
            ledgers[-1][str(option_string).removeprefix("--ledger-")] = str(values)
        namespace.ledger = ledgers


def given_ledgers(ledgers: list[dict[str, str]]) -> list[Ledger]:
    """The folders named with --ledger, opened."""
    from package_trust.check.ledger import FolderLedger

    return [FolderLedger(Path(x["root"]), x.get("source") or x["root"],
                         x.get("revision")) for x in ledgers]


def lockfile_paths(files: list[Path], policy_path: Path, probed: list[Path] | None = None
                   ) -> list[Path]:
    """The files named (ignoring the policy itself), one for each lockfile npm installs
    from (a package.json or a package-lock.json names its folder's; lockfile.load reads
    that), else the default one.

    Named only a package.json that declares nothing, a project with no lockfile yet has
    nothing to check. (Named only the policy, in git: see explain.hook_files.) ``probed``:
    where every path the choice looked at is noted (lockfile.lockfile_for).
    """
    from package_trust.check import lockfile

    named = [f for f in files if f.name not in explain.policy_files(policy_path)]
    if named:
        by_lockfile: dict[Path, Path] = {}
        for f in named:
            used = lockfile.lockfile_for(f, probed)
            if used is not None:
                by_lockfile.setdefault(used, f)
        return list(by_lockfile.values())
    return [lockfile.find_default(Path("."))]


def run_check(
    files: list[Path], policy_path: Path, ledgers: list[dict[str, str]] | None = None,
    cache: Cache | None = None,
) -> CheckResult:
    """Load, then check: the part every output format shares. With ``cache``, verify and
    judge with it, and note what the check read (``Cache.keep`` keeps the result)."""
    from package_trust.cache.folder import clones
    from package_trust.check import policy
    from package_trust.check.early import Early
    from package_trust.check.interfaces import FRESH
    from package_trust.check.ledger import open_ledgers

    today = dt.date.today()
    pol = cache.policy(policy_path) if cache is not None else policy.load(policy_path)
    probed: list[Path] = []  # what a kept result rests on, with what was read
    opened = given_ledgers(ledgers) if ledgers else open_ledgers(pol, clones())
    # The keys are imported meanwhile: from here on, gpg works while the engine and the
    # lockfile parsers are imported and the lockfiles are found and read.
    with Early(cache or FRESH, pol, opened) as memory:
        from package_trust.check import engine, lockfile

        paths = lockfile_paths(files, policy_path, probed)
        lockfiles = [lockfile.load(p) for p in paths]
        result = engine.check(lockfiles, pol, opened, memory, today)
    if cache is not None:
        cache.read(lockfiles, opened, today, probed)
    return result


def result_key(args: argparse.Namespace) -> bytes | None:
    """The result cache's key for this command, or None when it is not to be kept."""
    if args.report or args.format == "github":
        return None
    named = [str(f) for f in args.files]
    # The files named, and those a check looks for whatever it is named (a policy-only
    # commit checks ./package-lock.json); the entry also keeps every file the check read.
    looked_for = [Path(name) for name in (*filenames.LOCKFILES, filenames.MANIFEST)]
    registries = [f"{var}={value}" for setting in (filenames.REGISTRY, filenames.LEGACY_PEER)
                  for var, value in filenames.npm_env(setting)]
    # the local day decides which exemptions have expired (another time zone, another day)
    day = dt.date.today().isoformat()
    where = []
    if args.format == "sarif":  # its help links point at the repository the Action runs from
        from package_trust.formats import sarif

        where.append(repr(sarif.repository()))
    return resultcache.key(
        [args.format, *explain.variant(args), *registries, day, *where, str(args.policy),
         repr(args.ledger), *named],
        list(dict.fromkeys([*args.files, *looked_for, args.policy, lock_path(args.policy)])),
    )


def write_reports(result: CheckResult, reports: list[tuple[str, Path]]) -> None:
    """Each report (FORMAT, PATH) of ``result``, written whole or not at all."""
    from package_trust.atomic import write_atomic

    for fmt, path in reports:
        try:
            write_atomic(path, FORMATS[fmt].render(result).encode())
        except OSError as e:
            raise PackageTrustError(f"cannot write the report: {e.strerror}", path) from None


def run(args: argparse.Namespace) -> int:
    with cached(args.no_cache) as cache:
        return _run(args, cache)


def _run(args: argparse.Namespace, cache: Cache | None) -> int:
    try:
        args.files = explain.hook_files(args.files, args.policy)
        explain.check_since(args)
        key = result_key(args) if cache is not None else None
        if cache is not None and key is not None and (hit := cache.report(key)) is not None:
            explain.emit(hit, args)
            return EXIT_OK  # only passing checks are kept
        with explain.progress(args):
            result = run_check(args.files, args.policy, args.ledger, cache)
        explain.explain(result, args)
        report = explain.render(result, args)
        if cache is not None and key is not None:
            cache.keep(key, result, report)
    except PackageTrustError as e:
        if args.format != "github":
            raise
        from package_trust.formats import github

        # The runner reads commands on stderr too: the error there must not be one.
        print(github.error_annotation(e))
        print(github.plain(f"package-trust: error: {e}"), file=sys.stderr)
        return EXIT_ERROR
    write_reports(result, args.report)
    explain.emit(report, args)
    if args.format == "github":
        from package_trust.formats import github

        github.append_step_summary(result)
    return result.exit_code
