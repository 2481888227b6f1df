"""A ledger in a git repository, read at one commit of the user's cache without a checkout.

Trees and files are read through one long-running ``git cat-file --batch`` process, and
only the folders a check needs are listed: keys/ and signatures/<name>/<version>/. Links,
submodules, unsafe names and oversized files become ``LedgerFile`` problems; nothing is
ever written to disk, so nothing in the repository can reach outside it.
"""

from __future__ import annotations

import subprocess
import weakref
from dataclasses import dataclass
from pathlib import Path

from package_trust.check import lock
from package_trust.check.filestat import Stats
from package_trust.check.gpg import MAX_STATEMENT_BYTES
from package_trust.check.ledger.folder import KEY_SUFFIXES, MAX_KEY_BYTES
from package_trust.check.ledger.gitcache import (
    FetchError,
    GitCache,
    describe_age,
    git_command,
    git_env,
    is_commit_id,
    is_safe_ref,
    max_age,
)
from package_trust.check.ledger.interface import LedgerFile
from package_trust.check.names import package_parts
from package_trust.check.policy import LedgerSpec
from package_trust.errors import LedgerError
from package_trust.filenames import lock_path

MAX_TREE_BYTES = 64 * 1024 * 1024
_TREE = b"40000"
_FILES = (b"100644", b"100755", b"100664")
_REFUSED = {b"120000": "is a link; not followed", b"160000": "is a submodule; not followed"}


class _Refused(Exception):
    """An object the ledger will not read; the message says why."""


@dataclass(frozen=True)
class _Entry:
    mode: bytes
    name: str
    oid: str


def _problem(entry: _Entry) -> str | None:
    """Why a file listed in a ledger folder is not read, or None."""
    if entry.name in (".", "..") or any(c in entry.name for c in "/\\\0\ufffd"):
        return "has an unsafe name; not read"
    if entry.mode in _REFUSED:
        return _REFUSED[entry.mode]
    if entry.mode == _TREE:
        return "is not a regular file"
    if entry.mode not in _FILES:
        return f"has an unknown file mode {entry.mode.decode(errors='replace')}"
    return None


def _shown(name: str) -> str:
    return name if name.isprintable() else "".join(c if c.isprintable() else "?" for c in name)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin:
        proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout:
        proc.stdout.close()


