"""``package-trust init``: adopt package-trust in a project whose dependencies nobody has
audited yet. Writes trust-policy.yml (and keys/, signatures/ when the policy names no
ledger) with an exemption for every registry package the ledgers do not cover, each
pinned to its tarball, so that ``check`` passes on day one. Run again, it adds only what
is missing and changes nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

from package_trust import filenames
from package_trust.audit import baseline, policyfile, usergpg
from package_trust.check import lockfile
from package_trust.check.gpg import Keyring
from package_trust.check.ledger import FolderLedger, Ledger
from package_trust.check.policy import Exemption, TrustedKey, parse
from package_trust.check.result import CheckResult, Status
from package_trust.commands import workspace
from package_trust.errors import EXIT_FAILED, EXIT_OK, GpgError, PolicyError
from package_trust.textsafe import printable

NAME = "init"
HELP = "adopt package-trust: a policy whose exemptions baseline every package not yet audited"
HEADER = """\
# Which reviewers this project trusts, how many signatures each package needs, and the
# packages it exempts for now. `package-trust init` wrote the baseline exemptions on
# {today}; `package-trust suggest` ranks the reviews that retire them, and
# `package-trust exemptions prune` removes those no longer needed.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", type=Path, metavar="LOCKFILE",
                        help="the lockfiles to baseline (default: ./package-lock.json or "
                        "./npm-shrinkwrap.json)")
    parser.add_argument("--policy", type=Path, default=Path(filenames.POLICY),
                        help="default: %(default)s")
    parser.add_argument("--trust", action="append", default=[], metavar="FINGERPRINT",
                        help="a reviewer's key to trust (repeatable); its public key is "
                        "taken from the ledger's keys/, else exported there from your GnuPG")
    parser.add_argument("--minimum", type=int, metavar="N",
                        help="minimum-signatures of a new policy (default: 1)")
    parser.add_argument("--expires", type=int, default=baseline.DEFAULT_DAYS, metavar="DAYS",
                        help="the exemptions added expire after DAYS (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from package_trust.commands.check import lockfile_paths

    today = dt.date.today()
    if args.expires < 1:
        raise PolicyError(f"--expires {args.expires}: give a number of days of at least 1")
    path: Path = args.policy
    lockfiles = [lockfile.load(p) for p in lockfile_paths(args.files, path)]
    text, ledgers = _policy_text(path, args.trust, args.minimum, today)
    policy = parse(path, text)
    result = workspace.checked(lockfiles, policy, ledgers, today)
    added = baseline.missing(result, policy, today, args.expires)
    text = policyfile.edit_exemptions(policy, text, add=added)
    if not path.exists() or text != path.read_text(encoding="utf-8"):
        policyfile.write(path, text)
        print(f"wrote {path}")
    else:
        print(f"{path}: nothing to add, left as it was")
    _summary(result, added, today, args.expires)
    return _outcome(workspace.checked(lockfiles, parse(path, text), ledgers, today))


def _policy_text(path: Path, trust: list[str], minimum: int | None,
                 today: dt.date) -> tuple[str, list[Ledger]]:
    """The policy's text, with the keys to trust added, and its ledgers; a new policy
    gets a ledger of its own beside it (keys/, signatures/)."""
    if not path.exists():
        if not trust:
            raise PolicyError("a new policy needs a trusted key: --trust FINGERPRINT (yours: "
                              "gpg --list-secret-keys --with-colons)", path)
        root = path.parent
        given = minimum or 1
        if not 1 <= given <= len(set(trust)):
            raise PolicyError(f"--minimum {given}: give a number from 1 to the number of "
                              f"keys to trust ({len(set(trust))})", path)
        keys = [_trusted_key(root, t) for t in dict.fromkeys(trust)]
        for folder in ("keys", "signatures"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        text = HEADER.format(today=today.isoformat()) + f"minimum-signatures: {given}\n"
        text += "trusted-keys:\n" + policyfile.render(
            [[("fingerprint", k.fingerprint), ("name", k.name)] for k in keys], 2)
        print(f"the ledger: {root / 'keys'}/ (reviewers' public keys) and "
              f"{root / 'signatures'}/ (their signed statements)")
        return text, [FolderLedger(root)]
    policy = workspace.optional_policy(path)
    assert policy is not None
    if minimum is not None and minimum != policy.minimum_signatures:
        raise PolicyError(f"the policy already asks minimum-signatures: "
                          f"{policy.minimum_signatures}; init changes nothing but exemptions "
                          "and trusted keys: edit it by hand", path)
    text = path.read_text(encoding="utf-8")
    new = [t for t in dict.fromkeys(usergpg.full_fingerprint(t) for t in trust)
           if t not in policy.fingerprints]
    if new:
        root = workspace.ledger_root(None, path)
        text = policyfile.add_trusted_keys(policy, text, [_trusted_key(root, t) for t in new])
    judged = workspace.judging(None, path)
    assert judged is not None
    return text, judged[1]


def _trusted_key(ledger: Path, given: str) -> TrustedKey:
    """The key to trust, named by its user ID: in the ledger's keys/, else exported there
    from the user's GnuPG (``keys export``)."""
    from package_trust.commands.keys import install

    fingerprint = usergpg.full_fingerprint(given)
    path = ledger / "keys" / f"{fingerprint}.asc"
    # read as the check reads keys/: no link followed, nothing over the size limit
    found = [f for f in FolderLedger(ledger).key_files() if f.origin.endswith(f"/{path.name}")
             ] if os.path.lexists(path) else []
    if found:
        with Keyring(found) as ring:
            info = ring.keys.get(fingerprint)
        if info is None:
            why = f" ({found[0].problem})" if found[0].problem else ""
            raise PolicyError(f"{path} does not hold the key {fingerprint}{why}")
        return TrustedKey(fingerprint, info.uid or fingerprint, 0)
    try:
        key = usergpg.find_key(fingerprint)
    except GpgError as e:
        raise GpgError(f"key {fingerprint} is neither in {ledger / 'keys'} nor usable from "
                       f"your GnuPG ({e.message}): add its public key with "
                       "package-trust keys add FILE") from None
    written, info = install(ledger, usergpg.export_public(key), key.fingerprint)
    print(printable(f"wrote {written}: {info.fingerprint} {info.uid}"))
    return TrustedKey(key.fingerprint, info.uid or key.fingerprint, 0)


def _summary(result: CheckResult, added: list[Exemption], today: dt.date,
             days: int) -> None:
    audited = sum(p.status is Status.AUDITED for p in result.packages)
    exempt = sum(p.status is Status.EXEMPT for p in result.packages)
    print(f"{len(result.checked)} packages: {audited} audited by trusted keys, {exempt} "
          f"exempt already, {len(added)} exemptions added")
    if added:
        until = today + dt.timedelta(days=days)
        print(f"    each pinned to its tarball: \"{baseline.reason(today)}\", until {until}")


def _outcome(final: CheckResult) -> int:
    """0 when the check now passes; else 1, with what init could not exempt."""
    if not final.failing:
        print("package-trust check now passes; the review backlog: package-trust suggest")
        return EXIT_OK
    n = len(final.failing)
    print(f"package-trust check still fails on {n} package{'' if n == 1 else 's'}, which "
          "init does not exempt:")
    for pkg in final.failing:
        print(printable(f"    {pkg.spec} ({pkg.status.value}): {pkg.reason}"))
    return EXIT_FAILED
