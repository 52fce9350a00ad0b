"""Secrets drorch creates: repository password files and the evidence signing key.

Existing files are never overwritten. Files are 0600, new folders 0700.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from drorch.catalog import Catalog
from drorch.catalog import evidence as table
from drorch.config.model import Settings
from drorch.errors import DrorchError, EvidenceError
from drorch.evidence.keychain import ROTATION


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
        _write_secret(settings.evidence_key, _new_signing_key())
        created.append(settings.evidence_key)
    return created


def _new_signing_key() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Rotated:
    old_key_id: str
    new_key_id: str
    seq: int  # the key-rotation record
    retired: Path  # where the old key file is kept


def rotate_evidence_key(current: Path, catalog: Catalog, reason: str) -> Rotated:
    """Move the evidence log to a new key: the new key is written beside the old one
    (KEY.next), the log records the rotation signed by the old key, the old key file is
    kept as KEY.retired-OLDID and the new one takes its place. A rotation cut short
    between the record and the swap is finished by running this again."""
    from drorch.evidence.log import EvidenceLog, log_key_id
    from drorch.evidence.signing import key_id, load_private_key

    upcoming = current.with_name(current.name + ".next")
    if upcoming.exists():
        waiting = key_id(load_private_key(upcoming).public_key())
        if log_key_id(catalog) != waiting:
            raise EvidenceError(
                f"{upcoming} is left from a rotation that did not reach the log (key "
                f"{waiting}); remove it and rotate again"
            )
        old = key_id(load_private_key(current).public_key())
        retired = _swap(current, upcoming, old)
        record = table.records_of_kind(catalog, ROTATION)[-1]
        return Rotated(old, waiting, record.seq, retired)
    evidence = EvidenceLog(catalog, current)
    old = evidence.key_id
    _write_secret(upcoming, _new_signing_key())
    try:
        record = evidence.rotate(upcoming, reason)
    except BaseException:
        # Only while the log still belongs to the old key: once the rotation is in, the
        # new key is the log's, and running this again finishes the swap.
        if log_key_id(catalog) == old:
            upcoming.unlink(missing_ok=True)
        raise
    return Rotated(old, evidence.key_id, record.seq, _swap(current, upcoming, old))


def _swap(current: Path, upcoming: Path, old_id: str) -> Path:
    """Keep the old key file under a name of its own, then the new one takes its place;
    at no moment is there no key at `current`."""
    retired = current.with_name(f"{current.name}.retired-{old_id}")
    if not retired.exists():
        os.link(current, retired)
    os.replace(upcoming, current)
    folder = os.open(current.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return retired


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