class _CatFile:
    """One ``git cat-file --batch`` process: every object read of a ledger goes through it."""

    def __init__(self, repo: Path, url: str):
        self._url = url
        try:
            self._proc = subprocess.Popen(
                git_command(repo, "cat-file", "--batch"), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=git_env(),
            )
        except OSError as e:
            raise LedgerError(f"cannot run git (is it installed?): {e.strerror}") from None
        self.close = weakref.finalize(self, _stop, self._proc)

    def read(self, name: str, kind: str, limit: int) -> bytes:
        """The object ``name``, which must be a ``kind`` of at most ``limit`` bytes."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(name.encode() + b"\n")
            stdin.flush()
            header = stdout.readline().split()
        except OSError:
            header = []
        if len(header) == 2 and header[1] == b"missing":
            raise _Refused("is missing from the repository")
        if len(header) != 3 or not header[2].isdigit():
            raise LedgerError(f"ledger {self._url}: git cat-file stopped answering")
        size = int(header[2])
        data = stdout.read(size) if size <= limit else self._skip(size)
        if stdout.read(1) != b"\n" or (size <= limit and len(data) != size):
            raise LedgerError(f"ledger {self._url}: git cat-file stopped answering")
        if header[1].decode() != kind:
            raise _Refused(f"is a {header[1].decode(errors='replace')}, not a {kind}")
        if size > limit:
            raise _Refused(f"is larger than {limit} bytes")
        return data

    def _skip(self, size: int) -> bytes:
        assert self._proc.stdout is not None
        while size > 0:
            chunk = self._proc.stdout.read(min(size, 1 << 20))
            if not chunk:
                raise LedgerError(f"ledger {self._url}: git cat-file stopped answering")
            size -= len(chunk)
        return b""


class GitLedger:
    """keys/ and signatures/ at one commit of a cached git repository."""

    def __init__(self, cache: GitCache, commit: str, path: str = "",
                 notices: list[str] | None = None):
        self.url = cache.url
        self.commit = commit
        self.notices = list(notices or [])
        self._base = [p for p in path.split("/") if p not in ("", ".")]
        self._oid_bytes = len(commit) // 2
        self._trees: dict[str, dict[str, list[_Entry]]] = {}
        self._git = _CatFile(cache.repo, self.url)
        self.close = self._git.close
        self._root = f"{commit}^{{tree}}"
        self._root = self._folder(self._base, f"no folder {path!r}")
        self._folder(["keys"], "not a ledger: it has no keys/ folder")

    def _folder(self, parts: list[str], missing: str) -> str:
        """The tree at root/parts..., which must exist."""
        found = self._find(parts)
        if isinstance(found, str):
            return found
        why = missing if found is None else f"{found.origin} {found.problem}"
        raise LedgerError(f"ledger {self.description} at {self.commit}: {why}")

    @property
    def description(self) -> str:
        return self.url + (f"//{'/'.join(self._base)}" if self._base else "")

    @property
    def revision(self) -> str | None:
        return self.commit

    def key_files(self) -> list[LedgerFile]:
        return self._files(["keys"], KEY_SUFFIXES, MAX_KEY_BYTES)

    def statements(self, name: str, version: str) -> list[LedgerFile]:
        return self._files(["signatures", *package_parts(name, version)], (".sig",),
                           MAX_STATEMENT_BYTES)

    def _origin(self, parts: list[str]) -> str:
        return f"{self.url}//{'/'.join(_shown(p) for p in [*self._base, *parts])}"

    def _files(self, parts: list[str], suffixes: tuple[str, ...], limit: int) -> list[LedgerFile]:
        """The files in root/parts... whose names end with ``suffixes``."""
        found = self._find(parts)
        if not isinstance(found, str):
            return [] if found is None else [found]
        try:
            entries = self._tree(found)
        except _Refused as e:
            return [LedgerFile(self._origin(parts), problem=str(e))]
        out = []
        for name in sorted(n for n in entries if n.endswith(suffixes)):
            for entry in entries[name]:
                out.append(self._file(entry, [*parts, name], limit))
        return out

    def _file(self, entry: _Entry, parts: list[str], limit: int) -> LedgerFile:
        origin = self._origin(parts)
        problem = _problem(entry)
        if problem is None:
            try:
                return LedgerFile(origin, self._git.read(entry.oid, "blob", limit))
            except _Refused as r:
                problem = str(r)
        return LedgerFile(origin, problem=problem)

    def _find(self, parts: list[str]) -> str | LedgerFile | None:
        """The tree at root/parts...: its id, a LedgerFile saying why not, or None if absent."""
        tree = self._root
        for i, part in enumerate(parts):
            try:
                matches = self._tree(tree).get(part, [])
            except _Refused as r:
                return LedgerFile(self._origin(parts[:i]), problem=str(r))
            if len(matches) == 1 and matches[0].mode == _TREE:
                tree = matches[0].oid
                continue
            if len(matches) > 1:
                problem: str | None = "appears twice in its folder"
            else:  # absent, or a file where a folder was expected: nothing filed here
                problem = _REFUSED.get(matches[0].mode) if matches else None
            return LedgerFile(self._origin(parts[: i + 1]), problem=problem) if problem else None
        return tree

    def _tree(self, oid: str) -> dict[str, list[_Entry]]:
        """A tree's entries by name (a hostile tree may hold a name twice)."""
        if oid not in self._trees:
            self._trees[oid] = self._read_tree(oid)
        return self._trees[oid]

    def _read_tree(self, name: str) -> dict[str, list[_Entry]]:
        data = self._git.read(name, "tree", MAX_TREE_BYTES)
        entries: dict[str, list[_Entry]] = {}
        i, n = 0, self._oid_bytes
        try:
            while i < len(data):
                space = data.index(b" ", i)
                nul = data.index(b"\0", space)
                oid = data[nul + 1 : nul + 1 + n]
                if len(oid) != n:
                    raise ValueError
                name_ = data[space + 1 : nul].decode(errors="replace")
                entries.setdefault(name_, []).append(_Entry(data[i:space], name_, oid.hex()))
                i = nul + 1 + n
        except ValueError:
            raise _Refused("is not a well-formed git tree") from None
        return entries


