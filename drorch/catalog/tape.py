"""The tape catalog: media sets, cartridges, the tape files written on them, and which
repository files each archive holds.

    ms = open_media_set(catalog, pool="weekly", target="vault", at=now, expires_at=later)
    label_cartridge(catalog, "DRO001L8", media_set_id=ms.id, sequence=1, at=now, ...)
    record_tape_file(catalog, barcode="DRO001L8", file_number=1, kind=TapeFileKind.ARCHIVE,
                     files=[RepositoryFile("data/ab/ab12...", 4_194_304, "9f2c...")], ...)
    placements(catalog, "vault", ["data/ab/ab12..."])   # which cartridges hold them

Every write is one transaction: a tape file, its repository files, the cartridge's bytes
and the media set's last write and expiry go in together or not at all. Results are
frozen records.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drorch.catalog import models
from drorch.catalog.models import CartridgeLocation, CartridgeState, TapeFileKind
from drorch.catalog.store import Catalog, _record
from drorch.errors import CatalogError

_CHUNK = 500  # paths per IN (...) query: far below SQLite's and PostgreSQL's limits


@dataclass(frozen=True)
class MediaSetRecord:
    id: str
    pool: str
    target: str
    opened_at: datetime
    last_written_at: datetime | None
    closed_at: datetime | None
    expires_at: datetime | None  # None: kept forever

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


@dataclass(frozen=True)
class CartridgeRecord:
    barcode: str
    pool: str | None
    media_set_id: str | None
    sequence: int | None
    state: CartridgeState
    write_protected: bool
    location: CartridgeLocation | None
    element: int | None
    last_seen_at: datetime | None
    bytes_written: int
    labelled_at: datetime | None


@dataclass(frozen=True)
class TapeFileRecord:
    barcode: str
    file_number: int
    kind: TapeFileKind
    media_set_id: str
    bytes: int
    written_at: datetime
    session: str
    run_id: int | None


@dataclass(frozen=True)
class RepositoryFile:
    """A repository file put into an archive: its path relative to the repository."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Placement:
    """Where a repository file of a target sits: tape file `file_number` of `barcode`."""

    target: str
    path: str
    size: int
    sha256: str
    barcode: str
    file_number: int
    media_set_id: str


@dataclass(frozen=True)
class Sighting:
    """A cartridge as a changer's inventory showed it; `write_protected` when known (a
    drive reports it once the cartridge is loaded)."""

    barcode: str
    location: CartridgeLocation
    element: int | None = None
    write_protected: bool | None = None


def _media_set(row: models.MediaSet) -> MediaSetRecord:
    record: MediaSetRecord = _record(MediaSetRecord, row)
    return record


def _cartridge(row: models.Cartridge) -> CartridgeRecord:
    record: CartridgeRecord = _record(CartridgeRecord, row)
    return record


def _tape_file(row: models.TapeFile) -> TapeFileRecord:
    record: TapeFileRecord = _record(TapeFileRecord, row)
    return record


# -- cartridges ----------------------------------------------------------------------------


_OUT = (CartridgeLocation.IMPORT_EXPORT, CartridgeLocation.EXPORTED)


def see_cartridges(catalog: Catalog, sightings: Iterable[Sighting], *, at: datetime) -> None:
    """Record where an inventory showed cartridges; one never seen before is UNKNOWN (its
    content is known only once it is read). Cartridges not in `sightings` are left as
    they were: not showing in one library proves nothing. An exported cartridge seen in a
    mail slot stays exported (the operator has yet to take it out); seen in a storage slot
    or a drive, it is back."""
    with catalog.session() as session, session.begin():
        for seen in sightings:
            row = session.get(models.Cartridge, seen.barcode, with_for_update=True)
            if row is None:
                row = models.Cartridge(
                    barcode=seen.barcode,
                    state=CartridgeState.UNKNOWN,
                    write_protected=False,
                    bytes_written=0,
                )
                session.add(row)
            if seen.write_protected is not None:
                row.write_protected = seen.write_protected
            if row.state is CartridgeState.EXPORTED and seen.location in _OUT:
                continue  # on its way out through a mail slot: still exported
            row.location, row.element, row.last_seen_at = seen.location, seen.element, at
            if row.state is CartridgeState.EXPORTED:  # back in a slot or a drive
                row.state = CartridgeState.FULL if row.media_set_id else CartridgeState.UNKNOWN


