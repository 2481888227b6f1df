"""GnuPG, isolated: a throw-away keyring holding only a ledger's keys, vetted file by file
(keyfiles.py), against which clearsigned statements are verified, many at once
(gpgbatch.py); gpgstatus.py judges what gpg says.

Nothing here reads the user's keyring or gpg.conf, and gpg is run directly: a
verification is good only as its status lines say (gpgstatus.parse_status), never by
its exit code.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from package_trust.check.folders import new_private_folder
from package_trust.check.gpgbatch import UNPROCESSED, Batch
from package_trust.check.gpgbin import gpg_binary
from package_trust.check.gpgstatus import BAD_STATUS as BAD_STATUS
from package_trust.check.gpgstatus import MAX_STATEMENT_BYTES as MAX_STATEMENT_BYTES
from package_trust.check.gpgstatus import KeyInfo as KeyInfo
from package_trust.check.gpgstatus import Verification as Verification
from package_trust.check.gpgstatus import check_key as check_key
from package_trust.check.gpgstatus import listed_keys
from package_trust.errors import GpgError

if TYPE_CHECKING:
    import subprocess

    from package_trust.check import keyfiles
    from package_trust.check.ledger.interface import LedgerFile

# subprocess is imported where it is used: a check answered from the verification cache
# (cache.py) starts no gpg and needs none.

_BASE_ARGS = [
    "--batch",
    "--no-tty",
    "--no-autostart",
    "--no-auto-key-retrieve",
    "--no-auto-key-locate",
    "--no-random-seed-file",  # parallel gpg processes would queue for its lock
    "--trust-model",
    "always",
]
_KEYBOX = "pubring.kbx"
GPG_TIMEOUT = 600  # seconds for one gpg process that is not verifying statements
VET_TIMEOUT = 30  # seconds gpg may take to list what key files hold (keyfiles.py)
VET_WORKERS = 16  # key files listed at once


def scratch() -> str | None:
    """Where the throw-away keyrings and the statements given to gpg go: $TMPDIR when
    set, else a memory file system ($XDG_RUNTIME_DIR, /dev/shm) when there is one, else
    the system's temporary folder. A check writes two small files per statement it
    verifies; on a disk, creating them can cost more than verifying them. A folder is
    used only if no other user can rename what is in it: ours and private, or sticky."""
    if os.environ.get("TMPDIR"):
        return None
    for folder in (os.environ.get("XDG_RUNTIME_DIR", ""), "/dev/shm"):
        if os.path.isabs(folder) and _safe_folder(folder):
            return folder
    return None


def _safe_folder(folder: str) -> bool:
    import stat

    try:
        st = os.stat(folder)
    except OSError:
        return False
    private = st.st_uid == os.geteuid() and not st.st_mode & 0o022
    return (stat.S_ISDIR(st.st_mode) and (private or bool(st.st_mode & stat.S_ISVTX))
            and os.access(folder, os.W_OK | os.X_OK))


def _env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPG_")}
    env.update(GNUPGHOME=home, LC_ALL="C", LANGUAGE="C")
    return env


class Keyring:
    """A temporary GNUPGHOME holding only the given public keys; a context manager."""

    def __init__(self, files: Sequence[LedgerFile], keys: dict[str, KeyInfo] | None = None,
                 keybox: bytes | None = None, trusted: frozenset[str] = frozenset()):
        """``files``: the key files, each judged on its own (keyfiles.py), which the
        notices name; ``keys``: gpg's listing of what they hold, when known already;
        ``keybox``: the keybox gpg built from exactly these files before (cache.py);
        ``trusted``: the primary keys a policy trusts, whose subkeys no other file takes."""
        self._binary = gpg_binary()
        self._batches: list[Batch] = []  # running
        self._folders = 0  # verify's folders made in home
        self.home = new_private_folder(scratch(), "package-trust-gpg-")
        os.chmod(self.home, 0o700)
        self.notices: list[str] = []  # the key files not used, and why; none from a keybox
        try:
            if keybox is not None:
                fd = os.open(os.path.join(self.home, _KEYBOX), os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(keybox)
                self.keys = keys if keys is not None else self._list()
            else:
                self.keys = self._load(files, keys, trusted)
        except BaseException:
            self.close()
            raise

    def _load(self, files: Sequence[LedgerFile], keys: dict[str, KeyInfo] | None,
              trusted: frozenset[str]) -> dict[str, KeyInfo]:
        """Import what the key files hold, each judged on its own, then against the
        others (keyfiles.py); gpg's listing of it, unless ``keys`` is that already."""
        from package_trust.check import keyfiles
        from package_trust.check.keypackets import screen

        screened = [f.problem or screen(f.data) for f in files]
        usable = [(f.origin, f.data, tags) for f, tags in zip(files, screened, strict=True)
                  if not isinstance(tags, str)]
        planned = self._together(usable) if usable else keyfiles.plan([])
        found: list[keyfiles.Held | list[int] | str] = list(screened)
        if planned is None:  # something is amiss: each file on its own, to name it
            vetted = iter(self._vet([data for _, data, _ in usable]))
            found = [t if isinstance(t, str) else next(vetted) for t in screened]
            planned = keyfiles.plan([keyfiles.Vetted(f.origin, f.data, held)
                                     for f, held in zip(files, found, strict=True)
                                     if isinstance(held, keyfiles.Held)], trusted)
        self.notices = [f"{f.origin}: {why}{keyfiles.NOT_USED}"
                        for f, why in zip(files, found, strict=True) if isinstance(why, str)]
        self.notices += planned.notices
        importing = [v.data for v in [*planned.files, *planned.revocations]]
        if importing:  # each a file of its own, then those with revocation certificates again
            folder = os.path.join(self.home, "key-files")
            self._run(["--import", *_write(folder, importing)], b"")
            shutil.rmtree(folder, ignore_errors=True)
        kept, notices = keyfiles.keep(self._list(), planned)
        self.notices += notices
        return keys if keys is not None else kept

    def _together(self, files: list[tuple[str, bytes, list[int]]]) -> keyfiles.Plan | None:
        """``keyfiles.plan_together``: all files listed by one gpg process."""
        from package_trust.check import keyfiles

        with _Listing(self, [data for _, data, _ in files], os.path.join(self.home, "all")) as one:
            held = one.result()
        return keyfiles.plan_together(files, held) if isinstance(held, keyfiles.Held) else None

    def _vet(self, files: list[bytes]) -> list[keyfiles.Held | str]:
        """What gpg lists each file alone to hold (``keyfiles.held``), or why the file is
        not to be used: a gpg process for each, VET_WORKERS at a time."""
        folder = os.path.join(self.home, "vet")
        os.mkdir(folder, 0o700)
        running: list[_Listing] = []
        results: list[keyfiles.Held | str] = []
        try:
            for n, data in enumerate(files):
                if n >= VET_WORKERS:
                    results.append(running[n - VET_WORKERS].result())
                running.append(_Listing(self, [data], os.path.join(folder, str(n))))
            return results + [listing.result() for listing in running[len(results):]]
        finally:
            for listing in running:
                listing.close()

    def _command(self, args: list[str], status: bool = True) -> list[str]:
        """gpg on this keyring, its status lines on stdout (or nothing but its output)."""
        return [self._binary, "--homedir", self.home, *_BASE_ARGS,
                *(["--status-fd", "1"] if status else []), *args]

    def _run(self, args: list[str], data: bytes, status: bool = True) -> bytes:
        """gpg on this keyring, given ``data``; its standard output."""
        import subprocess

        try:
            proc = subprocess.run(self._command(args, status), input=data, env=_env(self.home),
                                  capture_output=True, timeout=GPG_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise GpgError(f"cannot run gpg: {e}") from None
        return proc.stdout

    def __enter__(self) -> Keyring:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for batch in self._batches:  # a check that failed before waiting for them
            batch.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def keybox(self) -> bytes | None:
        """The keybox gpg built for the keys, to give a later keyring (cache.py)."""
        try:
            return Path(self.home, _KEYBOX).read_bytes()
        except OSError:
            return None

    def export(self, fingerprint: str) -> bytes:
        """One public key as this keyring holds it: minimal export, ASCII-armored."""
        return self._run(["--armor", "--export-options", "export-minimal", "--export",
                          fingerprint], b"", status=False)

    def _list(self) -> dict[str, KeyInfo]:
        """gpg's listing of the keyring's keys."""
        listing = self._run(["--with-colons", "--fixed-list-mode", "--with-fingerprint",
                             "--with-subkey-fingerprint", "--list-keys"], b"", status=False)
        return listed_keys(listing.decode("utf-8", "replace"))

    def verify_many(
        self, statements: Sequence[bytes], workers: int | None = None
    ) -> list[Verification]:
        """Verify clearsigned statements over ``workers`` gpg processes (one per core)."""
        verified: list[Verification | None] = [None] * len(statements)
        for n, v in self.verify(statements, workers):
            verified[n] = v
        return [v or Verification(None, problem=UNPROCESSED) for v in verified]

    def verify(
        self, statements: Iterable[bytes | None], workers: int | None = None
    ) -> Iterator[tuple[int, Verification]]:
        """Each statement's verification (by its position among ``statements``) as soon
        as gpg has made it: the statements are drawn as gpg has room for them."""
        self._folders += 1
        folder = os.path.join(self.home, f"verify-{self._folders}")  # close() removes it
        os.mkdir(folder, 0o700)
        batch = Batch(self._spawn, workers or os.cpu_count() or 1, folder)
        self._batches.append(batch)  # ended by run(), or, failing that, by close()
        try:
            for n, v in batch.run(statements):
                yield n, check_key(v, self.keys, time.time())
        finally:
            self._batches.remove(batch)
            batch.close()
            shutil.rmtree(folder, ignore_errors=True)

    def _spawn(self, args: list[str], cwd: str) -> subprocess.Popen[bytes]:
        """gpg on this keyring, started in ``cwd``: its input and its status lines piped."""
        import subprocess

        try:
            return subprocess.Popen(self._command(args), cwd=cwd, env=_env(self.home),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
                                    stderr=subprocess.DEVNULL)
        except OSError as e:
            raise GpgError(f"cannot run gpg: {e}") from None


def _write(folder: str, files: list[bytes]) -> list[str]:
    """Write each of ``files`` to a file of its own in a new private ``folder``; their paths."""
    os.mkdir(folder, 0o700)
    paths = [os.path.join(folder, str(n)) for n in range(len(files))]
    for path, data in zip(paths, files, strict=True):
        Path(path).write_bytes(data)
    return paths


class _Listing:
    """gpg listing what key files hold, each read on its own (``--import-options
    show-only``), in an empty GNUPGHOME of its own; ended after VET_TIMEOUT seconds."""

    def __init__(self, ring: Keyring, files: list[bytes], home: str):
        import subprocess
        import threading

        os.mkdir(home, 0o700)
        self._home = home
        self._listing = os.path.join(home, "listing")
        self._proc: subprocess.Popen[bytes] | None = None
        self._late = threading.Event()
        self._timer = threading.Timer(VET_TIMEOUT, self._end)
        # --trust-model direct: gpg lists a revoked key only with a trust database
        command = [ring._binary, "--homedir", home, *_BASE_ARGS, "--trust-model", "direct",
                   "--with-colons", "--import-options", "show-only", "--import",
                   *_write(os.path.join(home, "files"), files)]
        with open(self._listing, "wb") as out:
            try:
                self._proc = subprocess.Popen(command, cwd=home, env=_env(home), stdout=out,
                                              stdin=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
            except OSError as e:
                self.close()
                raise GpgError(f"cannot run gpg: {e}") from None
        self._timer.start()

    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _end(self) -> None:
        self._late.set()
        if self._proc is not None:
            self._proc.kill()

    def result(self) -> keyfiles.Held | str:
        """What gpg listed (``keyfiles.held``), or why the files are not to be used."""
        from package_trust.check import keyfiles

        if self._proc is None or self._proc.wait() != 0:
            return "gpg took too long to read it" if self._late.is_set() \
                else "gpg cannot read it whole"
        return keyfiles.held(Path(self._listing).read_bytes().decode("utf-8", "replace"))

    def close(self) -> None:
        self._timer.cancel()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._home, ignore_errors=True)


