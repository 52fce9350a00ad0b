"""Keys, a catalog and an evidence log on a controlled clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drorch.catalog import Catalog, open_catalog
from drorch.evidence.log import EvidenceLog

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def write_key_pair(folder: Path) -> KeyPair:
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private, public = folder / "evidence.ed25519", folder / "evidence.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return KeyPair(private, public)


class Clock:
    """Each reading is one minute after the last."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return write_key_pair(tmp_path / "keys")


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return open_catalog(None, tmp_path / "state")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def evidence(catalog: Catalog, keys: KeyPair, clock: Clock) -> EvidenceLog:
    return EvidenceLog(catalog, keys.private, host="node1", clock=clock)


def restore_test(job: str = "payroll", result: str = "pass", **more: object) -> dict[str, object]:
    """The fields of a restore-test record, as the action would give them."""
    return {
        "actor": "scheduler",
        "job": job,
        "policy": "standard",
        "target": {"name": "primary", "site": "dc1", "jurisdiction": "ML"},
        "snapshot": {"id": "ab" * 32, "time": "2026-11-28T11:00:00Z", "size": 1_048_576},
        "checks": [
            {"name": "restic-verify", "passed": result == "pass", "detail": "ok"},
            {"name": "canary", "passed": True, "detail": "byte-exact"},
        ],
        "result": result,
        "rto": {"target_s": 14400, "projected_s": 312.5},
        "versions": {"drorch": "0.1.0", "restic": "0.14.0"},
        **more,
    }
