"""The auditor's own GnuPG: their GNUPGHOME, keyring and agent.

This is the one module that uses the user's keyring, to sign statements and to export
the user's public key. Nothing here verifies anything: checking what was signed is done
in an isolated keyring (gpg.Keyring), like every other verification. Results are judged
by gpg's status lines, never by its exit code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import gnupg

from package_trust.check.gpgbin import gpg_binary
from package_trust.check.policy import FINGERPRINT
from package_trust.errors import GpgError

# gpg's status keywords when it could not sign, and what they mean for the auditor
_SIGN_FAILURES = {
    "INV_SGNR": "the key cannot sign (no secret key, or it is expired or revoked)",
    "NO_SGNR": "no secret key to sign with",
    "KEYEXPIRED": "the key has expired",
    "KEYREVOKED": "the key is revoked",
    "BAD_PASSPHRASE": "wrong passphrase",
    "MISSING_PASSPHRASE": "no passphrase was given",
}


class SigningError(GpgError):
    """The user's GnuPG could not make the signature."""


def full_fingerprint(text: str) -> str:
    """A full fingerprint (spaces allowed), upper-case; a short key ID is refused."""
    fingerprint = text.replace(" ", "").upper().removeprefix("0X")
    if not FINGERPRINT.fullmatch(fingerprint):
        raise GpgError(
            f"{text!r} is not a full key fingerprint (40 hexadecimal digits); "
            "see: gpg --list-secret-keys --with-colons"
        )
    return fingerprint


def home() -> str:
    """Where the user's keyring is, for messages."""
    return os.environ.get("GNUPGHOME") or "~/.gnupg"


@dataclass(frozen=True)
class UserKey:
    fingerprint: str  # the primary key's
    uids: tuple[str, ...]
    subkeys: tuple[str, ...]

    @property
    def uid(self) -> str:
        return self.uids[0] if self.uids else self.fingerprint


def _gpg() -> Any:
    try:
        return gnupg.GPG(gpgbinary=gpg_binary(), encoding="utf-8")
    except (OSError, ValueError) as e:
        raise GpgError(f"cannot run gpg: {e}") from None


def find_key(spec: str, secret: bool = False) -> UserKey:
    """The one key in the user's keyring that ``spec`` names (a fingerprint, an email)."""
    found = _gpg().list_keys(secret=secret, keys=[spec])
    what = "secret key" if secret else "key"
    if not found:
        raise GpgError(f"no {what} {spec} in your GnuPG keyring ({home()})")
    if len(found) > 1:
        raise GpgError(f"{len(found)} keys match {spec!r} in your GnuPG keyring ({home()}): "
                       "name one by its full fingerprint")
    k = found[0]
    subkeys = tuple(info["fingerprint"] for info in k.get("subkey_info", {}).values())
    return UserKey(k["fingerprint"], tuple(k.get("uids", ())), subkeys)


def secret_key(fingerprint: str) -> UserKey:
    """The user's key with a secret part whose primary or subkey has ``fingerprint``."""
    key = find_key(fingerprint, secret=True)
    if fingerprint not in (key.fingerprint, *key.subkeys):
        raise GpgError(f"no secret key with fingerprint {fingerprint} in {home()}")
    return key


def clearsign(text: bytes, key: UserKey) -> bytes:
    """Clearsign ``text`` with ``key``; the user's agent may ask for the passphrase."""
    # --local-user, not python-gnupg's keyid (--default-key): gpg must fail, not fall
    # back to another key, when this one cannot sign
    result = _gpg().sign(text, clearsign=True, extra_args=["--local-user", key.fingerprint])
    status = [line[9:].split() for line in (result.stderr or "").splitlines()
              if line.startswith("[GNUPG:] ")]
    created = [w for w in status if w and w[0] == "SIG_CREATED" and len(w) >= 7]
    if len(created) == 1 and created[0][1] == "C" and result.data:
        if created[0][6] in (key.fingerprint, *key.subkeys):
            data: bytes = result.data
            return data
        raise SigningError(f"gpg signed with key {created[0][6]}, not {key.fingerprint}")
    raise SigningError(f"gpg could not sign with {key.fingerprint} ({key.uid}): "
                       f"{_failure(status, result.stderr or '')}")


def _failure(status: list[list[str]], stderr: str) -> str:
    keywords = [w[0] for w in status if w]
    reasons = [why for keyword, why in _SIGN_FAILURES.items() if keyword in keywords]
    said = [line.removeprefix("gpg: ").removeprefix("[stdin]: ") for line in stderr.splitlines()
            if line.startswith("gpg: ") and "failed" in line]
    if said:
        reasons.append(said[-1])
    text = " ".join(reasons).lower()
    if "pinentry" in text or ("PINENTRY_LAUNCHED" in keywords and "cancel" not in text):
        reasons.append("gpg-agent could not get the passphrase: check its pinentry "
                       "(for one in this terminal: export GPG_TTY=$(tty))")
    return "; ".join(dict.fromkeys(reasons)) or "no signature was created"


def export_public(key: UserKey) -> bytes:
    """The user's public key, minimal export (self-signatures only), ASCII-armored."""
    data = _gpg().export_keys(key.fingerprint, armor=True, minimal=True)
    out = data.encode() if isinstance(data, str) else bytes(data or b"")
    if not out.strip():
        raise GpgError(f"gpg exported nothing for {key.fingerprint} from {home()}")
    return out
