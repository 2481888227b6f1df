"""Machine-readable output: one JSON object (documented in the README)."""

from __future__ import annotations

import json
from typing import Any

from package_trust.check.result import CheckResult, PackageResult

SCHEMA_VERSION = 1


def package_dict(pkg: PackageResult) -> dict[str, Any]:
    return {
        "name": pkg.name,
        "version": pkg.version,
        "status": pkg.status.value,
        "signatures": pkg.signatures,
        "required": pkg.required,
        "problems": pkg.problems,
        "signers": pkg.signers,
        "rejected_by": pkg.rejected_by,
        "exemption": pkg.exemption,
        "exemption_expires": pkg.exemption_expires,
        "source": pkg.source,
        "integrity": pkg.integrity,
        "lockfile": pkg.lockfile,
        "line": pkg.line,
        "paths": pkg.paths,
        "via": pkg.via,
        "new": pkg.new,
        "statements": [s._asdict() for s in pkg.statements],
    }


def result_dict(result: CheckResult) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "policy": str(result.policy),
        "required": result.required,
        "lockfiles": [str(p) for p in result.lockfiles],
        "ledgers": [ledger._asdict() for ledger in result.ledgers],
        "summary": {
            "packages": len(result.checked),
            "failing": len(result.failing),
            "passed": not result.blocking,
        },
        "notices": result.notices,
        "packages": [package_dict(p) for p in result.packages],
    }


class JsonReporter:
    def render(self, result: CheckResult) -> str:
        return json.dumps(result_dict(result), indent=2) + "\n"