def set_cartridge_state(
    catalog: Catalog,
    barcode: str,
    state: CartridgeState,
    *,
    write_protected: bool | None = None,
) -> CartridgeRecord:
    """FULL at early warning, EXPORTED, RETIRED, BLANK or FOREIGN once read. LABELLED is
    label_cartridge's to set, with the media set it joins."""
    if state is CartridgeState.LABELLED:
        raise CatalogError("a cartridge becomes LABELLED by label_cartridge, with its media set")
    with catalog.session() as session, session.begin():
        row = _existing(session, barcode)
        row.state = state
        if state in (CartridgeState.BLANK, CartridgeState.FOREIGN):
            _forget_content(session, row)
        if write_protected is not None:
            row.write_protected = write_protected
        return _cartridge(row)


def cartridge(catalog: Catalog, barcode: str) -> CartridgeRecord | None:
    with catalog.session() as session:
        row = session.get(models.Cartridge, barcode)
        return None if row is None else _cartridge(row)


def cartridges(
    catalog: Catalog, *, pool: str | None = None, media_set_id: str | None = None
) -> list[CartridgeRecord]:
    """Cartridges by barcode; those of a media set by their sequence in it."""
    query = select(models.Cartridge)
    if pool is not None:
        query = query.where(models.Cartridge.pool == pool)
    if media_set_id is not None:
        query = query.where(models.Cartridge.media_set_id == media_set_id)
        query = query.order_by(models.Cartridge.sequence)
    else:
        query = query.order_by(models.Cartridge.barcode)
    with catalog.session() as session:
        return [_cartridge(row) for row in session.scalars(query)]


def _existing(session: Session, barcode: str) -> models.Cartridge:
    row = session.get(models.Cartridge, barcode, with_for_update=True)
    if row is None:
        raise CatalogError(
            f"cartridge {barcode} is not in the catalog: run 'drorch tape inventory'"
        )
    return row


def _existing_set(session: Session, media_set_id: str) -> models.MediaSet:
    row = session.get(models.MediaSet, media_set_id, with_for_update=True)
    if row is None:
        raise CatalogError(f"no media set {media_set_id} in the catalog")
    return row


def _forget_content(session: Session, row: models.Cartridge) -> None:
    """What the catalog knew to be on the cartridge is gone (written over, found blank)."""
    for table in (models.TapeRepositoryFile, models.TapeFile):
        session.execute(delete(table).where(table.barcode == row.barcode))
    row.pool, row.media_set_id, row.sequence, row.labelled_at = None, None, None, None
    row.bytes_written = 0


# -- media sets ----------------------------------------------------------------------------


def open_media_set(
    catalog: Catalog,
    *,
    pool: str,
    target: str,
    at: datetime,
    expires_at: datetime | None,
) -> MediaSetRecord:
    """A new, open media set with a new UUID (`tape scan` records the ids it reads off the
    labels itself); `expires_at` None keeps it forever."""
    row = models.MediaSet(
        id=str(uuid.uuid4()),
        pool=pool,
        target=target,
        opened_at=at,
        expires_at=expires_at,
    )
    with catalog.session() as session, session.begin():
        session.add(row)
        session.flush()
        return _media_set(row)


def close_media_set(catalog: Catalog, media_set_id: str, *, at: datetime) -> MediaSetRecord:
    """Nothing more is appended to the set; closing a closed set keeps its first close."""
    with catalog.session() as session, session.begin():
        row = _existing_set(session, media_set_id)
        if row.closed_at is None:
            row.closed_at = at
        return _media_set(row)


def media_set(catalog: Catalog, media_set_id: str) -> MediaSetRecord | None:
    with catalog.session() as session:
        row = session.get(models.MediaSet, media_set_id)
        return None if row is None else _media_set(row)


def media_sets(
    catalog: Catalog,
    *,
    target: str | None = None,
    pool: str | None = None,
    open_only: bool = False,
) -> list[MediaSetRecord]:
    """Media sets, oldest first."""
    query = select(models.MediaSet).order_by(models.MediaSet.opened_at, models.MediaSet.id)
    if target is not None:
        query = query.where(models.MediaSet.target == target)
    if pool is not None:
        query = query.where(models.MediaSet.pool == pool)
    if open_only:
        query = query.where(models.MediaSet.closed_at.is_(None))
    with catalog.session() as session:
        return [_media_set(row) for row in session.scalars(query)]