class PinnedGitLedger(GitLedger):
    """A git ledger at the commit the policy or its lock file pins: what it reads never
    changes, so a cache may keep its answers by commit id (``interface.Traced``, with
    nothing to watch). A ledger that follows a branch is not one: a fetch moves it."""

    @property
    def location(self) -> str:
        return f"{self.description}@{self.commit}"

    @property
    def observed(self) -> Stats:
        return {}

    def seen(self, name: str, version: str) -> Stats:
        return {}


def open_git(spec: LedgerSpec, policy_path: Path, clones: Path | None, *, fetch: bool = False,
             pinned: bool = True) -> GitLedger:
    """The ledger ``spec`` names, at its commit pinned in the lock file (unless not
    ``pinned``), else at its ref: fetched if the cache is old or ``fetch`` is asked.
    ``clones``: the folder of the user's clones (``gitcache.GitCache``; None: none)."""
    assert spec.git is not None
    where = (policy_path, spec.line)
    if spec.git.startswith("-"):
        raise LedgerError(f"git URL {spec.git!r} is not a URL", *where)
    if spec.ref is not None and not (is_commit_id(spec.ref) or is_safe_ref(spec.ref)):
        raise LedgerError(f"ref {spec.ref!r} is not a branch, tag or full commit id", *where)
    parts = spec.path.split("/")
    if spec.path.startswith("/") or ".." in parts:
        raise LedgerError(f"path {spec.path!r} must be a folder inside the repository", *where)
    cache = GitCache(spec.git, clones)
    try:
        pins = lock.load(lock_path(policy_path)) if pinned else None
        if spec.ref is not None and is_commit_id(spec.ref):
            commit = ensure_commit(cache, spec.ref, "change ref: in the policy")
        elif pins is not None:
            pin = lock.pinned(pins, spec, policy_path)
            commit = ensure_commit(cache, pin, "run `package-trust ledger lock` to pin another")
        else:
            commit, notices = current_commit(cache, spec.ref, fetch)
            return GitLedger(cache, commit, spec.path, notices)
        return PinnedGitLedger(cache, commit, spec.path)
    except LedgerError as e:
        raise (e if e.path else LedgerError(e.message, *where)) from None


def current_commit(cache: GitCache, ref: str | None, force: bool = False
                   ) -> tuple[str, list[str]]:
    """The commit ``ref`` names, fetching when the cache is older than the maximum age (or
    ``force``); when a fetch fails, the cached commit and a notice saying how old it is."""
    if ref is not None and is_commit_id(ref):
        return ensure_commit(cache, ref, "change ref: in the policy"), []
    limit, age = max_age(), cache.age()
    cached = cache.resolve(ref)
    if cached is not None and age is not None and not force and age <= limit:
        return cached, []
    try:
        cache.fetch()
    except FetchError as e:
        if cached is None or force:
            had = "" if force else " and there is no cached copy" if not cache.exists else (
                f" and the cached copy has no {ref or 'default branch'}")
            raise LedgerError(f"ledger {cache.url}: cannot fetch: {e}{had}") from None
        when = "at an unknown time" if age is None else f"{describe_age(age)} ago"
        return cached, [f"ledger {cache.url}: cannot fetch ({e}); using the copy fetched "
                        f"{when}, at {cached}"]
    commit = cache.resolve(ref)
    if commit is None:
        what = "no default branch (HEAD): name one with ref:" if ref is None else (
            f"no branch or tag {ref!r}")
        raise LedgerError(f"ledger {cache.url}: the repository has {what}")
    return commit, []


def ensure_commit(cache: GitCache, commit: str, fix: str) -> str:
    """``commit``, fetched into the cache if it is not there yet."""
    found = cache.resolve(commit)
    if found is not None:
        return found
    try:
        cache.fetch()  # a pinned commit is most often on a branch
    except FetchError as e:
        raise LedgerError(f"ledger {cache.url}: commit {commit} is not cached and the "
                          f"repository cannot be fetched: {e}") from None
    found = cache.resolve(commit)
    if found is None:
        try:
            cache.fetch(commit)
        except FetchError:
            raise LedgerError(
                f"ledger {cache.url}: commit {commit} no longer exists in the repository "
                f"(was its history rewritten?): {fix}"
            ) from None
        found = cache.resolve(commit)
    if found is None:
        raise LedgerError(f"ledger {cache.url}: {commit} is not a commit")
    return found
