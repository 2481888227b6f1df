"""The check: every lockfile entry against the ledgers, under a policy. Never prints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from package_trust.cache import verifier as cache
from package_trust.cache.results import Seen
from package_trust.cache.verdicts import Verdicts, read_for
from package_trust.check import contents, statement
from package_trust.check.gpg import BAD_STATUS, KeyInfo, Verification
from package_trust.check.ledger import Ledger, LedgerFile
from package_trust.check.lockfile import Dependency, Lockfile, Source
from package_trust.check.lockfile.interface import OutOfSync
from package_trust.check.names import is_valid_name, is_valid_version
from package_trust.check.policy import Policy
from package_trust.check.result import (
    CheckResult,
    LedgerInfo,
    PackageResult,
    StatementResult,
    Status,
)
from package_trust.errors import PolicyError


class Verifier(Protocol):
    """Verifies statements against a keyring (a Keyring, or a cache in front of one)."""

    keys: dict[str, KeyInfo]
    notices: list[str]  # the key files not used, and why (keyfiles.py)

    def verify_many(self, statements: Sequence[bytes]) -> list[Verification]: ...

    def start(self, statements: Sequence[bytes]) -> Callable[[], list[Verification]]:
        """``verify_many`` begun: the function returned waits for the verifications."""

    def close(self) -> None: ...


VerifierFactory = Callable[[list[LedgerFile]], Verifier]


def default_verifier(files: list[LedgerFile]) -> Verifier:
    """A keyring behind the verification cache (cache.py), unless the cache is disabled."""
    return cache.open_verifier(files)


class _Group:
    """The entries of one lockfile that share name, version, integrity and source."""

    __slots__ = ("first", "lockfile", "paths", "registries")

    def __init__(self, first: Dependency, lockfile: Path,
                 registries: tuple[str, ...] = ()) -> None:
        self.first = first
        self.lockfile = lockfile
        self.registries = registries  # what npm fetches the lockfile's packages from
        self.paths: list[str] = []


# A dependency's own npm-shrinkwrap.json may pin packages whose tarballs have one too:
# each level is a round of the check, and one this deep fails closed.
MAX_ROUNDS = 8


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
    result = CheckResult(
        policy=policy.path,
        required=policy.minimum_signatures,
        lockfiles=[lf.path for lf in lockfiles],
        packages=[_out_of_sync(x, policy) for lf in lockfiles for x in lf.out_of_sync],
        ledgers=[LedgerInfo(ledger.description, ledger.revision) for ledger in ledgers],
        # a ledger's own notices, such as a git ledger read from an old cached copy
        notices=[*(n for lf in lockfiles for n in lf.notices),
                 *(n for ledger in ledgers for n in ledger.notices)],
    )
    judge = _Judge(policy, ledgers, verifier)
    try:
        groups, done = _group(lockfiles), set[tuple[object, ...]]()
        for _ in range(MAX_ROUNDS):
            pkgs = [_triage(g, policy, today, result.notices) for g in groups]
            result.packages.extend(pkgs)
            judge.run(pkgs)
            _require_shrinkwraps(groups, pkgs)
            _cover_bundled(groups, pkgs)
            groups = _pinned(groups, pkgs, done)
            if not groups:
                break
        else:
            for g in groups:
                pkg = _triage(g, policy, today, result.notices)
                pkg.status, pkg.problems = Status.UNVERIFIABLE, [
                    f"pinned by npm-shrinkwraps nested more than {MAX_ROUNDS} deep"]
                result.packages.append(pkg)
    finally:
        judge.close()
    result.notices.extend(n for n in judge.notices if n not in result.notices)
    result.inputs = _inputs(ledgers, lockfiles)
    result.valid_until = _valid_until(judge.keys, judge.verified.values())
    memo = judge.memo
    if memo is not None and result.inputs is not None:
        result.inputs = {**memo.seen, **result.inputs}  # what was read last counts
        if memo.valid_until is not None:
            result.valid_until = min(result.valid_until or memo.valid_until, memo.valid_until)
    return result


class _Judge:
    """Judges packages against the ledgers: one verifier (opened when first needed) and
    one verdict memo for every round of a check."""

    def __init__(self, policy: Policy, ledgers: Sequence[Ledger], factory: VerifierFactory):
        self.policy, self.ledgers, self._factory = policy, ledgers, factory
        self._v: Verifier | None = None
        self.memo: Verdicts | None = None
        self.keys: dict[str, KeyInfo] = {}
        self.verified: dict[bytes, Verification] = {}
        self.notices: list[str] = []

    def _open(self) -> Verifier:
        if self._v is None:
            keys = [f for ledger in self.ledgers for f in ledger.key_files()]
            self._v = v = self._factory(keys)
            self.keys = v.keys
            self.notices += v.notices
            _require_keys(self.policy, v.keys, v.notices)
            self.memo = Verdicts.open(v, self.policy, self.ledgers)
        return self._v

    def close(self) -> None:
        if self._v is not None:
            self._v.close()

    def run(self, pkgs: list[PackageResult]) -> None:
        """Judge every package the ledger decides: provisionally unaudited, or exempt."""
        to_verify = [(pkg, _digest(pkg)) for pkg in pkgs if _ask_ledger(pkg)]
        if to_verify:
            self._verify(to_verify)
        for pkg in pkgs:
            _settle_exemption(pkg)

    def _verify(self, to_verify: list[tuple[PackageResult, bytes]]) -> None:
        v, memo, policy, ledgers = self._open(), self.memo, self.policy, self.ledgers
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
        self.verified.update(verified)
        judged = [(pkg, digest) for pkg, digest in to_verify if id(pkg) not in reused]
        for pkg, digest in judged:
            _judge(pkg, files[id(pkg)], verified, digest, policy, v.keys)
        if memo is not None:
            memo.remember([(pkg, digest, files[id(pkg)], read[id(pkg)]) for pkg, digest in judged],
                          ledgers, verified, v.keys)


def _ask_ledger(pkg: PackageResult) -> bool:
    """Whether the ledger decides the package: it may be audited, or (exempt or not)
    rejected. A name or version that is not valid is never looked up."""
    if pkg.status is Status.UNAUDITED:  # provisional; a valid sha512 (_unverifiable)
        return True
    return pkg.exemption is not None and is_valid_name(pkg.name) and is_valid_version(
        pkg.version)


def _digest(pkg: PackageResult) -> bytes:
    """The sha512 a statement must carry to count; none (b"") binds no audit."""
    return statement.sha512_of(pkg.integrity) or b""


def _settle_exemption(pkg: PackageResult) -> None:
    """An exemption holds unless a trusted reviewer rejected the package; a package
    audited by signatures is audited."""
    if pkg.exemption is None or pkg.status is Status.AUDITED:
        return
    if pkg.status is Status.REJECTED:
        pkg.problems.insert(0, "a trusted reviewer's rejection overrules the exemption "
                               f"({pkg.exemption})")
        return
    pkg.status, pkg.problems = Status.EXEMPT, []


def _out_of_sync(x: OutOfSync, policy: Policy) -> PackageResult:
    return PackageResult(x.name, x.spec, Status.UNVERIFIABLE, policy.minimum_signatures,
                         str(x.manifest), [str(x.manifest)], x.line, source="package.json",
                         problems=[x.problem])


def _require_shrinkwraps(groups: list[_Group], pkgs: list[PackageResult]) -> None:
    """A package whose tarball carries its own npm-shrinkwrap.json (the lockfile says so)
    passes only on statements that record that file's pins: npm installs from it."""
    for g, pkg in zip(groups, pkgs, strict=True):
        if not g.first.has_shrinkwrap or pkg.status is not Status.AUDITED:
            continue
        recording = {s.fingerprint for s in pkg.statements if s.counted and s.recorded}
        if len(recording) < pkg.required:
            pkg.status = Status.UNAUDITED
            pkg.problems = [
                "its tarball's npm-shrinkwrap.json decides what npm installs below it, and "
                f"{len(recording)} of {pkg.required} counted statements record its pins: "
                f"sign it again with package-trust sign {pkg.spec}"]