# -- writes --------------------------------------------------------------------------------


def label_cartridge(
    catalog: Catalog,
    barcode: str,
    *,
    media_set_id: str,
    sequence: int,
    at: datetime,
    session_id: str,
    label_bytes: int,
    run_id: int | None = None,
) -> CartridgeRecord:
    """The cartridge now starts with the label of `sequence` in the media set (file 0):
    whatever the catalog knew to be on it before is forgotten, in the same transaction."""
    with catalog.session() as session, session.begin():
        row = _existing(session, barcode)
        owner = _existing_set(session, media_set_id)
        _forget_content(session, row)
        session.flush()
        row.pool, row.media_set_id, row.sequence = owner.pool, owner.id, sequence
        row.state, row.labelled_at, row.bytes_written = CartridgeState.LABELLED, at, label_bytes
        session.add(
            models.TapeFile(
                barcode=barcode,
                file_number=0,
                kind=TapeFileKind.LABEL,
                media_set_id=owner.id,
                bytes=label_bytes,
                written_at=at,
                session=session_id,
                run_id=run_id,
            )
        )
        return _cartridge(row)


def record_tape_file(
    catalog: Catalog,
    *,
    barcode: str,
    file_number: int,
    kind: TapeFileKind,
    bytes_written: int,
    written_at: datetime,
    session_id: str,
    expires_at: datetime | None,
    target: str | None = None,
    files: Sequence[RepositoryFile] = (),
    run_id: int | None = None,
) -> TapeFileRecord:
    """A tape file written (and verified) on a labelled cartridge of a media set, with the
    repository files of `target` it holds. The set's last write becomes `written_at` and
    its expiry `expires_at` (None: forever)."""
    [recorded] = record_session(
        catalog,
        barcode=barcode,
        written=[WrittenFile(file_number, kind, bytes_written, tuple(files))],
        written_at=written_at,
        session_id=session_id,
        expires_at=expires_at,
        target=target,
        run_id=run_id,
    )
    return recorded


@dataclass(frozen=True)
class WrittenFile:
    """One tape file of a write session, and the repository files it holds."""

    file_number: int
    kind: TapeFileKind
    bytes_written: int
    files: Sequence[RepositoryFile] = ()


def record_session(
    catalog: Catalog,
    *,
    barcode: str,
    written: Sequence[WrittenFile],
    written_at: datetime,
    session_id: str,
    expires_at: datetime | None,
    target: str | None = None,
    run_id: int | None = None,
    full: bool = False,
) -> list[TapeFileRecord]:
    """The tape files a write session wrote (and verified) on one cartridge, recorded in
    one transaction: a process that dies while recording them leaves none, so the next
    tape-out writes them again after the last session recorded whole, and no file the
    catalog places on tape is one that it then overwrites. `full`: the cartridge reached
    its early warning. As record_tape_file for each file."""
    for item in written:
        if item.kind is TapeFileKind.LABEL or item.file_number < 1:
            raise CatalogError("file 0 is the label: label_cartridge records it")
        if item.files and target is None:
            raise CatalogError("repository files need the target whose repository they are of")
    with catalog.session() as session, session.begin():
        row = _existing(session, barcode)
        if row.state not in (CartridgeState.LABELLED, CartridgeState.FULL) or not row.media_set_id:
            raise CatalogError(f"cartridge {barcode} is {row.state}, not labelled for a media set")
        owner = session.get(models.MediaSet, row.media_set_id, with_for_update=True)
        assert owner is not None  # a foreign key
        rows = [
            add_tape_file(
                session,
                barcode=barcode,
                file_number=item.file_number,
                kind=item.kind,
                media_set_id=owner.id,
                size=item.bytes_written,
                written_at=written_at,
                session_id=session_id,
                run_id=run_id,
                target=target,
                files=item.files,
            )
            for item in written
        ]
        row.bytes_written += sum(item.bytes_written for item in written)
        if full:
            row.state = CartridgeState.FULL
        owner.last_written_at, owner.expires_at = written_at, expires_at
        try:
            session.flush()
        except IntegrityError:
            numbers = ", ".join(str(item.file_number) for item in written)
            raise CatalogError(
                f"file {numbers} of {barcode} is already recorded"
                if len(written) == 1
                else f"one of files {numbers} of {barcode} is already recorded"
            ) from None
        return [_tape_file(written_row) for written_row in rows]


