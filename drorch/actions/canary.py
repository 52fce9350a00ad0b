"""The canary: a small file of random bytes planted beside each snapshot's data.

Its SHA-256 is recorded with the snapshot; a restore test later proves the
restored copy brings it back byte-exact.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

CANARY_SIZE = 4096


@dataclass(frozen=True)
class Canary:
    path: Path
    sha256: str


def canary_dir(state_dir: Path, job: str) -> Path:
    return state_dir / "canaries" / job


def plant_canary(state_dir: Path, job: str) -> Canary:
    """Write fresh random content, atomically, and return its path and hash."""
    folder = canary_dir(state_dir, job)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    content = os.urandom(CANARY_SIZE)
    path = folder / "drorch-canary.bin"
    partial = folder / ".drorch-canary.bin.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    return Canary(path=path, sha256=hashlib.sha256(content).hexdigest())
