"""Evidence records and checkpoints in the catalog: the only SQL for the evidence log.

Rows are written once and never updated; every read returns frozen records whose `body`
is the exact text that was hashed, signed and placed in the Merkle tree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from drorch.catalog import models
from drorch.catalog.fencing import check_fence
from drorch.catalog.store import Catalog
from drorch.errors import CatalogError


@dataclass(frozen=True)
class EvidenceRecord:
    seq: int
    id: str
    kind: str
    job: str | None
    at: datetime
    hash: str
    key_id: str
    body: str  # exact canonical JSON: UTF-8 encoded, it is the Merkle leaf

    @property
    def data(self) -> dict[str, Any]:
        """The whole record, seals included, as parsed JSON."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass(frozen=True)
class CheckpointRecord:
    tree_size: int
    root_hash: str
    at: datetime
    body: str  # exact canonical JSON that `signature` signs
    signature: str
    key_id: str


@dataclass(frozen=True)
class LogHead:
    """The newest record's seq and hash (0 and None when empty) and the newest checkpoint."""

    last_seq: int
    last_hash: str | None
    checkpoint: CheckpointRecord | None


_RECORD_FIELDS = tuple(EvidenceRecord.__dataclass_fields__)
_CHECKPOINT_FIELDS = tuple(CheckpointRecord.__dataclass_fields__)


def _record(row: Any) -> EvidenceRecord:
    return EvidenceRecord(*(getattr(row, name) for name in _RECORD_FIELDS))


def _checkpoint(row: Any) -> CheckpointRecord:
    return CheckpointRecord(*(getattr(row, name) for name in _CHECKPOINT_FIELDS))


def append(
    catalog: Catalog, records: Sequence[EvidenceRecord], checkpoint: CheckpointRecord
) -> None:
    """Write records and the checkpoint covering them in one transaction. A daemon's
    catalog (with a fence) writes its epoch with them, and only while it leads (Deposed)."""
    epoch = None if catalog.fence is None else catalog.fence.held()
    try:
        with catalog.session() as session, session.begin():
            if records:
                session.execute(
                    insert(models.EvidenceEntry),
                    [
                        {**{name: getattr(r, name) for name in _RECORD_FIELDS}, "epoch": epoch}
                        for r in records
                    ],
                )
            session.execute(
                insert(models.EvidenceCheckpoint),
                [{name: getattr(checkpoint, name) for name in _CHECKPOINT_FIELDS}],
            )
            if epoch is not None:
                check_fence(session, epoch)
    except IntegrityError as exc:
        raise CatalogError(
            f"evidence record {records[0].seq if records else '?'} or checkpoint "
            f"{checkpoint.tree_size} already exists: another writer appended without the "
            "evidence writer lock"
        ) from exc


def head(catalog: Catalog) -> LogHead:
    with catalog.session() as session:
        last = session.execute(
            select(models.EvidenceEntry.seq, models.EvidenceEntry.hash)
            .order_by(models.EvidenceEntry.seq.desc())
            .limit(1)
        ).first()
        newest = session.scalars(
            select(models.EvidenceCheckpoint)
            .order_by(models.EvidenceCheckpoint.tree_size.desc())
            .limit(1)
        ).first()
        return LogHead(
            last_seq=last.seq if last else 0,
            last_hash=last.hash if last else None,
            checkpoint=_checkpoint(newest) if newest else None,
        )


def leaves(catalog: Catalog) -> list[tuple[int, str]]:
    """(seq, body) of every record, in seq order."""
    query = select(models.EvidenceEntry.seq, models.EvidenceEntry.body).order_by(
        models.EvidenceEntry.seq
    )
    with catalog.session() as session:
        return [(row.seq, row.body) for row in session.execute(query)]


def records(
    catalog: Catalog,
    *,
    job: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[EvidenceRecord]:
    """Records in seq order, filtered by job and by `since <= at <= until`."""
    query = select(models.EvidenceEntry).order_by(models.EvidenceEntry.seq)
    if job is not None:
        query = query.where(models.EvidenceEntry.job == job)
    if since is not None:
        query = query.where(models.EvidenceEntry.at >= since)
    if until is not None:
        query = query.where(models.EvidenceEntry.at <= until)
    if limit is not None:
        query = query.limit(limit)
    with catalog.session() as session:
        return [_record(row) for row in session.scalars(query)]


def record(catalog: Catalog, seq: int) -> EvidenceRecord | None:
    with catalog.session() as session:
        row = session.get(models.EvidenceEntry, seq)
        return None if row is None else _record(row)


def records_of_kind(catalog: Catalog, kind: str) -> list[EvidenceRecord]:
    """The records of one kind, in seq order (the key rotations: a handful in a log)."""
    query = (
        select(models.EvidenceEntry)
        .where(models.EvidenceEntry.kind == kind)
        .order_by(models.EvidenceEntry.seq)
    )
    with catalog.session() as session:
        return [_record(row) for row in session.scalars(query)]


def checkpoints(catalog: Catalog) -> list[CheckpointRecord]:
    query = select(models.EvidenceCheckpoint).order_by(models.EvidenceCheckpoint.tree_size)
    with catalog.session() as session:
        return [_checkpoint(row) for row in session.scalars(query)]


def checkpoint(catalog: Catalog, tree_size: int) -> CheckpointRecord | None:
    with catalog.session() as session:
        row = session.get(models.EvidenceCheckpoint, tree_size)
        return None if row is None else _checkpoint(row)


@dataclass(frozen=True)
class LogView:
    """The whole log for an export or a self-check."""

    records: list[EvidenceRecord]
    checkpoints: list[CheckpointRecord]


def view(catalog: Catalog) -> LogView:
    """Every checkpoint, then every record. Records and their checkpoint are written in one
    transaction, so reading checkpoints first guarantees that the records read cover the
    newest checkpoint read, even while a writer appends (records past it may show up too).
    Plain column reads: this is 100,000 rows for a large export or self-check."""
    records_table = models.EvidenceEntry.__table__
    checkpoints_table = models.EvidenceCheckpoint.__table__
    with catalog.session() as session:
        marks = [
            CheckpointRecord(*row)
            for row in session.execute(
                select(*(checkpoints_table.c[name] for name in _CHECKPOINT_FIELDS)).order_by(
                    checkpoints_table.c.tree_size
                )
            )
        ]
    with catalog.session() as session:
        rows = [
            EvidenceRecord(*row)
            for row in session.execute(
                select(*(records_table.c[name] for name in _RECORD_FIELDS)).order_by(
                    records_table.c.seq
                )
            )
        ]
    return LogView(rows, marks)


def count(catalog: Catalog) -> int:
    with catalog.session() as session:
        return int(session.scalar(select(func.count()).select_from(models.EvidenceEntry)) or 0)
