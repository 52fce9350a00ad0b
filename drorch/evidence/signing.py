"""The Ed25519 keys of the evidence log: loading, key ids, signatures.

A key id is the first 16 hex digits of SHA-256 over the 32 raw public key bytes, so an
auditor can compute it from the PEM with standard tools.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drorch.errors import EvidenceKeyError, UsageError


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key (PEM, PKCS8) or EvidenceKeyError saying why it cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvidenceKeyError(
            f"cannot read the evidence key {path}: {exc.strerror} "
            "(`drorch keys init` creates it); evidence cannot be signed"
        ) from exc
    try:
        key = serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError) as exc:
        raise EvidenceKeyError(f"the evidence key {path} is not a usable PEM key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceKeyError(f"the evidence key {path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An auditor's copy of the public key (PEM, SubjectPublicKeyInfo)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the public key {path}: {exc.strerror}") from exc
    return parse_public_key(data, str(path))


def parse_public_key(data: bytes, name: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{name} is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{name} is not an Ed25519 public key")
    return key


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def signature_valid(key: Ed25519PublicKey, signature_hex: str, message: bytes) -> bool:
    try:
        key.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
