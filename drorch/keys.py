"""Secrets drorch creates: repository password files and the evidence signing key.

Existing files are never overwritten. Files are 0600, new folders 0700.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from drorch.config.model import Settings
from drorch.errors import DrorchError, EvidenceError


def _write_secret(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def init_keys(settings: Settings, *, log_signed_by: str | None = None) -> list[Path]:
    """Create every missing password file and the evidence key; return what was created.

    log_signed_by: the key id the catalog's evidence log is signed with (None: no records).
    A new evidence key could not sign after that log: refused, and nothing is created."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if log_signed_by is not None and not settings.evidence_key.exists():
        raise EvidenceError(
            f"the evidence key {settings.evidence_key} is missing, but the evidence log in "
            f"the catalog holds records signed with key {log_signed_by}: a new key would "
            "leave them unverifiable and could not append after them, so nothing was "
            f"created. Restore {settings.evidence_key} (key {log_signed_by}) from a backup; "
            "moving to a new key is `drorch keys rotate`, which needs the old key to sign "
            "the new one."
        )
    created = []
    for target in settings.targets.values():
        path = target.password_file
        if not path.exists() and path not in created:
            _write_secret(path, secrets.token_urlsafe(32).encode() + b"\n")
            created.append(path)
    if not settings.evidence_key.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_secret(settings.evidence_key, pem)
        created.append(settings.evidence_key)
    return created


def public_key_pem(settings: Settings) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(settings.evidence_key.read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise DrorchError(f"cannot read the evidence key {settings.evidence_key}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise DrorchError(f"{settings.evidence_key} is not an Ed25519 private key")
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
