"""The result of a check: one object from which every output format is rendered."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


class Status(enum.Enum):
    AUDITED = "audited"
    UNAUDITED = "unaudited"
    REJECTED = "rejected"
    EXEMPT = "exempt"
    SKIPPED = "skipped"
    UNVERIFIABLE = "unverifiable"

    @property
    def passed(self) -> bool:
        return self in (Status.AUDITED, Status.EXEMPT, Status.SKIPPED)


@dataclass(frozen=True)
class StatementResult:
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


@dataclass
class PackageResult:
    """One name@version (with its integrity) from a lockfile."""

    name: str
    version: str
    status: Status
    required: int
    lockfile: str
    paths: list[str]
    line: int | None = None
    integrity: str | None = None
    source: str = "registry"
    signatures: int = 0  # distinct trusted keys with a valid audit
    signers: list[str] = field(default_factory=list)
    rejected_by: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # a list, or (verdicts.py) a verdict's statements as stored, decoded when first read
    statements: Sequence[StatementResult] = field(default_factory=list)
    exemption: str | None = None  # the exemption's reason, when one applied

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


@dataclass(frozen=True)
class LedgerInfo:
    description: str
    revision: str | None = None


@dataclass
class CheckResult:
    policy: Path
    required: int
    lockfiles: list[Path]
    packages: list[PackageResult]
    ledgers: list[LedgerInfo] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    # For resultcache.py: the ledger files read (path -> stat signature; None: a ledger
    # that cannot say), and the first moment a key or signature involved expires.
    inputs: dict[str, list[int] | None] | None = None
    valid_until: float | None = None

    @property
    def failing(self) -> list[PackageResult]:
        return [p for p in self.packages if not p.status.passed]

    @property
    def checked(self) -> list[PackageResult]:
        """The packages that are installed from somewhere: all but links and bundles."""
        return [p for p in self.packages if p.status is not Status.SKIPPED]

    @property
    def exit_code(self) -> int:
        return 1 if self.failing else 0
