"""trust-policy.lock: the commit each git ledger of a policy is pinned to.

Written by ``package-trust ledger lock`` next to the policy; when it exists, every check
reads each git ledger at its pinned commit, so CI and every developer see the same ledger
until the lock is updated in a reviewed commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from package_trust.atomic import write_atomic
from package_trust.check.ledger.gitcache import is_commit_id
from package_trust.check.policy import LedgerSpec
from package_trust.check.yamlread import YamlReader
from package_trust.errors import LedgerError, PolicyError
from package_trust.filenames import lock_path

HEADER = (
    "# Written by `package-trust ledger lock`: the commit each git ledger is read at.\n"
    "# Commit it; run the command again to move the pins.\n"
)


@dataclass(frozen=True)
class Pin:
    git: str
    ref: str | None
    path: str
    commit: str

    def matches(self, spec: LedgerSpec) -> bool:
        return (self.git, self.ref, self.path) == (spec.git, spec.ref, spec.path)


def load(path: Path) -> list[Pin] | None:
    """The pins in ``path``; None when there is no lock file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"cannot read the lock file: {e}", path) from None
    r = YamlReader(path)
    root = r.compose(text)  # PyYAML only when there is a lock file (a git ledger)
    if root is None:
        raise PolicyError("the lock file is empty", path, 1)
    top = r.mapping(root, "the lock file", {"ledgers"}, set())
    pins = []
    for node in r.sequence(top["ledgers"], "ledgers"):
        m = r.mapping(node, "a pinned ledger", {"git", "commit"}, {"ref", "path"})
        commit = r.scalar(m["commit"], "commit").lower()
        if not is_commit_id(commit):
            raise r.fail(f"commit {commit!r} is not a full commit id", m["commit"])
        pins.append(Pin(
            git=r.string(m["git"], "git"),
            ref=r.scalar(m["ref"], "ref") if "ref" in m else None,
            path=r.string(m["path"], "path") if "path" in m else ".",
            commit=commit,
        ))
    return pins


def pinned(pins: list[Pin], spec: LedgerSpec, policy_path: Path) -> str:
    """The commit ``spec`` is pinned to; an error when the lock file does not name it."""
    for pin in pins:
        if pin.matches(spec):
            return pin.commit
    raise LedgerError(
        f"ledger {spec.git} (ref {spec.ref or 'default branch'}, path {spec.path}) is not "
        f"pinned in {lock_path(policy_path).name}: run `package-trust ledger lock`",
        policy_path, spec.line,
    )


def dump(pins: list[Pin]) -> str:
    import yaml

    entries = []
    for pin in pins:
        entry: dict[str, str] = {"git": pin.git}
        if pin.ref is not None:
            entry["ref"] = pin.ref
        if pin.path != ".":
            entry["path"] = pin.path
        entry["commit"] = pin.commit
        entries.append(entry)
    return HEADER + yaml.safe_dump({"ledgers": entries}, sort_keys=False)


def write(path: Path, pins: list[Pin]) -> None:
    """Write the lock file atomically: a whole new file, or the old one untouched."""
    write_atomic(path, dump(pins).encode())
