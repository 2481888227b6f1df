"""A memory opened ahead of the check: as soon as the policy and the ledgers are known, a
thread opens it (gpg vets and imports the ledgers' keys) while the lockfiles are read.

The engine takes what was opened when it asks for the same policy and ledgers (else it
opens afresh), and it reads nothing from the ledgers before it asks: the thread is the
only one reading them until then. An error met on the way is raised where the engine
asks, as if it had opened the memory itself; one it never asks for is never raised.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from types import TracebackType

from package_trust.check.interfaces import Memory, VerdictMemo, Verifier
from package_trust.check.ledger import Ledger
from package_trust.check.policy import Policy

SWITCH_SECONDS = 0.0002  # how soon the thread has the GIL back once it is ready


class Early:
    """``memory``, opened in a thread for ``policy`` and ``ledgers``; a context manager
    that closes what the engine did not take."""

    def __init__(self, memory: Memory, policy: Policy, ledgers: Sequence[Ledger]):
        self._memory, self._policy, self._ledgers = memory, policy, ledgers
        self._opened: tuple[Verifier, VerdictMemo] | None = None
        self._error: BaseException | None = None
        self._taken = False
        # The thread mostly waits (for files, gpg, the database) and the lockfiles are
        # parsed meanwhile: at each wait it would lose the GIL to the parse for a whole
        # switch interval (5 ms), which made gpg start tens of milliseconds later.
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_SECONDS)
        self._thread = threading.Thread(target=self._open, name="package-trust-keys",
                                        daemon=True)
        self._thread.start()

    def _open(self) -> None:
        try:
            self._opened = self._memory.open(self._policy, self._ledgers)
        except BaseException as e:  # raised where the engine asks (open)
            self._error = e

    def open(self, policy: Policy, ledgers: Sequence[Ledger]) -> tuple[Verifier, VerdictMemo]:
        """What the thread opened, when asked for the same; else the memory opened now."""
        self._join()
        if policy is not self._policy or list(ledgers) != list(self._ledgers):
            return self._memory.open(policy, ledgers)
        if self._error is not None:
            raise self._error
        assert self._opened is not None
        self._taken = True
        return self._opened

    def _join(self) -> None:
        self._thread.join()
        sys.setswitchinterval(self._interval)

    def __enter__(self) -> Early:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._join()
        if self._opened is not None and not self._taken:
            self._opened[0].close()
