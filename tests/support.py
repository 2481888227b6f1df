"""Test support: real GnuPG keys generated per test session, and ledgers built on disk.

The auditors' keyring (``Auditors``) plays the reviewers' own GnuPG: it generates
ed25519 keys and clearsigns statements. The code under test never sees it: it gets
only the exported public keys in a ledger's keys/.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PAST = "20200101T000000"


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fake_integrity(name: str, version: str) -> str:
    """A stable integrity for a package the tests never download."""
    return integrity_of(f"{name}@{version}".encode())


@dataclass(frozen=True)
class Key:
    name: str
    fingerprint: str
    signing: str  # the key that signs: the primary, or a subkey's fingerprint


class Auditors:
    """A GNUPGHOME of reviewers' secret keys, as reviewers would have."""

    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix="pt-auditors-")
        os.chmod(self.home, 0o700)
        self.env = {**os.environ, "GNUPGHOME": self.home}
        self.keys: dict[str, Key] = {}

    def gpg(self, *args: str, data: bytes | None = None, past: bool = False) -> bytes:
        cmd = ["gpg", "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
        if past:
            cmd += ["--faked-system-time", PAST]
        proc = subprocess.run(
            [*cmd, *args], input=data, env=self.env, capture_output=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"gpg {args}: {proc.stderr.decode()}")
        return proc.stdout

    def _fingerprints(self, uid: str) -> list[str]:
        out = self.gpg("--with-colons", "--list-keys", uid).decode()
        return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]

    def create(self, name: str, *, expire: str = "2y", past: bool = False,
               subkey: bool = False) -> Key:
        uid = f"{name.title()} <{name}@example.org>"
        self.gpg("--quick-gen-key", uid, "ed25519", "sign", expire, past=past)
        primary = self._fingerprints(f"<{name}@example.org>")[0]
        signing = primary
        if subkey:
            self.gpg("--quick-add-key", primary, "ed25519", "sign", "2y")
            signing = self._fingerprints(f"<{name}@example.org>")[-1]
        key = Key(name, primary, signing)
        self.keys[name] = key
        return key

    def revocation(self, key: Key) -> bytes:
        """The key's revocation certificate, which gpg made with it, ready to import."""
        cert = Path(self.home, "openpgp-revocs.d", f"{key.fingerprint}.rev").read_text()
        return cert.replace(":-----BEGIN", "-----BEGIN").encode()

    def revoke(self, key: Key) -> None:
        self.gpg("--import", data=self.revocation(key))

    def export(self, key: Key) -> bytes:
        return self.gpg("--armor", "--export-options", "export-minimal", "--export",
                        key.fingerprint)

    def clearsign(self, key: Key, text: bytes, *, past: bool = False,
                  sig_expire: str | None = None) -> bytes:
        args = ["--local-user", key.signing + "!", "--clearsign"]
        if sig_expire:
            args = ["--default-sig-expire", sig_expire, *args]
        return self.gpg(*args, data=text, past=past)

    def statement(self, key: Key, name: str, version: str, integrity: str | None = None,
                  *, past: bool = False, sig_expire: str | None = None,
                  **extra: Any) -> bytes:
        """A clearsigned statement in the seed ledger's format, plus ``extra`` fields."""
        sha512 = (integrity or fake_integrity(name, version)).removeprefix("sha512-")
        body = {"package": name, "version": version, "time": 1700000000000,
                "hash": {"sha512": sha512, "sha1": "0" * 40}, **extra}
        return self.clearsign(key, json.dumps(body).encode(), past=past, sig_expire=sig_expire)

    def close(self) -> None:
        subprocess.run(["gpgconf", "--kill", "all"], env=self.env, check=False)
        shutil.rmtree(self.home, ignore_errors=True)


class Project:
    """A project folder holding a ledger, a policy and lockfiles."""

    def __init__(self, root: Path, auditors: Auditors):
        self.root = root
        self.auditors = auditors
        (root / "keys").mkdir(parents=True, exist_ok=True)
        (root / "signatures").mkdir(exist_ok=True)

    @property
    def fetched(self) -> Path:
        """Where fetch keeps packages: the user's cache folder (the ``project`` fixture
        sets $XDG_CACHE_HOME beside the project), never the project."""
        return self.root.parent / "cache" / "package-trust" / "packages"

    def add_key(self, key: Key, data: bytes | None = None) -> None:
        (self.root / "keys" / f"{key.fingerprint}.asc").write_bytes(
            data if data is not None else self.auditors.export(key)
        )

    def add_statement(self, name: str, version: str, data: bytes, file: str = "a.sig") -> Path:
        folder = self.root / "signatures" / name / version
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / file
        path.write_bytes(data)
        return path

    def sign(self, key: Key, name: str, version: str, integrity: str | None = None,
             **extra: Any) -> Path:
        data = self.auditors.statement(key, name, version, integrity, **extra)
        return self.add_statement(name, version, data, f"{key.fingerprint}.sig")

    def policy(self, keys: list[Key], minimum: int = 1, extra: str = "") -> Path:
        lines = [f"minimum-signatures: {minimum}", "trusted-keys:"]
        for k in keys:
            lines += [f"  - fingerprint: {k.fingerprint}", f"    name: {k.name.title()}"]
        path = self.root / "trust-policy.yml"
        path.write_text("\n".join(lines) + "\n" + extra)
        return path

    def lockfile(self, packages: dict[str, str] | list[tuple[str, str]],
                 name: str = "package-lock.json") -> Path:
        """A lockfileVersion 3 file installing ``name: version`` pairs from the registry."""
        items = packages.items() if isinstance(packages, dict) else packages
        entries: dict[str, Any] = {"": {"name": "demo", "version": "1.0.0"}}
        for pkg, version in items:
            entries[f"node_modules/{pkg}"] = {
                "version": version,
                "resolved": f"https://registry.npmjs.org/{pkg}/-/{pkg.split('/')[-1]}-{version}.tgz",
                "integrity": fake_integrity(pkg, version),
            }
        path = self.root / name
        path.write_text(json.dumps({"name": "demo", "version": "1.0.0", "lockfileVersion": 3,
                                    "requires": True, "packages": entries}, indent=2) + "\n")
        return path


class GpgLog:
    """The gpg processes started since the last look."""

    def __init__(self, path: Path):
        self.path = path

    def take(self) -> list[str]:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        self.path.unlink(missing_ok=True)
        return lines

    def verified(self) -> list[int]:
        """How many statements each gpg verification process was given (their names
        follow --decrypt-files, or come on stdin, kept in the file after ``<``)."""
        counts = []
        for line in self.take():
            if "--decrypt-files" in line:
                given = line.split("--decrypt-files", 1)[1].strip()
                names = Path(given[1:]).read_text() if given.startswith("<") else given
                counts.append(len(names.split()))
        return counts
