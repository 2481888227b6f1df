"""npm's semver ranges (node-semver ``satisfies``), for the forms npm itself writes and
people commonly type: exact versions, ``=``, ``<``, ``<=``, ``>``, ``>=``, ``~``, ``~>``,
``^`` (a space after one is allowed), x-ranges (``1``, ``1.2.x``, ``*``), hyphen ranges and
``||``.

Anything else (other loose forms such as ``1.2.3.4``, leading zeros, tabs, ``==``, numbers
past JavaScript's safe integers) is not guessed: ``satisfies`` answers None, and the caller
fails closed.
"""

import functools
import re
from typing import NamedTuple

_NUM = r"0|[1-9][0-9]*"
_PART = rf"{_NUM}|[xX*]"
_IDENT = r"[0-9]*[a-zA-Z-][a-zA-Z0-9-]*|0|[1-9][0-9]*"
_PRE = rf"(?:-((?:{_IDENT})(?:\.(?:{_IDENT}))*))"
_BUILD = r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)"
_VERSION = re.compile(rf"v?({_NUM})\.({_NUM})\.({_NUM}){_PRE}?{_BUILD}?")
_PARTIAL = re.compile(rf"v?({_PART})(?:\.({_PART})(?:\.({_PART}){_PRE}?{_BUILD}?)?)?")
_COMPARATOR = re.compile(r"(<=|>=|<|>|=|~>|~|\^)?(\S+)")
_HYPHEN = re.compile(r"(\S+) - (\S+)")
_MAX = 2**53 - 1  # Number.MAX_SAFE_INTEGER: node-semver refuses larger numbers


class Version(NamedTuple):
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()

    def key(self) -> tuple[object, ...]:
        """Precedence: a prerelease sorts before its release; numbers before words."""
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)


@functools.lru_cache(maxsize=4096)
def parse_version(text: str) -> Version | None:
    """A version in node-semver's strict form (a leading ``v`` allowed), else None."""
    m = _VERSION.fullmatch(text)
    if m is None:
        return None
    nums = [int(g) for g in m.group(1, 2, 3)]
    pre = _prerelease(m.group(4))
    if pre is None or max(nums) > _MAX:
        return None
    return Version(nums[0], nums[1], nums[2], pre)


def _prerelease(text: str | None) -> tuple[int | str, ...] | None:
    parts: list[int | str] = []
    for p in (text or "").split(".") if text else ():
        if p.isdigit():
            if int(p) > _MAX:
                return None
            parts.append(int(p))
        else:
            parts.append(p)
    return tuple(parts)


_Comparator = tuple[str, Version]  # (operator, version); "" means any version
_ANY: _Comparator = ("", Version(0, 0, 0))


def satisfies(version: str, spec: str) -> bool | None:
    """Whether ``version`` satisfies the range ``spec``; None when either is beyond the
    forms read here."""
    v = parse_version(version)
    sets = parse_range(spec)
    if v is None or sets is None:
        return None
    return any(_test_set(comparators, v) for comparators in sets)


_TRIM = re.compile(r"(<=|>=|<|>|=|\^|~>?) +")  # node-semver's comparator, tilde, caret trims


@functools.lru_cache(maxsize=4096)
def parse_range(spec: str) -> tuple[tuple[_Comparator, ...], ...] | None:
    """The comparator sets of ``spec`` (any one must hold), or None if it is not read."""
    if not spec.strip(" "):
        return ((_ANY,),)
    spec = _TRIM.sub(lambda m: "~" if m.group(1).startswith("~") else m.group(1), spec)
    sets = []
    for alternative in spec.split("||"):
        comparators = _parse_set(alternative.strip(" "))
        if comparators is None:
            return None
        sets.append(tuple(comparators))
    return tuple(sets)


def _parse_set(text: str) -> list[_Comparator] | None:
    if not text:
        return [_ANY]
    hyphen = _HYPHEN.fullmatch(text)
    if hyphen:
        low, high = _partial(hyphen.group(1)), _partial(hyphen.group(2))
        if low is None or high is None:
            return None
        return [c for c in (_lower(">=", low), _upper("<=", high)) if c is not None]
    out: list[_Comparator] = []
    for token in text.split(" "):
        if not token:
            continue
        m = _COMPARATOR.fullmatch(token)
        partial = _partial(m.group(2)) if m else None
        if m is None or partial is None:
            return None
        expanded = _expand((m.group(1) or "").replace("~>", "~"), partial)
        if expanded is None:
            return None
        out.extend(expanded)
    return out or [_ANY]


