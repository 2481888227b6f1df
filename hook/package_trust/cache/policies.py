"""Parsed policies: a check reads the policy it parsed before from the cache database
(store.py's ``policy`` table) rather than parse it again. That spares importing PyYAML and
parsing, about 20 ms: a tenth of a check after ``npm update``, which without it would
be slower than it was before the cache had one store.

A row is found by the SHA-256 of package-trust's version, the policy file's path and its
bytes: any edit, and the policy is parsed afresh. It is read back only as it was kept (a
digest covers it) and of exactly the shape ``_text`` writes, else parsed afresh too; what
it holds was validated when it was parsed, with every line an error or a report names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from package_trust import __version__
from package_trust.cache.store import POLICIES, Parsed, Store
from package_trust.check import policy
from package_trust.check.policy import Exemption, Exemptions, LedgerSpec, Policy, TrustedKey

_SCHEMA = 1


def load(store: Store, path: Path) -> Policy:
    """``policy.load(path)``, from the store when it parsed the same bytes before."""
    text = policy.read(path)
    head = f"{_SCHEMA}\0{__version__}\0{path}\0".encode("utf-8", "surrogatepass")
    row_id = hashlib.sha256(head + text.encode("utf-8", "surrogatepass")).digest()
    now = time.time()
    row = store.get(POLICIES, [row_id], now).get(row_id)
    if row is not None and row.digest == _digest(row_id, row.body):
        kept = _policy(path, row.body)
        if kept is not None:
            return kept
    parsed = policy.parse(path, text)
    body = _text(parsed)
    store.put(POLICIES, [Parsed(row_id, body, _digest(row_id, body), None)], now)
    return parsed


def _digest(row_id: bytes, body: str) -> str:
    return hashlib.sha256(row_id + body.encode("utf-8", "surrogatepass")).hexdigest()


def _text(p: Policy) -> str:
    return json.dumps([
        p.minimum_signatures, p.development_signatures,
        [[k.fingerprint, k.name, k.line] for k in p.trusted_keys],
        [[x.path, x.line, x.git, x.ref] for x in p.ledgers],
        [[e.package, e.reason, e.expires and e.expires.isoformat(), e.line, e.integrity,
          e.source] for e in p.exemptions],
    ])


def _policy(path: Path, text: str) -> Policy | None:
    """The policy ``_text`` wrote; None unless the text is exactly of that shape."""
    try:
        minimum, development, keys, ledgers, exemptions = json.loads(text)
        if type(minimum) is not int or not (development is None or type(development) is int):
            return None
        exempt = [_typed(e, str, str, (str, None), int, (str, None), (str, None))
                  for e in exemptions]
        return Policy(
            path, minimum, [TrustedKey(*_typed(k, str, str, int)) for k in keys],
            [LedgerSpec(*_typed(x, str, int, (str, None), (str, None))) for x in ledgers],
            Exemptions(Exemption(p, r, x and dt.date.fromisoformat(x), n, i, s)
                       for p, r, x, n, i, s in exempt),
            development,
        )
    except (ValueError, TypeError):
        return None


def _typed(values: Any, *kinds: type | tuple[type | None, ...]) -> list[Any]:
    """``values``, a list whose items have these types (None: null); else TypeError."""
    if type(values) is not list or len(values) != len(kinds):
        raise TypeError("unexpected shape")
    for value, kind in zip(values, kinds, strict=True):
        allowed = kind if isinstance(kind, tuple) else (kind,)
        if not any(value is None if k is None else type(value) is k for k in allowed):
            raise TypeError("unexpected shape")
    return values
