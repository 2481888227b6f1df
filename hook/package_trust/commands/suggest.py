"""``package-trust suggest [--format text|json] [--report html=PATH]``: the review
backlog, smallest review first. For every package that fails the check or passes only by
exemption: a full audit, or a delta from the nearest version the ledgers' trusted keys
already audited, whichever reads fewer lines; the commands to run; and the total, "audit
backlog: N lines (M packages)". ``--report html=PATH`` also writes the check's HTML report
with the backlog in it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from package_trust import filenames
from package_trust.audit import suggest
from package_trust.cache import folder as cachedir
from package_trust.check.interfaces import FRESH
from package_trust.check.result import BacklogEntry
from package_trust.commands import workspace
from package_trust.errors import EXIT_OK
from package_trust.textsafe import printable

NAME = "suggest"
HELP = "rank the reviews that would audit what is failing or only exempt, smallest first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", type=Path, metavar="LOCKFILE",
                        help="lockfiles (default: ./package-lock.json or ./npm-shrinkwrap.json)")
    parser.add_argument("--policy", type=Path, default=Path(filenames.POLICY),
                        help="default: %(default)s")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="default: %(default)s")
    parser.add_argument("--report", action="append", default=[], type=html_report,
                        metavar="html=PATH",
                        help="also write the check's HTML report, with this backlog, to PATH "
                        "(repeatable)")
    workspace.add_registry(parser)


def html_report(value: str) -> Path:
    fmt, _, path = value.partition("=")
    if fmt != "html" or not path:
        raise argparse.ArgumentTypeError(f"{value!r}: expected html=PATH")
    return Path(path)


def run(args: argparse.Namespace) -> int:
    from package_trust.cache.memory import cached
    from package_trust.commands.exemptions import judged

    policy, ledgers, _, result = judged(args)
    with cached() as cache:
        found = suggest.backlog(suggest.candidates(result), policy, ledgers, args.registry,
                                _kept(), cache or FRESH)
    if args.report:
        from package_trust.commands.check import write_reports

        result.backlog = [BacklogEntry(r.candidate.spec, r.base, r.size.lines, r.commands[0])
                          for r in found.reviews]  # what could not be sized is left out
        write_reports(result, [("html", path) for path in args.report])
    if args.format == "json":
        json.dump(as_json(found), sys.stdout, indent=2)
        print()
    else:
        for line in suggest.iter_lines(found):
            print(printable(line))
    return EXIT_OK


def _kept() -> Path | None:
    """Where tarballs are kept: the user's cache folder, unless caching is off."""
    try:
        return cachedir.directory() / "tarballs" if cachedir.enabled() else None
    except RuntimeError:  # no home folder
        return None


def as_json(b: suggest.Backlog) -> dict[str, Any]:
    return {
        "backlog": {"lines": b.lines, "packages": len(b.reviews)},
        "reviews": [{
            "package": r.candidate.name, "version": r.candidate.version,
            "status": r.candidate.status, "review": "full" if r.base is None else "delta",
            "from": r.base, "lines": r.size.lines, "added": r.size.added,
            "removed": r.size.removed, "full_lines": r.full_lines,
            "minified_lines": r.size.minified, "binary_files": r.size.binary,
            "too_large_files": r.size.large, "commands": r.commands,
        } for r in b.reviews],
        "unsized": [{"package": u.candidate.name, "version": u.candidate.version,
                     "status": u.candidate.status, "problem": u.problem} for u in b.unsized],
    }
