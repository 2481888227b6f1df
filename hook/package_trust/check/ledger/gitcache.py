"""The user's clones of git ledgers: one bare repository per URL, in a private folder the
caller names, kept with the real ``git``.

Nothing here checks out a working tree: ``ledger/git.py`` reads objects at a commit. Every
git command runs with a cleaned environment (no repository variables inherited from a
pre-commit hook, no prompts, no hooks, no dangerous transports) and a time limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from package_trust.check.folders import private_folder
from package_trust.errors import PackageTrustError

MAX_AGE_ENV = "PACKAGE_TRUST_LEDGER_MAX_AGE"
DEFAULT_MAX_AGE = 3600  # seconds between automatic fetches
GIT_TIMEOUT = 120  # seconds for one clone or fetch
HEAD_REF = "refs/package-trust/HEAD"  # the remote's default branch, as last fetched
PIN_REFS = "refs/package-trust/pins/"  # commits fetched by id, kept from garbage collection
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Transport settings a user may need (ssh, proxies, certificates); every other GIT_*
# variable, such as the GIT_DIR and GIT_INDEX_FILE a pre-commit hook exports, is dropped.
_KEPT_GIT_ENV = frozenset({
    "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_ASKPASS", "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH", "GIT_SSL_NO_VERIFY", "GIT_HTTP_PROXY_AUTHMETHOD", "GIT_PROXY_COMMAND",
    "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_EXEC_PATH",
    "GIT_ALLOW_PROTOCOL", "GIT_TRACE", "GIT_TRACE_PACKET", "GIT_CURL_VERBOSE",
})
# Options for every git command: never run a hook, never garbage-collect pinned commits.
_GIT_OPTIONS = ("-c", "core.hooksPath=/dev/null", "-c", "gc.auto=0",
                "-c", "maintenance.auto=false")


class FetchError(Exception):
    """A fetch failed: the URL is unreachable, or lacks what was asked for."""


def git_env() -> dict[str, str]:
    """The environment every git command runs in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") or k in _KEPT_GIT_ENV}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_NO_REPLACE_OBJECTS="1", LC_ALL="C", LANGUAGE="C")
    # ext:: runs commands; a policy file must not be able to do that.
    env.setdefault("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")
    return env


def git_command(repo: Path, *args: str) -> list[str]:
    return ["git", *_GIT_OPTIONS, "--git-dir", str(repo), *args]


