"""GnuPG, isolated: a throw-away keyring holding only a ledger's keys, and batch
verification of clearsigned statements against it.

Nothing here reads the user's keyring or gpg.conf. A verification is good only when
gpg reported GOODSIG and VALIDSIG for exactly one signature and none of the status
codes that mark an expired, revoked, bad or uncheckable signature; gpg's exit code and
python-gnupg's status text are never consulted for that.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

from package_trust.errors import GpgError

if TYPE_CHECKING:
    import subprocess

    from package_trust.check import keyfiles
    from package_trust.check.ledger.interface import LedgerFile

# subprocess, tempfile and gnupg are imported where they are used:
# a check answered from the verification cache (cache.py) starts no gpg and needs none.

CLEARSIGN_HEADER = b"-----BEGIN PGP SIGNED MESSAGE-----"
MAX_STATEMENT_BYTES = 64 * 1024
# VALIDSIG's hash algorithm field: digests too weak to bind a statement (RFC 4880 9.4).
WEAK_HASHES = {"1": "MD5", "2": "SHA-1", "3": "RIPEMD-160"}
BAD_STATUS = {
    "BADSIG": "bad signature: the statement was altered after signing",
    "EXPSIG": "the signature has expired",
    "EXPKEYSIG": "signed by an expired key",
    "REVKEYSIG": "signed by a revoked key",
}
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
BATCH_SIZE = 1000  # statements per gpg process, at most
GPG_TIMEOUT = 600  # seconds
SMALL_BATCH = 32  # statements that one gpg process verifies about as fast as two would
VET_TIMEOUT = 30  # seconds gpg may take to list what key files hold (keyfiles.py)
VET_WORKERS = 16  # key files listed at once


def gpg_binary() -> str:
    """The gpg executable, or an error saying how to get one."""
    found = shutil.which(os.environ.get("PACKAGE_TRUST_GPG", "gpg"))
    if found is None:
        raise GpgError("gpg (GnuPG) is not installed: install it, e.g. apt-get install gnupg")
    return found


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


class KeyInfo(NamedTuple):
    """A primary key in the isolated keyring, as gpg lists it."""

    fingerprint: str
    uids: tuple[str, ...]
    expires: int | None  # seconds since the epoch
    revoked: bool
    subkeys: dict[str, bool]  # subkey fingerprint -> revoked
    digest: str  # changes whenever gpg's view of the key changes
    subkey_expires: dict[str, int | None] = {}  # noqa: RUF012 (a default shared, never changed)

    def expired(self, now: float) -> bool:
        return self.expires is not None and self.expires <= now

    @property
    def uid(self) -> str:
        return self.uids[0] if self.uids else ""


class Verification(NamedTuple):
    """What gpg said about one clearsigned statement."""

    plaintext: bytes | None  # the text gpg verified as signed, and nothing else
    primary: str | None = None  # primary key fingerprint (VALIDSIG, last field)
    signer: str | None = None  # the (sub)key that made the signature
    signed_at: int | None = None
    expires: int | None = None  # signature expiry, seconds since the epoch
    uid: str | None = None
    problem: str | None = None  # None exactly when the signature is good
    # gpg checked the signature over ``plaintext`` and it holds, but its key has expired
    # or been revoked, or the signature has expired: not good enough to count an audit,
    # good enough to honour a rejection (failing closed).
    lapsed: bool = False

    @property
    def good(self) -> bool:
        return self.problem is None

    @property
    def authentic(self) -> bool:
        """Whether the key made this signature over ``plaintext``, lapsed or not."""
        return self.plaintext is not None and (self.good or self.lapsed)


class Keyring:
    """A temporary GNUPGHOME holding only the given public keys; a context manager."""

    def __init__(self, files: Sequence[LedgerFile], keys: dict[str, KeyInfo] | None = None,
                 keybox: bytes | None = None):
        """``files``: the key files, each judged on its own (keyfiles.py), which the
        notices name; ``keys``: gpg's listing of what they hold, when known already;
        ``keybox``: the keybox gpg built from exactly these files before (cache.py)."""
        import tempfile

        self._binary = gpg_binary()
        self._batches: list[_Batch] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="package-trust-gpg-", dir=scratch())
        self.home = self._tmp.name
        os.chmod(self.home, 0o700)
        self._gnupg: Any = None
        self.notices: list[str] = []  # the key files not used, and why; none from a keybox
        try:
            if keybox is not None:
                fd = os.open(os.path.join(self.home, _KEYBOX), os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(keybox)
                self.keys = keys if keys is not None else self._list()
            else:
                self.keys = self._load(files, keys)
        except BaseException:
            self.close()
            raise

    def _load(self, files: Sequence[LedgerFile], keys: dict[str, KeyInfo] | None
              ) -> dict[str, KeyInfo]:
        """Import what the key files hold, each judged on its own, then against the
        others (keyfiles.py); gpg's listing of it, unless ``keys`` is that already."""
        from package_trust.check import keyfiles

        screened = [f.problem or keyfiles.screen(f.data) for f in files]
        usable = [(f.origin, f.data, tags) for f, tags in zip(files, screened, strict=True)
                  if not isinstance(tags, str)]
        planned = self._together(usable) if usable else keyfiles.plan([])
        found: list[keyfiles.Held | list[int] | str] = list(screened)
        if planned is None:  # something is amiss: each file on its own, to name it
            vetted = iter(self._vet([data for _, data, _ in usable]))
            found = [t if isinstance(t, str) else next(vetted) for t in screened]
            planned = keyfiles.plan([keyfiles.Vetted(f.origin, f.data, held)
                                     for f, held in zip(files, found, strict=True)
                                     if isinstance(held, keyfiles.Held)])
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

    @property
    def _gpg(self) -> Any:
        """python-gnupg on this keyring, started when first needed (listing, export)."""
        if self._gnupg is None:
            import gnupg

            try:
                self._gnupg = gnupg.GPG(
                    gpgbinary=self._binary, gnupghome=self.home, options=_BASE_ARGS,
                    encoding="utf-8",  # user IDs are UTF-8 (the default is latin-1)
                )
                self._gnupg.decode_errors = "replace"  # ...or should be: anyone adds keys
            except (OSError, ValueError) as e:
                raise GpgError(f"cannot run gpg: {e}") from None
        return self._gnupg

    def _command(self, args: list[str]) -> list[str]:
        """gpg on this keyring, its status lines on stdout."""
        return [self._binary, "--homedir", self.home, *_BASE_ARGS, "--status-fd", "1", *args]

    def _run(self, args: list[str], data: bytes) -> bytes:
        """gpg on this keyring, given ``data``; its status lines."""
        import subprocess

        try:
            proc = subprocess.run(self._command(args), input=data, env=_env(self.home),
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
        self._tmp.cleanup()

    def keybox(self) -> bytes | None:
        """The keybox gpg built for the keys, to give a later keyring (cache.py)."""
        try:
            return Path(self.home, _KEYBOX).read_bytes()
        except OSError:
            return None

    def export(self, fingerprint: str) -> bytes:
        """One public key as this keyring holds it: minimal export, ASCII-armored."""
        data = self._gpg.export_keys(fingerprint, armor=True, minimal=True)
        return data.encode() if isinstance(data, str) else bytes(data or b"")

    def _list(self) -> dict[str, KeyInfo]:
        keys: dict[str, KeyInfo] = {}
        for k in self._gpg.list_keys():
            infos = k.get("subkey_info", {}).values()
            subkeys = {info["fingerprint"]: info.get("trust") == "r" for info in infos}
            digest = hashlib.sha256(repr(sorted(k.items(), key=str)).encode()).hexdigest()
            keys[k["fingerprint"]] = KeyInfo(
                fingerprint=k["fingerprint"],
                uids=tuple(k.get("uids", ())),
                expires=int(k["expires"]) if k.get("expires") else None,
                revoked=k.get("trust") == "r",
                subkeys=subkeys,
                digest=digest,
                subkey_expires={
                    info["fingerprint"]: int(info["expires"]) if info.get("expires") else None
                    for info in infos
                },
            )
        return keys

    def verify_many(
        self, statements: Sequence[bytes], workers: int | None = None
    ) -> list[Verification]:
        """Verify clearsigned statements, in batches over ``workers`` gpg processes."""
        return self.start(statements, workers)()

    def start(
        self, statements: Sequence[bytes], workers: int | None = None
    ) -> Callable[[], list[Verification]]:
        """``verify_many``, begun: gpg processes verify while the caller goes on (no
        thread of this process waits on them); the function returned waits for them and
        returns every verification, in order."""
        results: list[Verification | None] = [None] * len(statements)
        todo = []
        for i, data in enumerate(statements):
            if len(data) > MAX_STATEMENT_BYTES:
                results[i] = Verification(None, problem="statement is too large")
            elif not data.lstrip().startswith(CLEARSIGN_HEADER):
                results[i] = Verification(None, problem="not a clearsigned statement")
            else:
                todo.append(i)
        # As few gpg processes as keep every core busy, each with at most BATCH_SIZE
        # statements: starting gpg costs as much as verifying several statements. A few
        # statements go to one process, leaving the other cores to the check meanwhile.
        workers = min(workers or os.cpu_count() or 1, max(1, len(todo) // SMALL_BATCH))
        per_core = -(-len(todo) // (workers * BATCH_SIZE))
        size = max(1, -(-len(todo) // (workers * per_core))) if todo else 1
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        running = self._batches  # closed by finish() or, failing that, by close()
        try:
            for chunk in chunks[:workers]:
                running.append(_Batch(self, [statements[i] for i in chunk]))
        except BaseException:
            self._end(running)
            raise

        def finish() -> list[Verification]:
            try:
                for n, chunk in enumerate(chunks):
                    verified = running[n].finish()
                    if n + workers < len(chunks):  # a process ended: start the next batch
                        later = chunks[n + workers]
                        running.append(_Batch(self, [statements[i] for i in later]))
                    for i, v in zip(chunk, verified, strict=True):
                        results[i] = v
            finally:
                self._end(running)
            now = time.time()
            return [check_key(v, self.keys, now) for v in results if v is not None]

        return finish

    @staticmethod
    def _end(batches: list[_Batch]) -> None:
        for batch in batches:
            batch.close()
        batches.clear()

    def _spawn(self, args: list[str], cwd: str, status: str) -> subprocess.Popen[bytes]:
        """gpg on this keyring, started; its status lines go to the file ``status``."""
        import subprocess

        with open(status, "wb") as out:
            try:
                return subprocess.Popen(self._command(args), cwd=cwd, env=_env(self.home),
                                        stdout=out,
                                        stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


class _Batch:
    """One gpg process verifying many statements (``--decrypt-files``), started at once;
    ``finish`` waits for it, and runs gpg again past a statement it gave up on."""

    def __init__(self, ring: Keyring, batch: list[bytes]):
        import tempfile

        self._ring = ring
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="package-trust-verify-", dir=scratch())
        self._work = self._tmp.name
        self._size = len(batch)
        try:
            for i, data in enumerate(batch):
                Path(self._work, f"{i}.asc").write_bytes(data)
            self._pending = list(range(len(batch)))
            self._proc = self._decrypt(self._pending)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._tmp.cleanup()

    def _decrypt(self, indexes: list[int]) -> subprocess.Popen[bytes]:
        args = [
            "--yes",
            "--max-output",  # for the whole process: what it may print, all files together
            str(sum(Path(self._work, f"{i}.asc").stat().st_size for i in indexes)),
            "--decrypt-files",
            *[f"{i}.asc" for i in indexes],
        ]
        return self._ring._spawn(args, self._work, os.path.join(self._work, "status"))

    def finish(self) -> list[Verification]:
        done: dict[int, Verification] = {}
        pending = self._pending
        while pending:
            done.update(self._results())
            rest = [i for i in pending if i not in done]
            if rest and rest[0] == pending[0]:  # gpg stopped before this one: count it failed
                done[rest[0]] = Verification(None, problem="gpg could not process the statement")
                rest = rest[1:]
            pending = rest  # gpg stops a batch at a bad signature: go on after it
            if pending:
                self._proc = self._decrypt(pending)
        return [done[i] for i in range(self._size)]

    def _results(self) -> dict[int, Verification]:
        """Wait for gpg; what it said of each file."""
        import threading

        # A blocking wait (wait(timeout=…) polls, and would add up to 50 ms), and a timer
        # that ends a gpg that hangs.
        proc = self._proc
        if proc is None:  # never so: __init__ and finish() start it
            raise GpgError("gpg did not start")
        hung = threading.Event()

        def kill() -> None:
            hung.set()
            proc.kill()

        timer = threading.Timer(GPG_TIMEOUT, kill)
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        if hung.is_set():
            raise GpgError(f"gpg took more than {GPG_TIMEOUT} seconds to verify statements")
        results: dict[int, Verification] = {}
        current: int | None = None
        lines: list[list[str]] = []
        status = Path(self._work, "status").read_bytes().decode("utf-8", "replace")
        for raw in status.splitlines():
            if not raw.startswith("[GNUPG:] "):
                continue
            words = raw[9:].split(" ")
            if words[0] == "FILE_START" and len(words) >= 3:
                current, lines = int(words[2].removesuffix(".asc")), []
            elif words[0] == "FILE_DONE" and current is not None:
                plaintext = Path(self._work, str(current))
                text = plaintext.read_bytes() if plaintext.is_file() else None
                results[current] = parse_status(lines, text)
                current = None
            elif current is not None:
                lines.append(words)
        if current is not None:  # gpg gave up on this file (BADSIG ends the batch)
            results[current] = parse_status(lines, None)
        return results


def check_key(v: Verification, keys: dict[str, KeyInfo], now: float) -> Verification:
    """Belt and braces: refuse what the keyring says is revoked or expired."""
    if not v.good:
        return v
    key = keys.get(v.primary or "")
    if key is None:
        return v._replace(problem="signed by a key that is not in the keyring")
    if key.revoked:
        return v._replace(problem="signed by a revoked key", lapsed=True)
    if key.expired(now):
        return v._replace(problem="signed by an expired key", lapsed=True)
    if v.signer != key.fingerprint:
        if key.subkeys.get(v.signer or "", True):
            return v._replace(problem="signed by a revoked or unknown subkey", lapsed=True)
        expires = key.subkey_expires.get(v.signer or "")
        if expires is not None and expires <= now:
            return v._replace(problem="signed by an expired subkey", lapsed=True)
    return v


def parse_status(lines: list[list[str]], plaintext: bytes | None) -> Verification:
    """Judge one statement from gpg's status lines (keyword first, split on spaces)."""
    keywords = [w[0] for w in lines]
    sigs = keywords.count("NEWSIG")
    named = ("GOODSIG", *BAD_STATUS)
    uid = next((" ".join(w[2:]) for w in lines if w[0] in named and len(w) > 2), None)
    validsig = next((w for w in lines if w[0] == "VALIDSIG" and len(w) >= 11), None)
    primary = validsig[10] if validsig else None
    signer = validsig[1] if validsig else None
    signed_at = int(validsig[3]) if validsig and validsig[3].isdigit() else None
    expiry = validsig[4] if validsig else ""
    expires = int(expiry) if expiry.isdigit() and expiry != "0" else None

    def result(problem: str | None, lapsed: bool = False) -> Verification:
        return Verification(plaintext, primary, signer, signed_at, expires, uid, problem, lapsed)

    clean = (
        sigs == 1
        and validsig is not None
        and not {"BADSIG", "ERRSIG", "FAILURE", "ERROR"} & set(keywords)
    )
    for keyword, problem in BAD_STATUS.items():
        if keyword in keywords:
            return result(problem, lapsed=clean and keyword != "BADSIG")
    if validsig is not None and validsig[8] in WEAK_HASHES:
        return result(f"signed with a weak hash algorithm ({WEAK_HASHES[validsig[8]]})")
    errsig = next((w for w in lines if w[0] == "ERRSIG"), None)
    if errsig is not None:
        if "NO_PUBKEY" in keywords:
            key = errsig[1] if len(errsig) > 1 else "?"
            return result(f"signed by key {key}, which is not in the ledger's keys/")
        return result("the signature could not be checked")
    if sigs == 0 or "NODATA" in keywords:
        return result("not a signed statement")
    if sigs != 1:
        return result(f"carries {sigs} signatures; a statement must carry exactly one")
    if "GOODSIG" not in keywords or validsig is None:
        return result("gpg did not report a good, valid signature")
    if any(k in ("FAILURE", "ERROR") for k in keywords) or plaintext is None:
        return result("gpg reported an error reading the statement")
    return result(None)
