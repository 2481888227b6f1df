"""Many clearsigned statements verified at once: up to one gpg process per core
(``--decrypt-files``), each reading the names of the files to verify from a pipe.

The statements are drawn from the caller as the work goes (reading them, the caller keeps
gpg busy meanwhile), each written to a file of its own; each gpg is given a few names at a
time, more as it reports files done, so that the processes share the work and end
together. Each verification is handed back as soon as gpg has made it. gpg stops at a bad
signature: what it was given after that goes to another gpg. What gpg says of each file
is judged by ``parse_status``.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING

from package_trust.check.gpgstatus import (
    CLEARSIGN_HEADER,
    JUDGED,
    MAX_STATEMENT_BYTES,
    Verification,
    parse_status,
)
from package_trust.errors import GpgError

if TYPE_CHECKING:
    import subprocess

GPG_TIMEOUT = 600  # seconds for all the statements of one batch
SMALL_BATCH = 8  # statements waiting for each gpg before another one is started; while
# another may start, each holds no more names than this, so that the rest wait for it
DRAW = 32  # statements drawn from the caller at a time, while gpg verifies
DRAW_SECONDS = 0.002  # and no longer than this: a slow ledger does not starve gpg
AHEAD = 20  # names each gpg holds: enough to keep it busy between two looks, and
# while the caller works out which to draw next (the engine checks kept verdicts then)
POLL = 0.005  # seconds between looks at what the processes said, once all are drawn,
POLL_SHORT = 0.001  # while each gpg holds more than SMALL_BATCH names; else this
# What one gpg may write, all its files together (--max-output): a clearsigned
# statement's text is never longer than the statement, so a gpg is given names only
# while the statements it was given hold no more than this.
OUTPUT_BUDGET = 64 * MAX_STATEMENT_BYTES
UNPROCESSED = "gpg could not process the statement"
# The status lines a batch reads: where each file starts and ends, and those that
# parse_status judges (the others, a good half of what gpg says, are passed over).
_STATUS = re.compile(rb"^\[GNUPG:\] ((?:FILE_START|FILE_DONE|%s)(?: [^\n]*)?)$"
                     % "|".join(JUDGED).encode(), re.MULTILINE)

_END = object()  # no more statements to draw

# gpg on the keyring with these arguments, started in this folder, stdin and stdout piped
Spawn = Callable[[list[str], str], "subprocess.Popen[bytes]"]


class Batch:
    """gpg processes verifying statements in one folder (``run``); ``close`` ends them."""

    def __init__(self, spawn: Spawn, workers: int, folder: str):
        self._spawn, self._workers, self._folder = spawn, workers, folder
        self._dir: int | None = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        self._args = ["--yes", "--max-output", str(OUTPUT_BUDGET),
                      "--decrypt-files"]  # and no file: their names, one a line, on stdin
        self._queue: deque[int] = deque()  # written, not yet given to a gpg
        self._sizes: dict[int, int] = {}
        self._gpgs: list[_Gpg] = []
        self._done: list[tuple[int, Verification]] = []  # made, not yet handed back
        self._drawing = True

    def run(self, statements: Iterable[bytes | None]) -> Iterator[tuple[int, Verification]]:
        """Verify ``statements``, drawn as the work goes; each one's verification (by its
        position, a None not counted) as soon as it is made, in any order, every one by
        the end."""
        deadline = time.monotonic() + GPG_TIMEOUT
        source, drawn = iter(statements), 0
        try:
            while True:
                if self._drawing:
                    drawn = self._draw(source, drawn)
                self._top_up()
                running = [g for g in self._gpgs if g.proc is not None]
                if not running and not self._drawing:
                    yield from self._handed()
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GpgError(
                        f"gpg took more than {GPG_TIMEOUT} seconds to verify statements")
                looking = select.poll()
                for g in running:
                    looking.register(g.status, select.POLLIN)
                # drawing, only a look; else wait for gpg, then let it report a few files
                wait = 0 if self._drawing else min(left, 1) * 1000
                ready = {fd for fd, _ in looking.poll(wait)}
                for g in running:
                    if g.status in ready or g.ended():
                        self._read(g)
                yield from self._handed()
                if not self._drawing:  # each look costs: fewer while gpg has work
                    held = min((len(g.given) for g in running), default=0)
                    time.sleep(POLL if held > SMALL_BATCH else POLL_SHORT)
        finally:
            self.close()

    def close(self) -> None:
        for g in self._gpgs:
            g.stop()
        if self._dir is not None:
            os.close(self._dir)
            self._dir = None

    def _draw(self, source: Iterator[bytes | None], drawn: int) -> int:
        """Take in up to DRAW statements, for DRAW_SECONDS at most: refuse what gpg is
        not to see, write the rest. The first for gpg starts it at once: the others are
        drawn as it works, with looks at what it said in between."""
        until = time.monotonic() + DRAW_SECONDS
        for _ in range(DRAW):
            if time.monotonic() > until:
                break
            data = next(source, _END)
            if data is _END:
                self._drawing = False
                break
            if data is None:  # the next is a while coming: gpg holds all that is written
                self._top_up(ahead=AHEAD + len(self._queue))
                continue
            assert isinstance(data, bytes)
            index, drawn = drawn, drawn + 1
            if len(data) > MAX_STATEMENT_BYTES:
                self._done.append((index, Verification(None, problem="statement is too large")))
            elif not data.lstrip().startswith(CLEARSIGN_HEADER):
                self._done.append((index, Verification(
                    None, problem="not a clearsigned statement")))
            else:
                _write(self._dir, f"{index}.asc", data)
                self._sizes[index] = len(data)
                self._queue.append(index)
                if not self._gpgs:
                    break
                self._top_up()  # gpg has it at once: drawing the next may take a while
        return drawn

    def _handed(self) -> Iterator[tuple[int, Verification]]:
        done, self._done = self._done, []
        return iter(done)

    def _top_up(self, ahead: int | None = None) -> None:
        """Start gpg processes as the work waiting warrants; give them names in turn, the
        newest first (so each one started has work), until each holds ``ahead``: AHEAD
        (SMALL_BATCH while another may start); when none are left to come, let each end."""
        self._gpgs = [g for g in self._gpgs if g.proc is not None]
        taking = [g for g in self._gpgs if g.names is not None]
        while self._queue and len(self._gpgs) < self._workers and (
                len(self._queue) > SMALL_BATCH * len(taking) or not taking):
            self._gpgs.append(g := _Gpg(self._spawn(self._args, self._folder)))
            taking.append(g)
        if ahead is None:
            ahead = AHEAD if len(self._gpgs) == self._workers else SMALL_BATCH
        turns = deque(reversed(taking))
        while self._queue and turns:
            g, index = turns.popleft(), self._queue[0]
            if len(g.given) >= ahead:
                continue
            if g.written + self._sizes[index] > OUTPUT_BUDGET:
                g.no_more_names()  # it ends after those: another takes the rest
            elif g.give(index, self._sizes[index]):
                self._queue.popleft()
                turns.append(g)
        if not self._queue and not self._drawing:
            for g in taking:
                g.no_more_names()

    def _read(self, g: _Gpg) -> None:
        """Take in what ``g`` said: a verification for each file it is done with."""
        said, ended = g.said()
        complete, _, g.partial = (g.partial + said).rpartition(b"\n")
        for line in _STATUS.findall(complete):  # the lines that count, keyword first
            words = line.decode("utf-8", "replace").split(" ")
            if g.current is not None and not words[0].startswith("FILE_"):
                g.lines.append(words)  # most lines: what gpg says of a file
            else:
                self._status(g, words)
        if ended:
            self._ended(g)

    def _status(self, g: _Gpg, words: list[str]) -> None:
        if words[0] == "FILE_START" and len(words) >= 3:
            index = _index(words[2])
            while g.given and g.given[0] != index:  # files gpg passed over without a word
                self._done.append((g.given.popleft(), Verification(None, problem=UNPROCESSED)))
            if g.given:
                g.current, g.lines, g.began = g.given.popleft(), [], True
        elif words[0] == "FILE_DONE" and g.current is not None:
            self._done.append((g.current, parse_status(g.lines, self._plaintext(g.current))))
            g.current = None
        elif g.current is not None:
            g.lines.append(words)

    def _ended(self, g: _Gpg) -> None:
        """gpg ended: it gave up on the file it was on (BADSIG ends it); what it was given
        after that goes back in the queue, for another gpg. One that was given names but
        ended before beginning any file fails the first waiting, so that every gpg given
        work settles at least one."""
        g.stop()
        if g.current is not None:
            self._done.append((g.current, parse_status(g.lines, None)))
        self._queue.extendleft(reversed(g.given))
        if not g.began and g.offered and self._queue:
            self._done.append((self._queue.popleft(), Verification(None, problem=UNPROCESSED)))

    def _plaintext(self, index: int) -> bytes | None:
        """What gpg wrote for the file: the text it verified as signed (closed before
        gpg reports the file done; never longer than the statement); the file and the
        statement are removed."""
        name = str(index)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self._dir)
        except OSError:
            return None
        try:
            text = os.read(fd, MAX_STATEMENT_BYTES + 1)
            return text if len(text) <= MAX_STATEMENT_BYTES else None
        except OSError:
            return None
        finally:
            os.close(fd)
            for done in (name, f"{name}.asc"):
                with contextlib.suppress(OSError):
                    os.unlink(done, dir_fd=self._dir)


def _write(folder: int | None, name: str, data: bytes) -> None:
    """A new file holding ``data`` in the open ``folder``, for this user only."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=folder)
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
        self.written = 0  # the bytes of the statements given: at most what it may write
        self.current: int | None = None  # FILE_START, no FILE_DONE yet
        self.lines: list[list[str]] = []  # its status lines about the current file
        self.partial = b""  # the start of a status line to come
        self.began = False  # whether it began any file
        self.offered = False  # whether it was given (or offered) any name

    def said(self) -> tuple[bytes, bool]:
        """What gpg wrote since the last look, and whether it has ended: its output
        closed, or the process gone (should another process hold the output open). A
        process found gone after the pipe was empty may have written its last lines in
        between: they are read before it is said to have ended."""
        chunks: list[bytes] = []
        ended = False
        while True:
            try:
                data = os.read(self.status, 1 << 16)
            except BlockingIOError:
                if ended or not self.ended():
                    return b"".join(chunks), ended
                ended = True  # all it wrote is in the pipe now: read to its end
                continue
            if not data:
                return b"".join(chunks), True
            chunks.append(data)

    def ended(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def give(self, index: int, size: int) -> bool:
        """Give gpg a file's name; False if it takes no more."""
        if self.names is None:
            return False
        self.offered = True
        try:
            self.names.write(f"{index}.asc\n".encode())
        except OSError:
            self.no_more_names()
            return False
        self.given.append(index)
        self.written += size
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
