"""The check: every lockfile entry against the ledgers, under a policy. Never prints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from package_trust import cache, statement
from package_trust.errors import PolicyError
from package_trust.gpg import BAD_STATUS, KeyInfo, Verification
from package_trust.ledger import Ledger, LedgerFile
from package_trust.lockfile import Dependency, Lockfile, Source
from package_trust.names import is_valid_name, is_valid_version
from package_trust.policy import Policy
from package_trust.result import CheckResult, LedgerInfo, PackageResult, StatementResult, Status
from package_trust.resultcache import Seen
from package_trust.verdicts import Verdicts, read_for


class Verifier(Protocol):
    """Verifies statements against a keyring (a Keyring, or a cache in front of one)."""

    keys: dict[str, KeyInfo]

    def verify_many(self, statements: Sequence[bytes]) -> list[Verification]: ...

    def start(self, statements: Sequence[bytes]) -> Callable[[], list[Verification]]:
        """``verify_many`` begun: the function returned waits for the verifications."""

    def close(self) -> None: ...


VerifierFactory = Callable[[list[bytes]], Verifier]


def default_verifier(key_data: list[bytes]) -> Verifier:
    """A keyring behind the verification cache (cache.py), unless the cache is disabled."""
    return cache.open_verifier(key_data)


class _Group:
    """The entries of one lockfile that share name, version, integrity and source."""

    __slots__ = ("first", "lockfile", "paths")

    def __init__(self, first: Dependency, lockfile: Path) -> None:
        self.first = first
        self.lockfile = lockfile
        self.paths: list[str] = []


def check(
    lockfiles: Iterable[Lockfile],
    policy: Policy,
    ledgers: Sequence[Ledger],
    verifier: VerifierFactory = default_verifier,
    today: dt.date | None = None,
) -> CheckResult:
    """Check every dependency in ``lockfiles``; raise only when nothing could be checked."""
    today = today or dt.date.today()
    lockfiles = list(lockfiles)
    groups = _group(lockfiles)
    result = CheckResult(
        policy=policy.path,
        required=policy.minimum_signatures,
        lockfiles=[lf.path for lf in lockfiles],
        packages=[],
        ledgers=[LedgerInfo(ledger.description, ledger.revision) for ledger in ledgers],
        # a ledger's own notices, such as a git ledger read from an old cached copy
        notices=[n for ledger in ledgers for n in ledger.notices],
    )
    to_verify: list[tuple[PackageResult, bytes]] = []
    for g in groups:
        pkg = _triage(g, policy, today, result.notices)
        result.packages.append(pkg)
        if pkg.status is Status.UNAUDITED:  # provisional: the ledger decides
            digest = statement.sha512_of(g.first.integrity)
            if digest is not None:  # always so (_unverifiable)
                to_verify.append((pkg, digest))
    if not to_verify:
        result.inputs = _inputs(ledgers)
        return result

    keys = [f.data for ledger in ledgers for f in ledger.key_files() if f.problem is None]
    v = verifier(keys)
    try:
        _require_keys(policy, v.keys)
        memo = Verdicts.open(v, policy, ledgers)
        stored = memo.fetch(to_verify) if memo is not None else []
        kept = {id(pkg) for pkg, _ in stored}
        files: dict[int, list[LedgerFile]] = {}
        read: dict[int, Seen | None] = {}  # for each package, what was read for it, then
        # gpg verifies what no verdict covers while the verdicts kept are checked (stat).
        fresh = [pkg for pkg, _ in to_verify if id(pkg) not in kept]
        finish = _begin(v, ledgers, fresh, files, read)
        reused = memo.reuse(stored) if memo is not None else set()
        verified = finish()
        stale = [pkg for pkg, _ in stored if id(pkg) not in reused]
        verified.update(_begin(v, ledgers, stale, files, read)())
        judged = [(pkg, digest) for pkg, digest in to_verify if id(pkg) not in reused]
        for pkg, digest in judged:
            _judge(pkg, files[id(pkg)], verified, digest, policy, v.keys)
        if memo is not None:
            memo.remember([(pkg, digest, files[id(pkg)], read[id(pkg)]) for pkg, digest in judged],
                          ledgers, verified, v.keys)
    finally:
        v.close()
    result.inputs = _inputs(ledgers)
    result.valid_until = _valid_until(v.keys, verified.values())
    if memo is not None and result.inputs is not None:
        result.inputs = {**memo.seen, **result.inputs}  # what was read last counts
        if memo.valid_until is not None:
            result.valid_until = min(result.valid_until or memo.valid_until, memo.valid_until)
    return result


def _begin(
    v: Verifier, ledgers: Sequence[Ledger], pkgs: list[PackageResult],
    files: dict[int, list[LedgerFile]], read: dict[int, Seen | None],
) -> Callable[[], dict[bytes, Verification]]:
    """Read the packages' statements (into ``files``, and what that read into ``read``)
    and start verifying them; the function returned waits for the verifications."""
    for pkg in pkgs:
        files[id(pkg)] = _statements(ledgers, pkg.name, pkg.version)
        read[id(pkg)] = read_for(ledgers, pkg)  # now: the package may be read again later
    unique = list(dict.fromkeys(f.data for pkg in pkgs for f in files[id(pkg)]
                                if f.problem is None))
    finish = v.start(unique)
    return lambda: dict(zip(unique, finish(), strict=True))


def _inputs(ledgers: Sequence[Ledger]) -> dict[str, str | None] | None:
    """Every ledger file the check read, with its stat; None if a ledger cannot say."""
    inputs: dict[str, str | None] = {}
    for ledger in ledgers:
        if ledger.observed is None:
            return None
        inputs.update(ledger.observed)
    return inputs


def _valid_until(keys: dict[str, KeyInfo], verified: Iterable[Verification]) -> float | None:
    """The first moment a key or a signature expires, when the result may change."""
    times = [t for k in keys.values() for t in (k.expires, *k.subkey_expires.values())]
    times += [v.expires for v in verified]
    return min((t for t in times if t is not None), default=None)


def _group(lockfiles: list[Lockfile]) -> list[_Group]:
    groups: dict[tuple[object, ...], _Group] = {}
    for lf in lockfiles:
        for dep in lf.dependencies:
            key = (lf.path, dep.name, dep.version, dep.integrity, dep.source, dep.resolved
                   if dep.source is Source.OTHER else None)
            groups.setdefault(key, _Group(dep, lf.path)).paths.append(dep.path)
    return list(groups.values())


def _triage(g: _Group, policy: Policy, today: dt.date, notices: list[str]) -> PackageResult:
    """Decide what needs no ledger: skipped, exempt, unverifiable; else provisional."""
    dep = g.first
    pkg = PackageResult(
        name=dep.name,
        version=dep.version,
        status=Status.UNAUDITED,
        required=policy.minimum_signatures,
        lockfile=str(g.lockfile),
        paths=g.paths,
        line=dep.line,
        integrity=dep.integrity,
        source=dep.source.value,
    )
    if dep.source is Source.LINK:
        pkg.status, pkg.problems = Status.SKIPPED, ["link or workspace: first party"]
        return pkg
    if dep.source is Source.BUNDLED:
        pkg.status, pkg.problems = Status.SKIPPED, ["bundled: covered by its parent's audit"]
        return pkg
    exemption = policy.exemption_for(dep.name, dep.version) if policy.exemptions else None
    if exemption is not None:
        if not exemption.expired(today):
            pkg.status, pkg.exemption = Status.EXEMPT, exemption.reason
            return pkg
        note = (
            f"exemption {exemption.package!r} ({policy.path.name}:{exemption.line}) "
            f"expired on {exemption.expires} and no longer applies"
        )
        if note not in notices:
            notices.append(note)
        pkg.problems.append(f"exemption expired on {exemption.expires}")
    unverifiable = _unverifiable(dep)
    if unverifiable is not None:
        pkg.status = Status.UNVERIFIABLE
        pkg.problems.insert(0, unverifiable)
    return pkg


def _unverifiable(dep: Dependency) -> str | None:
    if dep.source is Source.OTHER:
        where = dep.resolved or dep.version
        return f"unsupported source {where}: cannot be checked against the ledger"
    if not dep.version:
        return "no version in the lockfile"
    if not (is_valid_name(dep.name) and is_valid_version(dep.version)):
        return "not a valid registry package name and version"
    if not dep.integrity:
        return "no integrity in the lockfile: cannot be bound to an audit"
    if statement.sha512_of(dep.integrity) is None:
        return "the lockfile's integrity has not exactly one valid sha512 hash (sha1 is too weak)"
    return None


def _statements(ledgers: Sequence[Ledger], name: str, version: str) -> list[LedgerFile]:
    return [f for ledger in ledgers for f in ledger.statements(name, version)]


def _require_keys(policy: Policy, keys: dict[str, KeyInfo]) -> None:
    for k in policy.trusted_keys:
        if k.fingerprint not in keys:
            raise PolicyError(
                f"trusted key {k.fingerprint} ({k.name}) is not in any ledger's keys/",
                policy.path,
                k.line,
            )


def _judge(
    pkg: PackageResult,
    files: list[LedgerFile],
    verified: dict[bytes, Verification],
    digest: bytes,
    policy: Policy,
    keys: dict[str, KeyInfo],
) -> None:
    """Judge each statement for the package, then the package."""
    pkg.statements = [_judge_one(f, verified.get(f.data), pkg, digest, policy, keys)
                      for f in files]
    counted: dict[str, str] = {}
    rejected: dict[str, str] = {}
    problems: list[str] = []
    for s in pkg.statements:
        who = s.signer or s.fingerprint or "?"
        if s.counted:
            counted.setdefault(s.fingerprint or "", who)
        elif s.rejects:
            rejected.setdefault(s.fingerprint or "", who)
        if s.problem:
            problems.append(f"{s.origin.rsplit('/', 1)[-1]}: {s.problem}")
    pkg.signatures, pkg.signers = len(counted), list(counted.values())
    pkg.problems.extend(problems)
    if rejected:
        pkg.status, pkg.rejected_by = Status.REJECTED, list(rejected.values())
    elif len(counted) >= pkg.required:
        pkg.status, pkg.problems = Status.AUDITED, []
    else:
        pkg.status = Status.UNAUDITED
        if not files:
            pkg.problems.insert(0, "no signed statement in the ledger")


def _judge_one(
    f: LedgerFile,
    v: Verification | None,
    pkg: PackageResult,
    digest: bytes,
    policy: Policy,
    keys: dict[str, KeyInfo],
) -> StatementResult:
    if f.problem is not None or v is None:
        return StatementResult(f.origin, counted=False, problem=f.problem or "not verified")
    fpr = v.primary
    key = keys.get(fpr or "")
    trusted = fpr in policy.fingerprints
    uid = key.uid if key else v.uid
    signer = (policy.key_name(fpr) if fpr else None) or uid or fpr
    outcome = _outcome(v, key, trusted)
    try:
        if not v.authentic or v.plaintext is None:
            raise statement.StatementError(v.problem or "not verified")
        st = statement.parse(v.plaintext)
    except statement.StatementError as e:
        return StatementResult(f.origin, False, False, v.problem or str(e), fpr, signer, trusted,
                               signed_at=v.signed_at, outcome=outcome, uid=uid)
    problem, counted, rejects = _bind(st, v, pkg, digest, trusted, fpr, signer)
    return StatementResult(
        f.origin, counted, rejects, problem, fpr, signer, trusted, st.verdict, st.notes,
        st.time, v.signed_at, st.sha512, st.sha1, outcome, uid,
    )


def _outcome(v: Verification, key: KeyInfo | None, trusted: bool) -> str:
    """What gpg said, in a word: good, untrusted, expired, revoked, bad signature,
    unknown key or unreadable."""
    if v.good:
        return "good" if trusted else "untrusted"
    if v.lapsed:  # authentic, but its key (or subkey) is revoked, or something expired
        if key is None:
            return "expired or revoked"
        by_subkey = v.signer != key.fingerprint
        revoked = key.revoked or (by_subkey and key.subkeys.get(v.signer or "", True))
        return "revoked" if revoked else "expired"
    if v.primary is not None and key is None:
        return "unknown key"  # gpg named a key the ledger's keyring does not list
    # Only gpg's words tell an altered statement, or a key missing from keys/, apart.
    if v.problem == BAD_STATUS["BADSIG"]:
        return "bad signature"
    if key is None:
        missing = (v.problem or "").endswith("not in the ledger's keys/")
        return "unknown key" if missing else "unreadable"
    return "bad signature"


def _bind(
    st: statement.Statement, v: Verification, pkg: PackageResult, digest: bytes,
    trusted: bool, fpr: str | None, signer: str | None,
) -> tuple[str | None, bool, bool]:
    """What a verified statement means for the package: (problem, counted, rejects)."""
    if (st.package, st.version) != (pkg.name, pkg.version):
        return f"signed for {st.package}@{st.version}, not this package", False, False
    if not trusted:
        return v.problem or f"signed by untrusted key {fpr} ({signer})", False, False
    if st.verdict == "rejected":  # fail closed: honoured even from a lapsed key
        return v.problem, False, True
    if not v.good:
        return v.problem, False, False
    if statement.decode_b64(st.sha512) != digest:
        mismatch = f"integrity mismatch: {signer} signed a different tarball (hash.sha512)"
        return mismatch, False, False
    return None, True, False
