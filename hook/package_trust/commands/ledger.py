"""``package-trust ledger lock|update``: pin the git ledgers a policy names, or fetch them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from package_trust.cache.folder import clones
from package_trust.check import lock, policy
from package_trust.check.ledger.git import open_git
from package_trust.check.ledger.gitcache import GitCache, is_commit_id
from package_trust.errors import EXIT_ERROR, EXIT_OK, PackageTrustError
from package_trust.filenames import lock_path
from package_trust.textsafe import printable

NAME = "ledger"
HELP = "pin the git ledgers the policy names (lock), or fetch them now (update)"
ACTIONS = {
    "lock": "fetch every git ledger and write its commit to trust-policy.lock, next to the "
    "policy; checks then read the ledgers at those commits",
    "update": "fetch every git ledger now and say what moved",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in ACTIONS.items():
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument(
            "--policy", type=Path, default=Path(policy.DEFAULT_NAME), help="default: %(default)s"
        )


def run(args: argparse.Namespace) -> int:
    pol = policy.load(args.policy)
    specs = [s for s in pol.ledgers if s.git is not None]
    if not specs:
        print(f"{pol.path.name} names no git ledgers: nothing to {args.action}")
        return EXIT_OK
    return lock_ledgers(pol, specs) if args.action == "lock" else update_ledgers(pol, specs)


def lock_ledgers(pol: policy.Policy, specs: list[policy.LedgerSpec]) -> int:
    """Fetch each source, check it is a ledger, and pin its commit."""
    fetched: set[str] = set()
    pins = []
    for spec in specs:
        ledger = open_git(spec, pol.path, clones(), fetch=spec.git not in fetched, pinned=False)
        ledger.close()
        fetched.add(ledger.url)
        pins.append(lock.Pin(ledger.url, spec.ref, spec.path, ledger.commit))
        print(f"{ledger.description}: {_ref(spec.ref)} at {ledger.commit}")
    path = lock_path(pol.path)
    try:
        lock.write(path, pins)
    except OSError as e:
        raise PackageTrustError(f"cannot write the lock file: {e.strerror}", path) from None
    print(f"wrote {path}")
    return EXIT_OK


def update_ledgers(pol: policy.Policy, specs: list[policy.LedgerSpec]) -> int:
    """Fetch each source now; say what moved, and where the lock file lags behind."""
    pins = lock.load(lock_path(pol.path))
    fetched: set[str] = set()
    code = EXIT_OK
    for spec in specs:
        assert spec.git is not None
        before = None if is_commit_id(spec.ref or "") else GitCache(
            spec.git, clones()).resolve(spec.ref)
        try:
            ledger = open_git(spec, pol.path, clones(), fetch=spec.git not in fetched, pinned=False)
        except PackageTrustError as e:
            print(f"package-trust: error: {printable(str(e))}", file=sys.stderr)
            code = EXIT_ERROR
            continue
        ledger.close()
        fetched.add(ledger.url)
        now, ref = ledger.commit, _ref(spec.ref)
        if before is None:
            print(f"{ledger.description}: fetched {ref} at {now}")
        elif before == now:
            print(f"{ledger.description}: {ref} is up to date at {now}")
        else:
            print(f"{ledger.description}: {ref} moved from {before} to {now}")
        pin = next((p.commit for p in pins or [] if p.matches(spec)), None)
        name = lock_path(pol.path).name
        if pins is not None and pin != now:
            held = f"still pins {pin}" if pin else "does not pin it"
            print(f"  {name} {held}: run `package-trust ledger lock` to read {now}")
    return code


def _ref(ref: str | None) -> str:
    return "the default branch" if ref is None else ref
