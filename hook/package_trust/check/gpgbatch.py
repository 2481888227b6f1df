"""Many clearsigned statements verified at once: one gpg process per core
(``--decrypt-files``), each reading the names of the files to verify from a pipe.

Every statement is written to a file of its own; each gpg is given a few names to start
with, then more as it reports files done, so that the processes share the work as they
go and end together. gpg stops at a bad signature: what it was given after that goes to
a new gpg. What gpg says of each file is judged by ``parse_status``.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING

from package_trust.check.gpgstatus import (
    CLEARSIGN_HEADER,
    MAX_STATEMENT_BYTES,
    Verification,
    parse_status,
)
from package_trust.errors import GpgError

if TYPE_CHECKING:
    import subprocess

GPG_TIMEOUT = 600  # seconds for all the statements of one batch
SMALL_BATCH = 32  # statements that one gpg process verifies about as fast as two would
FIRST = 64  # names each gpg is given at once: work for it until finish() is called
AHEAD = 8  # names each gpg holds after that: enough to keep it busy between two looks
POLL = 0.002  # seconds between looks at what the processes said
UNPROCESSED = "gpg could not process the statement"

# gpg on the keyring with these arguments, started in this folder, stdin and stdout piped
Spawn = Callable[[list[str], str], "subprocess.Popen[bytes]"]


class Batch:
    """Statements being verified by gpg processes, started at once; ``finish`` waits."""

    def __init__(self, spawn: Spawn, statements: Sequence[bytes], workers: int, folder: str):
        self.results: list[Verification | None] = [None] * len(statements)
        todo = []
        for i, data in enumerate(statements):
            if len(data) > MAX_STATEMENT_BYTES:
                self.results[i] = Verification(None, problem="statement is too large")
            elif not data.lstrip().startswith(CLEARSIGN_HEADER):
                self.results[i] = Verification(None, problem="not a clearsigned statement")
            else:
                todo.append(i)
        self._spawn, self._folder = spawn, folder
        self._deadline = time.monotonic() + GPG_TIMEOUT
        # --max-output is for a whole process: what it may print, all files together;
        # any one may be given any statement, so no more than all the statements hold.
        self._args = ["--yes", "--max-output", str(sum(len(statements[i]) for i in todo)),
                      "--decrypt-files"]  # and no file: their names, one a line, on stdin
        self._queue = deque(todo)
        count = min(workers, max(1, len(todo) // SMALL_BATCH)) if todo else 0
        self._gpgs: list[_Gpg] = []
        try:
            for _ in range(count):
                self._gpgs.append(_Gpg(self._spawn(self._args, folder)))
            for n, i in enumerate(todo):  # each file written, then its name given out
                _write(os.path.join(folder, f"{i}.asc"), statements[i])
                if n < FIRST * count:
                    self._give(self._gpgs[n % count])
            self._top_up()
        except BaseException:
            self.close()
            raise

    def finish(self) -> list[Verification]:
        """Wait for gpg; every verification, in order."""
        while running := [g for g in self._gpgs if g.proc is not None]:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise GpgError(f"gpg took more than {GPG_TIMEOUT} seconds to verify statements")
            looking = select.poll()
            for g in running:
                looking.register(g.status, select.POLLIN)
            ready = {fd for fd, _ in looking.poll(min(left, 1) * 1000)}
            for g in running:
                if g.status in ready or g.ended():
                    self._read(g)
            self._top_up()
            time.sleep(POLL)  # gpg reports a few files meanwhile: fewer looks
        return [v or Verification(None, problem=UNPROCESSED) for v in self.results]

    def close(self) -> None:
        for g in self._gpgs:
            g.stop()

    def _give(self, g: _Gpg) -> None:
        index = self._queue.popleft()
        if not g.give(index):  # gpg ended: its end is read next, and what it held requeued
            self._queue.appendleft(index)

    def _top_up(self) -> None:
        """Give each gpg names until it holds AHEAD; when none are left, let it end."""
        for g in self._gpgs:
            while self._queue and g.names is not None and len(g.given) < AHEAD:
                self._give(g)
            if not self._queue:
                g.no_more_names()

    def _read(self, g: _Gpg) -> None:
        """Take in what ``g`` said: a verification for each file it is done with."""
        said, ended = g.said()
        complete, _, g.partial = (g.partial + said).rpartition(b"\n")
        for line in complete.decode("utf-8", "replace").split("\n"):
            if not line.startswith("[GNUPG:] "):
                continue
            if g.current is not None and not line.startswith("[GNUPG:] FILE_"):
                g.lines.append(line[9:].split(" "))  # most lines: what gpg says of a file
            else:
                self._status(g, line[9:].split(" "))
        if ended:
            self._ended(g)

    def _status(self, g: _Gpg, words: list[str]) -> None:
        if words[0] == "FILE_START" and len(words) >= 3:
            index = _index(words[2])
            while g.given and g.given[0] != index:  # files gpg passed over without a word
                self.results[g.given.popleft()] = Verification(None, problem=UNPROCESSED)
            if g.given:
                g.current, g.lines, g.began = g.given.popleft(), [], True
        elif words[0] == "FILE_DONE" and g.current is not None:
            self.results[g.current] = parse_status(g.lines, self._plaintext(g.current))
            g.current = None
        elif g.current is not None:
            g.lines.append(words)

    def _ended(self, g: _Gpg) -> None:
        """gpg ended: it gave up on the file it was on (BADSIG ends it); what it was given
        after that goes to a new gpg. One that ended before beginning any file fails the
        first waiting, so that every gpg started settles at least one."""
        g.stop()
        if g.current is not None:
            self.results[g.current] = parse_status(g.lines, None)
        self._queue.extendleft(reversed(g.given))
        if not g.began and self._queue:
            self.results[self._queue.popleft()] = Verification(None, problem=UNPROCESSED)
        if self._queue:
            self._gpgs[self._gpgs.index(g)] = _Gpg(self._spawn(self._args, self._folder))
            self._top_up()

    def _plaintext(self, index: int) -> bytes | None:
        """What gpg wrote for the file: the text it verified as signed (closed before
        gpg reports the file done)."""
        try:
            with open(os.path.join(self._folder, str(index)), "rb", buffering=0) as f:
                return f.readall()
        except OSError:
            return None


def _write(path: str, data: bytes) -> None:
    """A new file holding ``data``, for this user only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _index(name: str) -> int:
    number = name.removesuffix(".asc")
    return int(number) if number.isdigit() else -1


