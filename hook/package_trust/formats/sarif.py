"""SARIF 2.1.0, as GitHub code scanning takes it: one rule per way a package fails (with
GitHub's ``security-severity`` and, run by the Action, a ``helpUri`` at the README of the
Action's own repository), one result per failing package, located at its line in the
lockfile (relative to the repository), with a fingerprint that follows the package rather
than the line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import PurePosixPath
from typing import Any, NamedTuple
from urllib.parse import quote

from package_trust import __version__
from package_trust.check.result import CheckResult, PackageResult, Status
from package_trust.formats.github import TITLES, repo_path
from package_trust.formats.text import details, ledger_line

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT = "packageTrust/v1"
# The README section that says how each kind of failing package is checked and fixed.
HELP_ANCHOR = "checking-a-project-package-trust-check"
# Where the runner checks out an action: .../_actions/OWNER/REPO/REF
_ACTION_PATH = re.compile(r".*/_actions/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/?")


class Rule(NamedTuple):
    id: str
    name: str
    short: str
    full: str
    help: str  # Markdown that also reads as plain text
    severity: str  # GitHub's security-severity, 0.0 to 10.0: 9.0 and up is critical

    def descriptor(self, help_uri: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "shortDescription": {"text": self.short},
            "fullDescription": {"text": self.full},
            "help": {"text": self.help, "markdown": self.help},
            **({"helpUri": help_uri} if help_uri else {}),
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["security", "supply-chain"], "precision": "very-high",
                           "security-severity": self.severity},
        }


RULES: dict[Status, Rule] = {
    Status.UNAUDITED: Rule(
        "unaudited", "UnauditedPackage",
        "A package lacks the audit signatures the policy requires",
        "Every package a lockfile installs from the registry needs at least "
        "minimum-signatures audit statements, signed by keys that trust-policy.yml trusts "
        "and bound to the exact tarball (its sha512 integrity).",
        "Have the package audited: a reviewer whose key the policy trusts reviews the "
        "tarball (`package-trust fetch NAME@VERSION`), signs a statement "
        "(`package-trust sign NAME@VERSION --key FINGERPRINT`) and adds it to the ledger's "
        "`signatures/` folder by pull request. A package that needs no audit can instead be "
        "exempted in `trust-policy.yml`, with a reason (`exemptions:`).",
        "7.5",
    ),
    Status.REJECTED: Rule(
        "rejected", "RejectedPackage",
        "A trusted auditor rejected the package",
        "A reviewer whose key the policy trusts signed a statement with the verdict "
        '"rejected" for this exact package version.',
        "Do not install this version: move to an audited version, or change the dependency "
        "that brings it in. The auditor's notes are in the rejecting statement, in the "
        "ledger under `signatures/NAME/VERSION/`.",
        "9.0",
    ),
    Status.UNVERIFIABLE: Rule(
        "unverifiable", "UnverifiablePackage",
        "A package cannot be checked against the ledger",
        "The lockfile entry cannot be bound to an audit: it comes from git, a file or a "
        "tarball outside the registry, it has no sha512 integrity, or its name or version "
        "is not valid.",
        "Install the package from the npm registry so that the lockfile records its sha512 "
        "integrity, or exempt it in `trust-policy.yml` with a reason when it is first party.",
        "7.5",
    ),
}
_ORDER = list(RULES)


def artifact_location(lockfile: str) -> dict[str, str]:
    path = repo_path(lockfile)
    if PurePosixPath(path).is_absolute():
        return {"uri": "file://" + quote(path, errors="surrogateescape")}
    return {"uri": quote(path, errors="surrogateescape"), "uriBaseId": "%SRCROOT%"}


def sarif_result(pkg: PackageResult, ledgers: str, blocking: bool = True) -> dict[str, Any]:
    """The package's result: an error, or (``blocking`` False: it was there before the
    change, and only new ones fail the check) a warning."""
    rule = RULES[pkg.status]
    location = artifact_location(pkg.lockfile)
    physical: dict[str, Any] = {"artifactLocation": location}
    if pkg.line:
        physical["region"] = {"startLine": pkg.line}
    key = f"{location['uri']}\0{pkg.name}\0{pkg.version}".encode("utf-8", "surrogatepass")
    return {
        "ruleId": rule.id,
        "ruleIndex": _ORDER.index(pkg.status),
        "level": "error" if blocking else "warning",
        "message": {
            "text": f"{pkg.spec} {TITLES[pkg.status]}: {pkg.reason}. "
            + "".join(f"{line[0].upper()}{line[1:]}. " for line in details(pkg, place=False))
            + f"Ledgers: {ledgers}."
        },
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {FINGERPRINT: hashlib.sha256(key).hexdigest()},
        "properties": {
            "package": pkg.name,
            "version": pkg.version,
            "status": pkg.status.value,
            "signatures": pkg.signatures,
            "required": pkg.required,
            "signers": pkg.signers,
            "rejectedBy": pkg.rejected_by,
            "paths": pkg.paths,
            "via": pkg.via,
            "new": pkg.new,
        },
    }


def repository() -> tuple[str, str] | None:
    """The repository the GitHub Action runs from, and its ref, as the runner checked it out
    ($GITHUB_ACTION_PATH); None elsewhere (a local action, the command line): no address
    is guessed."""
    found = _ACTION_PATH.fullmatch(os.environ.get("GITHUB_ACTION_PATH", ""))
    if found is None:
        return None
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    owner, repo, ref = found.groups()
    return f"{server}/{owner}/{repo}", ref


def sarif_log(result: CheckResult) -> dict[str, Any]:
    ledgers = "; ".join(ledger_line(x) for x in result.ledgers) or "none"
    blocking = {id(p) for p in result.blocking}
    home = repository()
    help_uri = f"{home[0]}/blob/{quote(home[1])}/README.md#{HELP_ANCHOR}" if home else None
    run = {
        "tool": {
            "driver": {
                "name": "package-trust",
                "version": __version__,
                "semanticVersion": __version__,
                **({"informationUri": home[0]} if home else {}),
                "rules": [rule.descriptor(help_uri) for rule in RULES.values()],
            }
        },
        "invocations": [{
            "executionSuccessful": True,
            "toolExecutionNotifications": [
                {"level": "warning", "message": {"text": note}} for note in result.notices
            ],
        }],
        "results": [sarif_result(p, ledgers, id(p) in blocking) for p in result.failing],
        "properties": {
            "policy": str(result.policy),
            "required": result.required,
            "lockfiles": [str(p) for p in result.lockfiles],
            "ledgers": [x._asdict() for x in result.ledgers],
        },
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


class SarifReporter:
    def render(self, result: CheckResult) -> str:
        return json.dumps(sarif_log(result), indent=2) + "\n"