class _Partial(NamedTuple):
    nums: tuple[int | None, ...]  # major, minor, patch; None: x, X, * or absent
    pre: tuple[int | str, ...]


def _partial(text: str) -> _Partial | None:
    m = _PARTIAL.fullmatch(text)
    if m is None:
        return None
    nums: list[int | None] = []
    for g in m.group(1, 2, 3):
        if g is None or g in "xX*":
            nums.append(None)
        elif int(g) > _MAX:
            return None
        else:
            nums.append(int(g))
    if None in nums and any(n is not None for n in nums[nums.index(None):]):
        return None  # "1.x.3": node-semver reads it in some places only
    pre = _prerelease(m.group(4))
    return None if pre is None else _Partial(tuple(nums), pre if nums[2] is not None else ())


def _expand(op: str, p: _Partial) -> list[_Comparator] | None:
    major, minor, patch = p.nums
    if op in ("~", "^") and major is None:
        return [_ANY]
    if op == "~":
        return _between(p, _bump(p, 1 if minor is not None else 0))
    if op == "^":
        if major:
            return _between(p, Version(major + 1, 0, 0, (0,)))
        if minor is None:
            return _between(p, Version(1, 0, 0, (0,)))
        if minor or patch is None:
            return _between(p, Version(0, minor + 1, 0, (0,)))
        return _between(p, Version(0, 0, patch + 1, (0,)))
    if op in ("", "="):
        return _between(p, _bump(p, _wild(p))) if None in p.nums else [("=", _full(p))]
    if major is None:  # >*, <* match nothing; >=*, <=* anything
        return [_ANY] if op in (">=", "<=") else [("<", Version(0, 0, 0, (0,)))]
    lower = _lower(op, p) if op in (">", ">=") else _upper(op, p)
    return [lower] if lower is not None else [_ANY]


def _wild(p: _Partial) -> int:
    """The index of the last number given (the one an x-range bumps)."""
    return p.nums.index(None) - 1


def _bump(p: _Partial, at: int) -> Version | None:
    """The first version past the x-range that keeps numbers up to ``at``."""
    if at < 0:
        return None  # "*": no upper bound
    nums = [n or 0 for n in p.nums]
    nums[at] += 1
    nums[at + 1:] = [0] * (2 - at)
    return Version(nums[0], nums[1], nums[2], (0,))


def _between(p: _Partial, high: Version | None) -> list[_Comparator]:
    low = _lower(">=", p)
    out = [c for c in (low, ("<", high) if high is not None else None) if c is not None]
    return out or [_ANY]


def _full(p: _Partial) -> Version:
    major, minor, patch = (n or 0 for n in p.nums)
    return Version(major, minor, patch, p.pre)


def _lower(op: str, p: _Partial) -> _Comparator | None:
    if p.nums[0] is None:
        return None
    if op == ">" and None in p.nums:  # >1.2 means >=1.3.0
        high = _bump(p, _wild(p))
        return (">=", high._replace(pre=())) if high is not None else None
    return (op, _full(p))


def _upper(op: str, p: _Partial) -> _Comparator | None:
    if p.nums[0] is None:
        return None
    if None not in p.nums:
        return (op, _full(p))
    if op == "<":  # <1.2 means <1.2.0-0
        return ("<", _full(p)._replace(pre=(0,)))
    high = _bump(p, _wild(p))  # <=1.2 means <1.3.0-0
    return ("<", high) if high is not None else None


def _test_set(comparators: tuple[_Comparator, ...], v: Version) -> bool:
    if not all(_test(c, v) for c in comparators):
        return False
    if not v.pre:
        return True
    # A prerelease matches only a set that names a prerelease of the same x.y.z.
    return any(c is not _ANY and c[1].pre and c[1][:3] == v[:3] for c in comparators)


def _test(c: _Comparator, v: Version) -> bool:
    op, bound = c
    if not op:
        return True
    a, b = v.key(), bound.key()
    return {"=": a == b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
