"""The result of a check: one object from which every output format is rendered."""

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from package_trust.check.policy import Exemption


class Status(enum.Enum):
    AUDITED = "audited"
    UNAUDITED = "unaudited"
    REJECTED = "rejected"
    EXEMPT = "exempt"
    SKIPPED = "skipped"
    UNVERIFIABLE = "unverifiable"

    # Hashed as the object it is (a member is its only instance, equal only to itself):
    # Enum's own hash runs Python code, a cost in every set of statuses looked in.
    __hash__ = object.__hash__

    @property
    def passed(self) -> bool:
        return self in PASSING


PASSING = frozenset({Status.AUDITED, Status.EXEMPT, Status.SKIPPED})


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
    # A delta audit (chains.py): the version and sha512 (base64) of the tarball it was
    # reviewed from, its "from"; None: a full audit.
    base: Sequence[str] | None = None


class PackageResult:
    """One name@version (with its integrity) from a lockfile; the engine fills it in.

    A plain class (the immutable records on the commit path are NamedTuples): importing
    ``dataclasses`` and generating their code would cost a check's start-up milliseconds.
    """

    __slots__ = ("alternatives", "chain", "exemption", "exemption_expires", "integrity", "line",
                 "lockfile", "name", "new", "origin", "paths", "problems", "rejected_by",
                 "required", "scope", "signatures", "signers", "source", "statements", "status",
                 "version", "via")

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
        # a list, or (cache/) statements as stored, decoded when first read
        self.statements: Sequence[StatementResult] = [] if statements is None else statements
        self.exemption = exemption  # the exemption's reason, when one applied
        self.exemption_expires: str | None = None  # and its expiry date (YYYY-MM-DD)
        # Development or production (chains.scope): which minimum-signatures applied.
        self.scope = "production"
        # Audited through delta audits (chains.py): the versions from the full audit to
        # this one; empty when audited in full, or not audited.
        self.chain: list[str] = []
        # Filled in by the face for a failing package (graph.py): the names from a top-level
        # dependency down to the package as installed (an alias's own name last); whether
        # the change brought it in (None: nothing to compare with); where it comes from
        # when not from the registry (what an exemption's source: names); for a rejected
        # one, the other versions the ledger holds as audited (None: not looked up).
        self.via: list[str] = []
        self.new: bool | None = None
        self.origin: str | None = None
        self.alternatives: list[str] | None = None

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
            scope = " (development)" if self.scope == "development" else ""
            head = f"{self.signatures} of {self.required} required signatures{scope}{by}"
            return "; ".join([head, *self.problems])
        if self.chain:
            return "audited via " + " \u2192 ".join(self.chain)
        return "; ".join(self.problems) or self.status.value


class LedgerInfo(NamedTuple):
    description: str
    revision: str | None = None


class BacklogEntry(NamedTuple):
    """One review in ``suggest``'s backlog: the package, the review (a delta from
    ``base``, an audited version; None: in full), the lines it reads and the command that
    starts it."""

    spec: str
    base: str | None
    lines: int
    command: str


class CheckResult:
    __slots__ = ("backlog", "exemptions", "fail_on_new", "ledgers", "lockfiles", "notices",
                 "packages", "policy", "required")

    def __init__(
        self, policy: Path, required: int, lockfiles: list[Path], packages: list[PackageResult],
        ledgers: list[LedgerInfo] | None = None, notices: list[str] | None = None,
    ) -> None:
        self.policy = policy
        self.required = required
        self.lockfiles = lockfiles
        self.packages = packages
        self.ledgers: list[LedgerInfo] = [] if ledgers is None else ledgers
        self.notices: list[str] = [] if notices is None else notices
        self.fail_on_new = False  # --fail-on new: a package already there only warns
        # The policy's exemptions, applied or not (expired, unused): the HTML report lists
        # them; None when not known.
        self.exemptions: Sequence[Exemption] | None = None
        self.backlog: list[BacklogEntry] | None = None  # suggest's reviews, when it ran

    @property
    def failing(self) -> list[PackageResult]:
        return [p for p in self.packages if p.status not in PASSING]

    @property
    def blocking(self) -> list[PackageResult]:
        """The failing packages that fail the check: all, or (``fail_on_new``) all but
        those known to be there before the change."""
        failing = self.failing
        return [p for p in failing if p.new is not False] if self.fail_on_new else failing

    @property
    def checked(self) -> list[PackageResult]:
        """The packages that are installed from somewhere: all but links and bundles."""
        return [p for p in self.packages if p.status is not Status.SKIPPED]

    @property
    def exit_code(self) -> int:
        """1 when a package fails the check (with --fail-on new: a new one), else 0."""
        return 1 if self.blocking else 0