def _cover_bundled(groups: list[_Group], pkgs: list[PackageResult]) -> None:
    """An entry the lockfile marks bundled is covered by its bundler's audit only when the
    bundler's counted statements (as many as it needs) list it at that path; otherwise it
    was judged as a package of its own, which is what npm then installs."""
    at = {(g.lockfile, path): pkg for g, pkg in zip(groups, pkgs, strict=True)
          for path in g.paths}
    for g, pkg in zip(groups, pkgs, strict=True):
        bundler_path = g.first.bundled_in
        if bundler_path is None:
            continue
        bundler = at.get((g.lockfile, bundler_path))
        entry = (g.first.path[len(bundler_path) + 1:], pkg.name, pkg.version)
        if bundler is not None and bundler.status is Status.AUDITED:
            listing = {s.fingerprint for s in bundler.statements if s.counted and s.recorded
                       and entry in {tuple(b) for b in s.bundled or ()}}
            if len(listing) >= bundler.required:
                pkg.status = Status.SKIPPED
                pkg.problems = [f"bundled: shipped in {bundler.spec}'s audited tarball"]
                continue
        if not pkg.status.passed:
            by = bundler.spec if bundler is not None else bundler_path
            pkg.problems.append(
                f"the lockfile marks it bundled in {by}, but no counted statement of {by} "
                "lists it, so npm fetches it on its own (statements that record what a "
                f"tarball ships come from package-trust sign {by})")


