"""Writes of `drorch tape scan`: what a cartridge's label and last index say, recorded
as if drorch had just written it (the catalog was lost, or never saw the cartridge).

    record_scanned(catalog, ScannedCartridge(...), target="vault", expires_at=..., at=now)

Idempotent: the cartridge's tape files and repository files are replaced by what the
index lists; its media set is created, or widened to the times the cartridge shows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete

from drorch.catalog import models
from drorch.catalog.models import CartridgeState, TapeFileKind
from drorch.catalog.store import Catalog
from drorch.catalog.tape import CartridgeRecord, RepositoryFile, _cartridge, add_tape_file
from drorch.catalog.tape_media import _row

# Tape files recorded by a scan carry this namespace's UUID of (media set, barcode, index
# file) as their write session: the same cartridge scanned twice gives the same rows.
_SCAN_NAMESPACE = uuid.UUID("5b0f4a4e-6c1d-4d8e-9f3a-0d7c2b1e9a61")


@dataclass(frozen=True)
class ScannedArchive:
    file_number: int
    files: tuple[RepositoryFile, ...]


@dataclass(frozen=True)
class ScannedCartridge:
    """A drorch cartridge as read: its label's fields and its last index's archives."""

    barcode: str
    pool: str
    media_set_id: str
    sequence: int
    labelled_at: datetime
    label_bytes: int
    index_file: int
    index_bytes: int
    written_at: datetime  # the index's
    archives: tuple[ScannedArchive, ...]
    full: bool  # the end of data is in the early-warning zone


def record_scanned(
    catalog: Catalog,
    scanned: ScannedCartridge,
    *,
    target: str,
    expires_at: datetime | None,
) -> CartridgeRecord:
    """Record what `scanned` holds, in one transaction. `expires_at` (None: forever) is
    the pool's retention after the index's time; a set already known keeps the later."""
    session_id = str(
        uuid.uuid5(
            _SCAN_NAMESPACE, f"{scanned.media_set_id}/{scanned.barcode}/{scanned.index_file}"
        )
    )
    with catalog.session() as session, session.begin():
        owner = session.get(models.MediaSet, scanned.media_set_id, with_for_update=True)
        if owner is None:
            owner = models.MediaSet(
                id=scanned.media_set_id,
                pool=scanned.pool,
                target=target,
                opened_at=scanned.labelled_at,
                last_written_at=scanned.written_at,
                expires_at=expires_at,
            )
            session.add(owner)
        else:
            owner.opened_at = min(owner.opened_at, scanned.labelled_at)
            if owner.last_written_at is None or owner.last_written_at < scanned.written_at:
                owner.last_written_at = scanned.written_at
            if owner.expires_at is not None:
                owner.expires_at = None if expires_at is None else max(owner.expires_at, expires_at)
        row = _row(session, scanned.barcode)
        for table in (models.TapeRepositoryFile, models.TapeFile):
            session.execute(delete(table).where(table.barcode == scanned.barcode))
        session.flush()
        row.pool, row.media_set_id, row.sequence = scanned.pool, owner.id, scanned.sequence
        row.state = CartridgeState.FULL if scanned.full else CartridgeState.LABELLED
        row.labelled_at = scanned.labelled_at
        archive_bytes = sum(f.size for a in scanned.archives for f in a.files)
        row.bytes_written = scanned.label_bytes + archive_bytes + scanned.index_bytes

        def tape_file(
            number: int,
            kind: TapeFileKind,
            size: int,
            at: datetime,
            files: Sequence[RepositoryFile] = (),
        ) -> None:
            add_tape_file(
                session,
                barcode=scanned.barcode,
                file_number=number,
                kind=kind,
                media_set_id=owner.id,
                size=size,
                written_at=at,
                session_id=session_id,
                target=target,
                files=files,
            )

        tape_file(0, TapeFileKind.LABEL, scanned.label_bytes, scanned.labelled_at)
        for archive in scanned.archives:
            size = sum(f.size for f in archive.files)
            tape_file(
                archive.file_number, TapeFileKind.ARCHIVE, size, scanned.written_at, archive.files
            )
        tape_file(scanned.index_file, TapeFileKind.INDEX, scanned.index_bytes, scanned.written_at)
        session.flush()
        return _cartridge(row)
