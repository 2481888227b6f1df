"""The result of a check: one object from which every output format is rendered."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple


class Status(enum.Enum):
    AUDITED = "audited"
    UNAUDITED = "unaudited"
    REJECTED = "rejected"
    EXEMPT = "exempt"
    SKIPPED = "skipped"
    UNVERIFIABLE = "unverifiable"

    @property
    def passed(self) -> bool:
        return self in (Status.AUDITED, Status.EXEMPT, Status.SKIPPED)  # as CheckResult.failing


class StatementResult(NamedTuple):
    """One statement in the ledger, as judged for one package."""

    origin: str
    counted: bool  # a valid audit by a trusted key, bound to this package
    rejects: bool = False  # a rejection by a trusted key, bound to this package
    problem: str | None = None  # why it does not count (None when counted)
    fingerprint: str | None = None  # the signer's primary key
    signer: str | None = None  # the policy's name for the key, else its user ID
    trusted: bool = False
    verdict: str | None = None
    notes: str | None = None
    time: int | None = None  # the statement's "time", ms since the epoch
    signed_at: int | None = None  # the signature's time, seconds since the epoch
    sha512: str | None = None
    sha1: str | None = None
    # what gpg said: good, untrusted, expired, revoked, bad signature, unknown key, unreadable
    outcome: str = "unreadable"
    uid: str | None = None  # the signer's user ID
    # What the statement says its tarball ships (contents.py); not ``recorded``: it does
    # not say. ``bundled``: (path, name, version) each; ``shrinkwrap``: the pins of its
    # npm-shrinkwrap.json, (path, name, version, integrity, resolved) each, None: none.
    recorded: bool = False
    bundled: Sequence[Sequence[str]] = ()
    shrinkwrap: Sequence[Sequence[str | None]] | None = None


class PackageResult:
    """One name@version (with its integrity) from a lockfile; the engine fills it in.

    A plain class (the immutable records on the commit path are NamedTuples): importing
    ``dataclasses`` and generating their code would cost a check's start-up milliseconds.
    """

    __slots__ = ("exemption", "integrity", "line", "lockfile", "name", "paths", "problems",
                 "rejected_by", "required", "signatures", "signers", "source", "statements",
                 "status", "version")

    def __init__(
        self, name: str, version: str, status: Status, required: int, lockfile: str,
        paths: list[str], line: int | None = None, integrity: str | None = None,
        source: str = "registry", signatures: int = 0, signers: list[str] | None = None,
        rejected_by: list[str] | None = None, problems: list[str] | None = None,
        statements: Sequence[StatementResult] | None = None, exemption: str | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.status = status
        self.required = required
        self.lockfile = lockfile
        self.paths = paths
        self.line = line
        self.integrity = integrity
        self.source = source
        self.signatures = signatures  # distinct trusted keys with a valid audit
        self.signers: list[str] = [] if signers is None else signers
        self.rejected_by: list[str] = [] if rejected_by is None else rejected_by
        self.problems: list[str] = [] if problems is None else problems
        # a list, or (verdicts.py) a verdict's statements as stored, decoded when first read
        self.statements: Sequence[StatementResult] = [] if statements is None else statements
        self.exemption = exemption  # the exemption's reason, when one applied

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def reason(self) -> str:
        """One line saying why the package has its status."""
        if self.status is Status.EXEMPT:
            return f"exempt: {self.exemption}"
        if self.status is Status.SKIPPED:
            return self.problems[0] if self.problems else "skipped"
        if self.status is Status.REJECTED:
            return f"rejected by {', '.join(self.rejected_by)}"
        if self.status is Status.UNAUDITED:
            by = f" ({', '.join(self.signers)})" if self.signers else ""
            head = f"{self.signatures} of {self.required} required signatures{by}"
            return "; ".join([head, *self.problems])
        return "; ".join(self.problems) or self.status.value


class LedgerInfo(NamedTuple):
    description: str
    revision: str | None = None


class CheckResult:
    __slots__ = ("inputs", "ledgers", "lockfiles", "notices", "packages", "policy", "required",
                 "valid_until")

    def __init__(
        self, policy: Path, required: int, lockfiles: list[Path], packages: list[PackageResult],
        ledgers: list[LedgerInfo] | None = None, notices: list[str] | None = None,
        inputs: dict[str, str | None] | None = None, valid_until: float | None = None,
    ) -> None:
        self.policy = policy
        self.required = required
        self.lockfiles = lockfiles
        self.packages = packages
        self.ledgers: list[LedgerInfo] = [] if ledgers is None else ledgers
        self.notices: list[str] = [] if notices is None else notices
        # For resultcache.py: the ledger files read (path -> stat signature; None: a ledger
        # that cannot say), and the first moment a key or signature involved expires.
        self.inputs = inputs
        self.valid_until = valid_until

    @property
    def failing(self) -> list[PackageResult]:
        passing = (Status.AUDITED, Status.EXEMPT, Status.SKIPPED)  # Status.passed, inlined
        return [p for p in self.packages if p.status not in passing]

    @property
    def checked(self) -> list[PackageResult]:
        """The packages that are installed from somewhere: all but links and bundles."""
        return [p for p in self.packages if p.status is not Status.SKIPPED]

    @property
    def exit_code(self) -> int:
        return 1 if self.failing else 0
