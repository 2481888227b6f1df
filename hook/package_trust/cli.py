"""The command line: ``main(argv) -> int``, with one error handler and fixed exit codes."""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import io
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from package_trust import __version__
from package_trust.errors import EXIT_ERROR, PackageTrustError
from package_trust.textsafe import printable

# Modules in package_trust.commands. Only the one being run is imported, so that
# `package-trust check` (a pre-commit hook) does not pay for the others' imports.
COMMANDS: list[str] = ["check", "ledger", "fetch", "inspect", "sign", "verify", "keys",
                       "init", "exemptions", "suggest"]


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"package_trust.commands.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command, or for ``only`` that one."""
    parser = argparse.ArgumentParser(
        prog="package-trust",
        description="Enforce signed audits of npm dependencies. Exit codes: 0 passed, "
        "1 packages failed the policy, 2 the check could not be made.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in map(command_module, [only] if only in COMMANDS else COMMANDS):
        p = sub.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    writable_streams()
    unsupported = unsupported_platform()
    if unsupported:
        print(f"package-trust: error: {unsupported}", file=sys.stderr)
        return EXIT_ERROR
    # A check is short-lived and makes few reference cycles: the cyclic garbage collector
    # would only cost the commit-time hook milliseconds.
    collecting = gc.isenabled()
    if _command(argv) == "check":
        gc.disable()
    try:
        return _main(argv)
    finally:
        if collecting:
            gc.enable()


# What package-trust needs of the system: file locks (fcntl), opens that refuse links and
# non-folders (O_NOFOLLOW, O_DIRECTORY), fchmod, and user ids. Windows has none of them.
POSIX_NAMES = ("O_DIRECTORY", "O_NOFOLLOW", "fchmod", "getuid", "geteuid")


def unsupported_platform() -> str | None:
    """One line saying which platforms package-trust runs on, when this is not one."""
    missing = [name for name in POSIX_NAMES if not hasattr(os, name)]
    if importlib.util.find_spec("fcntl") is None:
        missing.append("fcntl")
    if not missing:
        return None
    return (f"package-trust runs on Linux and macOS only, not on {sys.platform}: "
            f"it needs POSIX ({', '.join(missing)} missing)")


def writable_streams() -> None:
    """stdout and stderr that escape what their encoding cannot write (``\\udc80``, or
    ``\\xe9`` on an ASCII terminal) rather than fail: a report is always printed."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def _command(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def console() -> int:
    """The ``package-trust`` command: ``main``, then a quick exit. What is still alive is
    frozen, so that Python's collection at exit need not walk it all (milliseconds that a
    pre-commit hook pays on every commit)."""
    code = main()
    gc.freeze()
    return code


def _main(argv: list[str]) -> int:
    parser = build_parser(_command(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help is 0, a usage error is 2
        return int(e.code or 0)
    try:
        code: int = args.run(args)
        return code
    except PackageTrustError as e:
        print(f"package-trust: error: {printable(str(e))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("package-trust: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # fail closed: an unexpected error is never a pass
        if os.environ.get("PACKAGE_TRUST_DEBUG"):
            import traceback

            traceback.print_exc()
        message = printable(f"{type(e).__name__}: {e}")
        print(f"package-trust: internal error: {message}", file=sys.stderr)
        return EXIT_ERROR
