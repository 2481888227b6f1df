"""gpg fed by package-trust's batch alone (check/gpgbatch.py, through check/gpg.py's
``Keyring.verify``): the statements of gpg's floor, each read into memory as the batch
draws it, verified on the floor's keyring. No lockfile, policy, ledger, judging or cache:
what the check's way of running gpg costs by itself (see README.md).

Run by run.py: ``feed.py GNUPGHOME FOLDER COUNT``, the floor's keyring, its folder of
statements (``0.asc`` ...) and how many there are. Exits 1 unless each is verified once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from package_trust.check.gpg import Keyring


def statements(folder: str, count: int) -> Iterator[bytes]:
    for n in range(count):
        yield Path(folder, f"{n}.asc").read_bytes()


def main(home: str, folder: str, count: int) -> int:
    keybox = Path(home, "pubring.kbx").read_bytes()
    with Keyring([], keys={}, keybox=keybox) as ring:  # keys={}: no listing asked of gpg
        verified = sorted(n for n, _ in ring.verify(statements(folder, count)))
    return 0 if verified == list(range(count)) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
