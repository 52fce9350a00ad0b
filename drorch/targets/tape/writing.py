"""Tape-out: the staging repository's files the current media set lacks, written to tape.

    report = TapeOut(settings, catalog, library, run_id=7).write(staging, files)

Step by step: choose the cartridge (pool.allocate), load it, read its label (a blank one
gets the label of its place in the media set; a foreign one or another set's is refused
naming the barcode), position after the last index of the cartridge, then write the
missing repository files archive by archive. When a cartridge reaches its early warning
(or an archive is interrupted by it), the cartridge is closed with its index, and the
next cartridge of the set is taken: an interrupted archive is written again, whole. The
session ends with the index. Each cartridge's new archives are read back and every
member's SHA-256 verified before the catalog records them.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from drorch.catalog import Catalog, utc_now
from drorch.catalog import tape as tape_catalog
from drorch.catalog.models import CartridgeState, TapeFileKind
from drorch.config.model import Pool
from drorch.config.units import format_size
from drorch.errors import DrorchError
from drorch.targets.tape.changer import Inventory
from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import CartridgeRefused, TapeError, TapeOutFailed
from drorch.targets.tape.format.archive import Archive, ArchiveWriter, extract, position
from drorch.targets.tape.format.errors import ArchiveInterrupted, ForeignLabel
from drorch.targets.tape.format.index import ArchiveEntry, Index, read_index, write_index
from drorch.targets.tape.format.label import LABEL_RECORD, Label, read_label, write_label
from drorch.targets.tape.library import TapeLibrary
from drorch.targets.tape.mount import hold_drive, mounted, see_inventory
from drorch.targets.tape.pool import Allocation, allocate
from drorch.targets.tape.staging import StagedFile, archives_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TapeSettings:
    """What a tape-out needs to know of its target."""

    target: str
    pool_name: str
    pool: Pool
    capacity: int | None  # bytes per cartridge, when known (a virtual library)
    usable: int | None  # bytes before the early warning, when known
    work_folder: Path  # where archives are read back to be verified


@dataclass(frozen=True)
class TapeOutReport:
    media_set: str | None
    files: int
    bytes: int
    archives: int
    cartridges: tuple[str, ...]
    seconds: float
    rewritten: int = 0  # archives interrupted by an early warning and written again

    def as_details(self) -> dict[str, object]:
        return {
            "media_set": self.media_set,
            "files_written": self.files,
            "bytes_written": self.bytes,
            "archives": self.archives,
            "cartridges": list(self.cartridges),
            "tape_seconds": round(self.seconds, 3),
            "rewritten": self.rewritten,
        }


@dataclass
class _Mounted:
    """The cartridge in the drive, and what this session wrote on it."""

    barcode: str
    label: Label
    earlier: tuple[ArchiveEntry, ...]
    written: list[Archive] = field(default_factory=list)
    abandoned: int | None = None  # the tape file of an archive cut short: the head is at it


class TapeOut:
    def __init__(
        self,
        settings: TapeSettings,
        catalog: Catalog,
        library: TapeLibrary,
        *,
        run_id: int | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.library = library
        self.run_id = run_id
        self.session = str(uuid.uuid4())
        self._cartridges: list[str] = []
        self._rewritten = 0

    def write(self, staging: Path, files: list[StagedFile]) -> TapeOutReport:
        """Write those of `files` (under `staging`) the current media set lacks."""
        started = time.monotonic()
        name = self.settings.target
        allocation = self._allocate(self._see_inventory())
        held = (
            tape_catalog.files_on_media_set(self.catalog, allocation.media_set_id, name)
            if allocation.media_set_id
            else {}
        )
        missing = [f for f in files if f.path not in held]
        if not missing:
            log.info("tape-out %s: media set %s holds every file", name, allocation.media_set_id)
            return TapeOutReport(allocation.media_set_id, 0, 0, 0, (), 0.0)
        self._check_sizes(missing)
        batches = archives_of(missing, self._archive_limit())
        try:
            media_set = self._write_batches(allocation, staging, batches)
        finally:
            self._see_where_cartridges_went()
        written = sum(len(b) for b in batches)
        size = sum(f.size for b in batches for f in b)
        seconds = time.monotonic() - started
        log.info(
            "tape-out %s: %d file(s), %s in %d archive(s) on %s, %.1f MB/s",
            name,
            written,
            format_size(size),
            len(batches),
            ", ".join(self._cartridges),
            size / max(seconds, 1e-6) / 1e6,
        )
        return TapeOutReport(
            media_set,
            written,
            size,
            len(batches),
            tuple(self._cartridges),
            seconds,
            self._rewritten,
        )

    def _write_batches(
        self, allocation: Allocation, staging: Path, batches: list[list[StagedFile]]
    ) -> str | None:
        """Write every batch as an archive, from the cartridge `allocation` names on; the
        media set they went to."""
        name = self.settings.target
        purpose = f"tape-out to {name}" + (f" (run {self.run_id})" if self.run_id else "")
        media_set = allocation.media_set_id
        with hold_drive(self.catalog, name, self.library, purpose=purpose, run_id=self.run_id) as (
            drive
        ):
            pending = list(batches)
            while pending:
                media_set = self._start_set(allocation)
                with mounted(self.library, drive, allocation.barcode):
                    current = self._open(drive, allocation, media_set)
                    full = self._fill(drive, current, staging, pending)
                    self._close(drive, current, full=full)
                if pending:
                    allocation = self._allocate()
        return media_set

    # -- choosing and opening a cartridge ---------------------------------------------------

    def _see_inventory(self) -> Inventory | None:
        """The changer's inventory (one `mtx status`), recorded in the catalog."""
        if self.library.changer is None:
            return None
        inventory = self.library.changer.inventory()
        see_inventory(self.catalog, inventory, at=utc_now())
        return inventory

    def _see_where_cartridges_went(self) -> None:
        """After the drive is let go, also on failure: the catalog sees the cartridges where
        the changer put them (one left in the drive by a run that died is back in its
        slot). A changer or catalog failing now is logged, not raised over the first."""
        try:
            self._see_inventory()
        except DrorchError as exc:
            log.warning("tape-out %s: where the cartridges are: %s", self.settings.target, exc)

    def _allocate(self, inventory: Inventory | None = None) -> Allocation:
        """The cartridge to write next, from `inventory` or, when cartridges moved since,
        from the changer's inventory now."""
        changer = self.library.changer
        if changer is None:
            raise TapeError(f"tape target {self.settings.target!r}: tape-out needs a changer")
        allocation = allocate(
            pool_name=self.settings.pool_name,
            pool=self.settings.pool,
            target=self.settings.target,
            inventory=inventory or changer.inventory(),
            cartridges={c.barcode: c for c in tape_catalog.cartridges(self.catalog)},
            media_sets={m.id: m for m in tape_catalog.media_sets(self.catalog)},
            now=utc_now(),
        )
        for warning in allocation.warnings:
            log.warning("tape-out %s: %s", self.settings.target, warning)
        return allocation

    def _start_set(self, allocation: Allocation) -> str:
        if allocation.close_media_set:
            tape_catalog.close_media_set(self.catalog, allocation.close_media_set, at=utc_now())
        if allocation.media_set_id:
            return allocation.media_set_id
        opened = tape_catalog.open_media_set(
            self.catalog,
            pool=self.settings.pool_name,
            target=self.settings.target,
            at=utc_now(),
            expires_at=self._expiry(),
        )
        log.info("tape-out %s: new media set %s", self.settings.target, opened.id)
        return opened.id

    def _open(self, drive: Drive, allocation: Allocation, media_set: str) -> _Mounted:
        """Check or write the label, and put the head where this session's archives go."""
        barcode = allocation.barcode
        self._cartridges.append(barcode)
        try:
            found = read_label(drive)
        except ForeignLabel as exc:
            tape_catalog.set_cartridge_state(self.catalog, barcode, CartridgeState.FOREIGN)
            raise CartridgeRefused(barcode, str(exc)) from exc
        if found is not None and found.barcode != barcode:
            raise CartridgeRefused(
                barcode,
                f"its label says {found.barcode} (#{found.sequence} of media set "
                f"{found.media_set}): the changer's barcode and the tape disagree; check "
                "the cartridge's barcode sticker and the library's inventory",
            )
        if allocation.label:
            if found is not None and allocation.unread and not _unrecorded(found, allocation):
                tape_catalog.set_cartridge_state(self.catalog, barcode, CartridgeState.FOREIGN)
                raise CartridgeRefused(
                    barcode,
                    f"it holds media set {found.media_set} of pool {found.pool}, which this "
                    "catalog does not know (drorch tape scan reads it in)",
                )
            label = Label(
                barcode,
                self.settings.pool_name,
                uuid.UUID(media_set),
                allocation.sequence,
                utc_now(),
                drive.record_size,
            )
            write_label(drive, label)
            tape_catalog.label_cartridge(
                self.catalog,
                barcode,
                media_set_id=media_set,
                sequence=allocation.sequence,
                at=label.written_at,
                session_id=self.session,
                label_bytes=min(LABEL_RECORD, drive.record_size),
                run_id=self.run_id,
            )
            log.info("tape-out: labelled %s as #%d of set %s", barcode, label.sequence, media_set)
            drive.eom()
            return _Mounted(barcode, label, ())
        if found is None or found.barcode != barcode or str(found.media_set) != media_set:
            what = f"media set {found.media_set} ({found.barcode})" if found else "nothing"
            raise CartridgeRefused(barcode, f"expected media set {media_set}, it holds {what}")
        indexes = [
            f.file_number
            for f in tape_catalog.tape_files(self.catalog, barcode)
            if f.kind is TapeFileKind.INDEX
        ]
        earlier = read_index(drive, max(indexes)).archives if indexes else ()
        position(drive, max(indexes, default=0) + 1)  # after the last verified session
        return _Mounted(barcode, found, earlier)

    # -- writing ----------------------------------------------------------------------------

    def _fill(
        self, drive: Drive, current: _Mounted, staging: Path, pending: list[list[StagedFile]]
    ) -> bool:
        """Write archives from `pending` until it is empty (False) or the cartridge is full
        (True); an archive written whole leaves `pending`."""
        while pending:
            batch = pending[0]
            try:
                archive = self._archive(drive, current, staging, batch)
            except ArchiveInterrupted as exc:
                if not current.written and not current.earlier:
                    raise TapeOutFailed(
                        f"cartridge {current.barcode}: an archive of {len(batch)} file(s) does "
                        f"not fit on an empty cartridge ({exc})"
                    ) from exc
                log.info(
                    "tape-out: %s reached its early warning in tape file %d; the archive is "
                    "written again on the next cartridge",
                    current.barcode,
                    exc.file_number,
                )
                self._rewritten += 1
                current.abandoned = exc.file_number
                return True
            current.written.append(archive)
            pending.pop(0)
            if archive.early_warning:
                return True
        return False

    def _archive(
        self, drive: Drive, current: _Mounted, staging: Path, batch: list[StagedFile]
    ) -> Archive:
        started = time.monotonic()
        file_number = drive.status().file_number
        try:
            with ArchiveWriter(drive) as writer:
                for item in batch:
                    writer.add_file(item.path, staging / item.path)
                archive = writer.finish()
        except ArchiveInterrupted:
            raise
        except TapeError as exc:
            raise TapeOutFailed(
                f"tape-out to {self.settings.target} failed on cartridge {current.barcode} in "
                f"tape file {file_number}, at block {_tell(drive)}: {exc}; the archives "
                "before it are readable"
            ) from exc
        size = sum(m.size for m in archive.members)
        log.info(
            "tape-out: %s tape file %d: %d file(s), %s, %.1f MB/s",
            current.barcode,
            archive.file_number,
            len(archive.members),
            format_size(size),
            size / max(time.monotonic() - started, 1e-6) / 1e6,
        )
        return archive

    def _close(self, drive: Drive, current: _Mounted, *, full: bool) -> None:
        """End the session on this cartridge with its index, read back and verify what it
        wrote, and record it in the catalog (only then)."""
        entries = current.earlier + tuple(
            ArchiveEntry(a.file_number, a.members) for a in current.written
        )
        number = drive.status().file_number
        if number is None:  # st forgets it on the seek back to an abandoned archive's start
            number = current.abandoned
        if number is None:
            raise TapeOutFailed(f"cartridge {current.barcode}: the drive lost its position")
        written_at = utc_now()
        try:
            write_index(drive, Index(current.label, number, written_at, entries))
        except TapeError as exc:
            raise TapeOutFailed(
                f"tape-out to {self.settings.target}: the index could not be written on "
                f"cartridge {current.barcode} as tape file {number}: {exc}"
            ) from exc
        self._verify(drive, current)
        archives = [
            tape_catalog.WrittenFile(
                archive.file_number,
                TapeFileKind.ARCHIVE,
                archive.records * drive.record_size,
                [tape_catalog.RepositoryFile(m.path, m.size, m.sha256) for m in archive.members],
            )
            for archive in current.written
        ]
        index = tape_catalog.WrittenFile(number, TapeFileKind.INDEX, drive.record_size)
        tape_catalog.record_session(
            self.catalog,
            barcode=current.barcode,
            written=[*archives, index],
            written_at=written_at,
            session_id=self.session,
            expires_at=self._expiry(),
            target=self.settings.target,
            run_id=self.run_id,
            full=full,
        )

    def _verify(self, drive: Drive, current: _Mounted) -> None:
        """Read back every archive written on the cartridge in this session."""
        folder = self.settings.work_folder / f"verify-{self.session}"
        try:
            for archive in current.written:
                extract(
                    drive, archive.file_number, archive.members, folder, barcode=current.barcode
                )
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        log.info(
            "tape-out: %s: %d archive(s) read back, every checksum matches",
            current.barcode,
            len(current.written),
        )

    # -- limits -----------------------------------------------------------------------------

    def _archive_limit(self) -> int:
        capacity = self.settings.capacity
        return min(MAX_ARCHIVE, capacity // 4) if capacity else MAX_ARCHIVE

    def _check_sizes(self, files: list[StagedFile]) -> None:
        usable = self.settings.usable
        if usable is None:
            return
        for item in files:
            if item.size > usable:
                raise TapeOutFailed(
                    f"tape-out to {self.settings.target}: {item.path} has "
                    f"{format_size(item.size)}, more than a cartridge holds "
                    f"({format_size(usable)} before its early warning)"
                )

    def _expiry(self) -> datetime | None:
        retention = self.settings.pool.retention
        return None if retention is None else utc_now() + retention


def _unrecorded(found: Label, allocation: Allocation) -> bool:
    """Whether the label is the one this tape-out would write, left by one that died after
    writing it and before the catalog recorded it: the cartridge is the pool's, not a
    foreign one, and is labelled again."""
    return (
        found.barcode == allocation.barcode
        and str(found.media_set) == allocation.media_set_id
        and found.sequence == allocation.sequence
    )


MAX_ARCHIVE = 1 << 30  # bytes of members per archive at most: a rewrite costs at most this


def _tell(drive: Drive) -> str:
    try:
        return str(drive.tell())
    except TapeError:
        return "unknown"