def run_git(repo: Path, *args: str, stdin: str = "", timeout: float = GIT_TIMEOUT) -> str:
    """Run git in ``repo``; raise FetchError with git's last message when it fails."""
    try:
        proc = subprocess.Popen(
            git_command(repo, *args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=git_env(), start_new_session=True,
        )
    except OSError as e:
        raise PackageTrustError(f"cannot run git (is it installed?): {e.strerror}") from None
    try:
        out, err = proc.communicate(stdin.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # git and the transport it started
        proc.communicate()
        raise FetchError(f"git {args[0]} took longer than {timeout:.0f} seconds") from None
    if proc.returncode != 0:
        lines = [x.strip() for x in err.decode(errors="replace").splitlines() if x.strip()]
        raise FetchError(_message(lines) or f"git {args[0]} failed")
    return out.decode(errors="replace")


def _message(lines: list[str]) -> str:
    """git's most telling line: the first fatal or error, else the last."""
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line.split(":", 1)[1].strip()
    return lines[-1] if lines else ""


def is_commit_id(ref: str) -> bool:
    return _COMMIT.fullmatch(ref) is not None


def is_safe_ref(ref: str) -> bool:
    """A branch or tag name (or refs/...), with none of git's revision syntax."""
    return _REF.fullmatch(ref) is not None and ".." not in ref and not ref.endswith((".", "/"))


def max_age() -> int:
    """Seconds a cached ledger stays fresh: $PACKAGE_TRUST_LEDGER_MAX_AGE (90, 30m, 1h, 2d)."""
    raw = os.environ.get(MAX_AGE_ENV)
    if raw is None:
        return DEFAULT_MAX_AGE
    m = _DURATION.fullmatch(raw)
    if m is None:
        raise PackageTrustError(
            f"{MAX_AGE_ENV}={raw!r} is not a duration (seconds, or a number with s, m, h or d)"
        )
    return int(m.group(1)) * _UNITS[m.group(2)]


def describe_age(seconds: float) -> str:
    """``5 minutes``, ``3 hours``, ``2 days``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"


class GitCache:
    """One URL's bare repository, at <clones>/<sha256 of URL>/ (the face names the clones'
    folder: $XDG_CACHE_HOME/package-trust/ledgers/)."""

    def __init__(self, url: str, clones: Path | None):
        if clones is None:
            raise PackageTrustError(f"ledger {url}: no folder to keep its clone in (there is "
                                    "no home folder: set XDG_CACHE_HOME)")
        self.url = url
        self.dir = clones / hashlib.sha256(url.encode()).hexdigest()
        self.repo = self.dir / "repo.git"
        self._stamp = self.dir / "fetched"

    @property
    def exists(self) -> bool:
        return (self.repo / "HEAD").is_file()

    def age(self) -> float | None:
        """Seconds since the last successful fetch; None when never fetched."""
        try:
            return max(0.0, time.time() - self._stamp.stat().st_mtime)
        except FileNotFoundError:
            return None

    def resolve(self, ref: str | None) -> str | None:
        """The commit ``ref`` names in the cache (None: the default branch); None if absent."""
        if not self.exists:
            return None
        if ref is None:
            names = [HEAD_REF]
        elif is_commit_id(ref) or ref.startswith("refs/"):
            names = [ref]
        else:  # git's own order: a tag before a branch of the same name
            names = [f"refs/tags/{ref}", f"refs/heads/{ref}"]
        query = "".join(f"{n}^{{commit}}\n" for n in names)
        try:
            out = run_git(self.repo, "cat-file", "--batch-check", stdin=query)
        except FetchError:
            return None
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "commit":
                return parts[0]
        return None

    def fetch(self, commit: str | None = None) -> None:
        """Fetch every branch and tag (or only ``commit``), cloning first if needed."""
        for folder in (self.dir.parent.parent, self.dir.parent, self.dir):
            try:
                private_folder(folder)  # the refs here are trusted: ours alone
            except OSError as e:
                raise FetchError(f"cannot use the cache folder {folder}: {e}") from None
        with self._locked():
            fresh = not self.exists
            repo = Path(tempfile.mkdtemp(prefix="repo.tmp-", dir=self.dir)) if fresh else self.repo
            try:
                if fresh:
                    run_git(repo, "init", "--quiet", "--bare")
                if commit is not None:
                    run_git(repo, "fetch", "--quiet", "--no-tags", "--", self.url,
                            f"+{commit}:{PIN_REFS}{commit}")
                else:
                    self._fetch_refs(repo)
                if fresh:
                    shutil.rmtree(self.repo, ignore_errors=True)  # a copy left half-made
                    os.rename(repo, self.repo)
            except BaseException:
                if fresh:
                    shutil.rmtree(repo, ignore_errors=True)
                raise
            if commit is None:
                self._touch()

    def _fetch_refs(self, repo: Path) -> None:
        args = ("fetch", "--quiet", "--prune", "--no-tags", "--", self.url, *_REFSPECS)
        try:
            run_git(repo, *args, f"+HEAD:{HEAD_REF}")
        except FetchError as e:
            if "couldn't find remote ref HEAD" not in str(e):
                raise
            # The remote's HEAD names a branch that does not exist: only named refs work.
            run_git(repo, *args)
            run_git(repo, "update-ref", "-d", HEAD_REF)

    def _touch(self) -> None:
        fd, tmp = tempfile.mkstemp(prefix="fetched.tmp-", dir=self.dir)
        os.close(fd)
        os.replace(tmp, self._stamp)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One clone or fetch at a time per URL, across processes."""
        with open(self.dir / "lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
