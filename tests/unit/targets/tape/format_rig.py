"""A loaded virtual drive for the tape-format tests, and files to archive."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from drorch.targets.tape.format.label import Label
from drorch.targets.tape.virtual import VirtualDrive, VirtualLibrary

RECORD = 16384
BARCODE = "FMT001L8"


def loaded_library(
    folder: Path, *, capacity: int = 50_000_000, early_warning: int | None = None
) -> VirtualLibrary:
    library = VirtualLibrary.create(
        folder,
        slots=2,
        capacity=capacity,
        early_warning=early_warning,
        barcodes=[BARCODE, "FMT002L8"],
    )
    library.changer().load(1, 0)
    return library


def open_drive(library: VirtualLibrary) -> VirtualDrive:
    return library.drive(0, record_size=RECORD)


def a_label(sequence: int = 1, media_set: uuid.UUID | None = None) -> Label:
    return Label(
        barcode=BARCODE,
        pool="weekly",
        media_set=media_set or uuid.UUID("6f1c1d2e-8d0a-4c55-9a43-1f2e3d4c5b6a"),
        sequence=sequence,
        written_at=datetime(2026, 5, 9, 7, 35, 25, tzinfo=UTC),
        record_size=RECORD,
    )


def random_tree(root: Path, sizes: dict[str, int]) -> dict[str, bytes]:
    """Files of random bytes under `root` at repository-relative paths."""
    contents = {}
    for name, size in sizes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(size)
        path.write_bytes(data)
        contents[name] = data
    return contents
