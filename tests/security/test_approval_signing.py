"""The API's approval signing key (`lockstep.security.approval_signing`): made owner-only on first
start, verified by the worker with the public half alone, and nothing else verifies."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lockstep.security.approval_signing import ApprovalSigner, ApprovalVerifier, key_files
from lockstep.settings import Settings

DECISION = {"deployment_id": "shop-production-1a2b3c4d5e", "decision": "approve", "approver": "alice"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_live_in_the_state_folder_unless_configured(tmp_path: Path) -> None:
    assert key_files(Settings(state_dir=str(tmp_path))) == (
        tmp_path / "approval-signing.key",
        tmp_path / "approval-signing.key.pub",
    )
    configured = Settings(
        api={"approval_key_file": "/etc/lockstep-api/k", "approval_public_key_file": "/srv/k.pub"}
    )
    assert key_files(configured) == (Path("/etc/lockstep-api/k"), Path("/srv/k.pub"))


def test_the_api_makes_an_owner_only_key_and_the_worker_verifies_with_the_public_half(tmp_path: Path) -> None:
    private, public = tmp_path / "api" / "approval.key", tmp_path / "api" / "approval.key.pub"
    worker = ApprovalVerifier(public)
    assert not worker.holds("ab" * 64, **DECISION), "before the API's first start nothing verifies"

    proof = ApprovalSigner.load_or_create(private, public).sign(**DECISION)
    assert _mode(private) == 0o600 and _mode(private.parent) == 0o700
    assert b"PRIVATE" not in public.read_bytes()
    assert worker.holds(proof, **DECISION), "read when verifying: start order does not matter"
    for field, other in (
        ("deployment_id", "shop-production-ffffffffff"),
        ("decision", "reject"),
        ("approver", "bob"),
    ):
        assert not worker.holds(proof, **{**DECISION, field: other}), field


def test_a_restart_keeps_the_key_tightens_its_mode_and_repairs_the_public_half(tmp_path: Path) -> None:
    private, public = tmp_path / "approval.key", tmp_path / "approval.key.pub"
    first = ApprovalSigner.load_or_create(private, public).sign(**DECISION)
    private.chmod(0o644)
    stranger = Ed25519PrivateKey.generate().public_key()
    public.write_bytes(stranger.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))

    again = ApprovalSigner.load_or_create(private, public).sign(**DECISION)
    assert again == first, "the same key (Ed25519 signatures are deterministic)"
    assert _mode(private) == 0o600
    assert ApprovalVerifier(public).holds(first, **DECISION)


def test_no_proof_made_without_the_private_key_verifies(tmp_path: Path) -> None:
    private, public = tmp_path / "approval.key", tmp_path / "approval.key.pub"
    genuine = ApprovalSigner.load_or_create(private, public).sign(**DECISION)
    verifier = ApprovalVerifier(public)
    token_sha256 = hashlib.sha256(b"token-of-alice").hexdigest()  # what the server config holds
    message = f"lockstep-approval\n{DECISION['deployment_id']}\napprove\nalice".encode()
    forgeries = {
        "the former HMAC of the token hash": hmac.new(
            token_sha256.encode(), message, hashlib.sha256
        ).hexdigest(),
        "a signature by another key": ApprovalSigner(Ed25519PrivateKey.generate()).sign(**DECISION),
        "the genuine proof in upper case": genuine.upper(),
        "not hex at all": "é" * 128,
        "nothing": "",
    }
    for what, proof in forgeries.items():
        assert not verifier.holds(proof, **DECISION), what