class _Gpg:
    """One gpg process of a batch: the names it holds, and the file it is on."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        assert proc.stdout is not None
        self.proc: subprocess.Popen[bytes] | None = proc
        self.names: IO[bytes] | None = proc.stdin
        self.status = proc.stdout.fileno()
        os.set_blocking(self.status, False)
        self.given: deque[int] = deque()  # in the order given, not begun yet
        self.current: int | None = None  # FILE_START, no FILE_DONE yet
        self.lines: list[list[str]] = []  # its status lines about the current file
        self.partial = b""  # the start of a status line to come
        self.began = False  # whether it began any file

    def said(self) -> tuple[bytes, bool]:
        """What gpg wrote since the last look, and whether it has ended: its output
        closed, or the process gone (should another process hold the output open)."""
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(self.status, 1 << 16)
            except BlockingIOError:
                return b"".join(chunks), self.ended()
            if not data:
                return b"".join(chunks), True
            chunks.append(data)

    def ended(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def give(self, index: int) -> bool:
        """Give gpg a file's name; False if it has ended."""
        if self.names is None:
            return False
        try:
            self.names.write(f"{index}.asc\n".encode())
        except OSError:
            self.no_more_names()
            return False
        self.given.append(index)
        return True

    def no_more_names(self) -> None:
        """gpg ends once done with the names it holds."""
        if self.names is not None:
            names, self.names = self.names, None
            with contextlib.suppress(OSError):
                names.close()

    def stop(self) -> None:
        """End the process (at once, unless it has ended) and close its pipes."""
        proc, self.proc = self.proc, None
        self.no_more_names()
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
