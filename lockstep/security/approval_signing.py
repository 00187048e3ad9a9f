"""Approval proofs: the API's signature over a decision it authenticated, checked by the worker.

The API holds an Ed25519 private key and signs (deployment, decision, approver) for every
decision a bearer token authenticated; the proof travels in the `approve`/`reject` update. The
worker holds only the public key and records `api-token` when the signature verifies; anything
else is the Temporal path's claim, `temporal-signal`. Nothing in the server configuration (the
users' `token_sha256` included) lets anyone sign, so a Temporal client that merely knows the
config cannot pass for the API.

Owns the signed message, the key files (created by the API on first start, private 0600, public
beside it) and verification. The worker reads the public key at each verification, so start
order does not matter and a rotated key takes effect at once. It does not decide who may
approve (`lockstep.domain.approvals`), nor does a proof say more than "the API authenticated
this decision": a proof seen in history verifies again, for the same decision of the same
person on the same deployment, which the once-per-person rule already refuses to count twice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from lockstep.domain.errors import LockstepError
from lockstep.security.private_files import create_private_once, replace_public, tighten
from lockstep.settings import Settings

KEY_FILE_NAME = "approval-signing.key"
_PROOF = re.compile(r"[0-9a-f]{128}")  # an Ed25519 signature is 64 bytes, sent as hex


class SigningKeyError(LockstepError):
    """The API's signing key cannot be read or created (a path or permission problem)."""


def key_files(settings: Settings) -> tuple[Path, Path]:
    """(private key, public key): configured under `api:`, else in `state_dir`."""
    private = Path(settings.api.approval_key_file or Path(settings.state_dir) / KEY_FILE_NAME).expanduser()
    public = settings.api.approval_public_key_file
    return private, Path(public).expanduser() if public else private.with_name(private.name + ".pub")


def signed_message(*, deployment_id: str, decision: str, approver: str) -> bytes:
    """What a proof signs; JSON, so no choice of names can make two decisions read alike."""
    return json.dumps(["lockstep-approval", 1, deployment_id, decision, approver]).encode()


class ApprovalSigner:
    """The API's side: signs the decisions it authenticated."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def load_or_create(cls, private: Path, public: Path) -> ApprovalSigner:
        """Read the private key, creating it (0600, folder 0700) when missing, and (re)write the
        public key beside it when it is missing or belongs to another key."""
        try:
            if not private.exists():
                private.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fresh = Ed25519PrivateKey.generate()
                # A racing API process may win: then both use the key it wrote.
                create_private_once(
                    private, fresh.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
                )
            tighten(private)
            key = load_pem_private_key(private.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise SigningKeyError(f"{private}: not an Ed25519 private key")
            pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            if not public.exists() or public.read_bytes() != pem:
                public.parent.mkdir(parents=True, exist_ok=True)
                replace_public(public, pem)
        except (OSError, ValueError) as err:
            raise SigningKeyError(f"approval signing key {private}: {err}") from err
        return cls(key)

    def sign(self, *, deployment_id: str, decision: str, approver: str) -> str:
        message = signed_message(deployment_id=deployment_id, decision=decision, approver=approver)
        return self._key.sign(message).hex()


class ApprovalVerifier:
    """The worker's side: checks a proof against the API's public key, read when needed."""

    def __init__(self, public: Path) -> None:
        self.public = public

    def _key(self) -> Ed25519PublicKey | None:
        try:
            key = load_pem_public_key(self.public.read_bytes())
        except (OSError, ValueError):
            return None  # no key yet (the API has not started) or not one: nothing verifies
        return key if isinstance(key, Ed25519PublicKey) else None

    def holds(self, proof: str, *, deployment_id: str, decision: str, approver: str) -> bool:
        """Whether `proof` is the API's signature over this decision."""
        if not _PROOF.fullmatch(proof):
            return False  # anything but 128 lowercase hex digits is no proof
        key = self._key()
        if key is None:
            return False
        message = signed_message(deployment_id=deployment_id, decision=decision, approver=approver)
        try:
            key.verify(bytes.fromhex(proof), message)
        except InvalidSignature:
            return False
        return True