def _pinned(groups: list[_Group], pkgs: list[PackageResult], done: set[tuple[object, ...]]
            ) -> list[_Group]:
    """The packages audited tarballs' own npm-shrinkwrap.json files make npm install,
    not judged yet: each is judged as a package of its own."""
    from package_trust.check.lockfile.npm import classify_resolved

    found: dict[tuple[object, ...], _Group] = {}
    for g, pkg in zip(groups, pkgs, strict=True):
        if pkg.status is not Status.AUDITED:
            continue
        for s in pkg.statements:
            for pin in (s.shrinkwrap or ()) if s.counted else ():
                path, name, version, integrity, resolved = pin
                key = (g.lockfile, name, version, integrity, resolved)
                if key in done:
                    continue
                dep = Dependency(str(name), str(version), classify_resolved(resolved),
                                 f"{g.paths[0]}/{path}", integrity, resolved, g.first.line)
                found.setdefault(key, _Group(dep, g.lockfile, g.registries)).paths.append(
                    dep.path)
    done.update(found)
    return list(found.values())


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


def _inputs(ledgers: Sequence[Ledger], lockfiles: list[Lockfile]
            ) -> dict[str, str | None] | None:
    """Every file the check read or looked for (the ledgers', and the lockfiles' with the
    package.json files beside them), with its stat; None if a ledger cannot say."""
    from package_trust.cache.results import stat_of

    inputs: dict[str, str | None] = {str(p): stat_of(str(p), True, follow=True)
                                     for lf in lockfiles for p in (lf.path, *lf.read)}
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
                   if dep.source is Source.OTHER else None,
                   dep.bundled_in and dep.path)  # a bundled entry: judged where it is
            groups.setdefault(key, _Group(dep, lf.path, lf.registries)).paths.append(dep.path)
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
    exemption = policy.exemption_for(dep, g.registries) if policy.exemptions else None
    if exemption is not None:
        if not exemption.expired(today):  # provisional too: a rejection overrules it
            pkg.exemption = exemption.reason
            return _unverifiable_or_pending(pkg, dep)
        note = (
            f"exemption {exemption.package!r} ({policy.path.name}:{exemption.line}) "
            f"expired on {exemption.expires} and no longer applies"
        )
        if note not in notices:
            notices.append(note)
        pkg.problems.append(f"exemption expired on {exemption.expires}")
    return _unverifiable_or_pending(pkg, dep)


def _unverifiable_or_pending(pkg: PackageResult, dep: Dependency) -> PackageResult:
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


def _require_keys(policy: Policy, keys: dict[str, KeyInfo], notices: list[str]) -> None:
    for k in policy.trusted_keys:
        if k.fingerprint not in keys:
            why = f" ({'; '.join(notices)})" if notices else ""
            raise PolicyError(
                f"trusted key {k.fingerprint} ({k.name}) is not in any ledger's keys/{why}",
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
        shipped = contents.from_statement(st.raw)
    except statement.StatementError as e:
        return StatementResult(f.origin, False, False, v.problem or str(e), fpr, signer, trusted,
                               signed_at=v.signed_at, outcome=outcome, uid=uid)
    problem, counted, rejects = _bind(st, v, pkg, digest, trusted, fpr, signer)
    return StatementResult(
        f.origin, counted, rejects, problem, fpr, signer, trusted, st.verdict, st.notes,
        st.time, v.signed_at, st.sha512, st.sha1, outcome, uid, shipped.recorded,
        shipped.bundled, shipped.shrinkwrap,
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
