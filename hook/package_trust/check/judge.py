"""Judging one package by its statements: what each verified statement means for it
(counted, rejecting, or why neither), then the package's status."""

from __future__ import annotations

from package_trust.check import chains, contents, statement
from package_trust.check.gpg import BAD_STATUS, KeyInfo, Verification
from package_trust.check.interfaces import Record
from package_trust.check.ledger import LedgerFile
from package_trust.check.policy import Policy
from package_trust.check.result import PackageResult, StatementResult, Status


def digest(pkg: PackageResult) -> bytes:
    """The sha512 a statement must carry to count; none (b"") binds no audit."""
    return statement.sha512_of(pkg.integrity) or b""


def judge_statements(r: Record, verified: dict[bytes, Verification], policy: Policy,
                     keys: dict[str, KeyInfo]) -> None:
    """Judge each of the record's statements for its package (a delta audit bound to its
    tarball counts until chains.settle says otherwise)."""
    trusted = policy.fingerprints
    r.pkg.statements = [_judge_one(f, verified.get(f.data), r.pkg, r.digest, policy, keys,
                                   trusted) for f in r.files]


def decide(r: Record) -> None:
    """Judge the package by its judged (and settled) statements."""
    pkg = r.pkg
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
        if not r.files:
            pkg.problems.insert(0, "no signed statement in the ledger")


def settle_exemption(pkg: PackageResult) -> None:
    """An exemption holds unless a trusted reviewer rejected the package; a package
    audited by signatures is audited."""
    if pkg.exemption is None or pkg.status is Status.AUDITED:
        return
    if pkg.status is Status.REJECTED:
        pkg.problems.insert(0, "a trusted reviewer's rejection overrules the exemption "
                               f"({pkg.exemption})")
        return
    pkg.status, pkg.problems = Status.EXEMPT, []


def _judge_one(
    f: LedgerFile,
    v: Verification | None,
    pkg: PackageResult,
    digest: bytes,
    policy: Policy,
    keys: dict[str, KeyInfo],
    trusted_keys: frozenset[str],
) -> StatementResult:
    if f.problem is not None or v is None:
        return StatementResult(f.origin, counted=False, problem=f.problem or "not verified")
    fpr = v.primary
    key = keys.get(fpr or "")
    trusted = fpr in trusted_keys
    uid = key.uid if key else v.uid
    signer = (policy.key_name(fpr) if fpr else None) or uid or fpr
    outcome = _outcome(v, key, trusted)
    try:
        if not v.authentic or v.plaintext is None:
            raise statement.StatementError(v.problem or "not verified")
        st = statement.parse(v.plaintext)
        shipped = contents.from_statement(st.raw)
        base = chains.base_of(st.raw)
    except statement.StatementError as e:
        return StatementResult(f.origin, False, False, v.problem or str(e), fpr, signer, trusted,
                               signed_at=v.signed_at, outcome=outcome, uid=uid)
    problem, counted, rejects = _bind(st, v, pkg, digest, trusted, fpr, signer)
    return StatementResult(
        f.origin, counted, rejects, problem, fpr, signer, trusted, st.verdict, st.notes,
        st.time, v.signed_at, st.sha512, st.sha1, outcome, uid, shipped.recorded,
        shipped.bundled, shipped.shrinkwrap, chains.as_pair(base),
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
    if not digest or statement.decode_b64(st.sha512) != digest:  # b"" binds no tarball
        mismatch = f"integrity mismatch: {signer} signed a different tarball (hash.sha512)"
        return mismatch, False, False
    return None, True, False