def set_media_set_expiry(
    catalog: Catalog, media_set_id: str, expires_at: datetime | None
) -> MediaSetRecord:
    """Change when a media set expires (an operator's decision: a retention changed, a
    legal hold); None keeps it forever."""
    with catalog.session() as session, session.begin():
        row = _existing_set(session, media_set_id)
        row.expires_at = expires_at
        return _media_set(row)


# -- reads ---------------------------------------------------------------------------------


def tape_files(catalog: Catalog, barcode: str) -> list[TapeFileRecord]:
    query = (
        select(models.TapeFile)
        .where(models.TapeFile.barcode == barcode)
        .order_by(models.TapeFile.file_number)
    )
    with catalog.session() as session:
        return [_tape_file(row) for row in session.scalars(query)]


def files_on_media_set(catalog: Catalog, media_set_id: str, target: str) -> dict[str, str]:
    """The repository files of `target` the media set holds: path -> sha256. Tape-out
    writes the others."""
    table = models.TapeRepositoryFile
    query = select(table.path, table.sha256).where(
        table.media_set_id == media_set_id, table.target == target
    )
    with catalog.session() as session:
        return {path: sha256 for path, sha256 in session.execute(query)}


def placements(
    catalog: Catalog, target: str, paths: Collection[str]
) -> dict[str, tuple[Placement, ...]]:
    """Where each of `paths` (repository files of `target`) sits on tape: newest media set
    first, then by cartridge sequence and file number. A path on no cartridge is absent."""
    table, sets = models.TapeRepositoryFile, models.MediaSet
    wanted = sorted(set(paths))
    found: dict[str, list[tuple[tuple[object, ...], Placement]]] = {}
    with catalog.session() as session:
        for start in range(0, len(wanted), _CHUNK):
            query = (
                select(table, sets.opened_at, models.Cartridge.sequence)
                .join(sets, sets.id == table.media_set_id)
                .join(models.Cartridge, models.Cartridge.barcode == table.barcode)
                .where(table.target == target, table.path.in_(wanted[start : start + _CHUNK]))
            )
            for row, opened_at, sequence in session.execute(query):
                place = _placement(row)
                order = (-opened_at.timestamp(), row.media_set_id, sequence or 0, row.file_number)
                found.setdefault(row.path, []).append((order, place))
    return {
        path: tuple(p for _, p in sorted(items, key=lambda i: i[0]))
        for path, items in found.items()
    }


def media_set_files(catalog: Catalog, media_set_id: str, target: str) -> list[Placement]:
    """Every repository file of `target` the media set holds, in reading order: by the
    cartridge's sequence in the set, then by tape file and path."""
    table = models.TapeRepositoryFile
    query = (
        select(table)
        .join(models.Cartridge, models.Cartridge.barcode == table.barcode)
        .where(table.media_set_id == media_set_id, table.target == target)
        .order_by(models.Cartridge.sequence, table.file_number, table.path)
    )
    with catalog.session() as session:
        return [_placement(row) for row in session.scalars(query)]


def _placement(row: models.TapeRepositoryFile) -> Placement:
    return Placement(
        target=row.target,
        path=row.path,
        size=row.size,
        sha256=row.sha256,
        barcode=row.barcode,
        file_number=row.file_number,
        media_set_id=row.media_set_id,
    )


def add_tape_file(
    session: Session,
    *,
    barcode: str,
    file_number: int,
    kind: TapeFileKind,
    media_set_id: str,
    size: int,
    written_at: datetime,
    session_id: str,
    run_id: int | None = None,
    target: str | None = None,
    files: Iterable[RepositoryFile] = (),
) -> models.TapeFile:
    """Add, in the caller's transaction, the row of one tape file and of the repository
    files of `target` it holds (a tape-out's record, or a scan's)."""
    written = models.TapeFile(
        barcode=barcode,
        file_number=file_number,
        kind=kind,
        media_set_id=media_set_id,
        bytes=size,
        written_at=written_at,
        session=session_id,
        run_id=run_id,
    )
    session.add(written)
    session.add_all(
        models.TapeRepositoryFile(
            target=target,
            path=file.path,
            size=file.size,
            sha256=file.sha256,
            barcode=barcode,
            file_number=file_number,
            media_set_id=media_set_id,
        )
        for file in files
    )
    return written
