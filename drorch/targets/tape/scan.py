"""`drorch tape scan`: the catalog of a tape target rebuilt from its cartridges alone.

Each cartridge is loaded and read: its label (file 0) and the index of its last write
session, which lists every archive on it for its media set with every repository file's
path, size and SHA-256. What is read is recorded as if drorch had just written it
(drorch.catalog.tape_scan); a blank cartridge, a scratch label and another program's
tape are recorded as such; one that cannot be read is reported and left as it was.
Scanning twice records the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from drorch.catalog import Catalog
from drorch.catalog.models import CartridgeState
from drorch.catalog.tape import RepositoryFile, set_cartridge_state
from drorch.catalog.tape_media import mark_scratch
from drorch.catalog.tape_scan import ScannedArchive, ScannedCartridge, record_scanned
from drorch.config.model import Pool
from drorch.targets.tape.changer import DriveBay, Inventory, Slot
from drorch.targets.tape.errors import TapeError
from drorch.targets.tape.format.errors import ForeignLabel
from drorch.targets.tape.format.index import Index, read_last_index
from drorch.targets.tape.format.label import LABEL_RECORD, read_label
from drorch.targets.tape.labelling import describe, is_scratch
from drorch.targets.tape.library import TapeLibrary
from drorch.targets.tape.mount import borrowed, see_inventory

log = logging.getLogger(__name__)

INDEX_BYTES = 10240  # an index's size is not on tape; its tar record is the least


@dataclass(frozen=True)
class ScanResult:
    barcode: str
    found: str  # what the cartridge holds, in words
    recorded: bool  # False: could not be read, the catalog is unchanged for it
    media_set: str | None = None
    sequence: int | None = None
    archives: int = 0
    files: int = 0


def scan_cartridges(
    library: TapeLibrary,
    catalog: Catalog,
    barcodes: Sequence[str],
    *,
    target: str,
    pool_of: Callable[[str], Pool],
    now: datetime,
) -> list[ScanResult]:
    """Read each cartridge and record what it holds; one that fails is reported, the
    next is read."""
    assert library.changer is not None  # borrowed() says so for a lone drive
    see_inventory(catalog, library.changer.inventory(), at=now, only=set(barcodes))
    results = []
    for barcode in barcodes:
        try:
            results.append(_scan_one(library, catalog, barcode, target, pool_of))
        except TapeError as exc:
            log.warning("tape scan: %s could not be read: %s", barcode, exc)
            results.append(ScanResult(barcode, f"unreadable: {exc}", recorded=False))
    return results


def scannable(inventory: Inventory) -> list[str]:
    """Every cartridge in a drive or a storage slot, but cleaning ones."""
    inside: list[Slot | DriveBay] = [*inventory.drives, *inventory.storage_slots]
    return [e.barcode for e in inside if e.barcode is not None and not e.cleaning]


def _scan_one(
    library: TapeLibrary,
    catalog: Catalog,
    barcode: str,
    target: str,
    pool_of: Callable[[str], Pool],
) -> ScanResult:
    with borrowed(library, barcode) as drive:
        try:
            label = read_label(drive)
        except ForeignLabel as exc:
            set_cartridge_state(catalog, barcode, CartridgeState.FOREIGN)
            return ScanResult(barcode, f"not drorch's: {exc.found}", recorded=True)
        if label is None:
            set_cartridge_state(catalog, barcode, CartridgeState.BLANK)
            return ScanResult(barcode, "blank", recorded=True)
        if label.barcode != barcode:
            raise TapeError(f"its label says {label.barcode}, its barcode is {barcode}")
        if is_scratch(label):
            mark_scratch(catalog, barcode, pool=label.pool, at=label.written_at,
                         label_bytes=LABEL_RECORD)  # fmt: skip
            return ScanResult(barcode, describe(label), recorded=True)
        index = read_last_index(drive)
        drive.eom()
        full = drive.status().early_warning
    if index is None:
        index = Index(label, file_number=1, written_at=label.written_at, archives=())
    scanned = _scanned(barcode, index, full)
    try:
        pool = pool_of(label.pool)
        until = None if pool.retention is None else index.written_at + pool.retention
    except KeyError:
        until = None  # a pool no longer configured: kept until an operator says
    record_scanned(catalog, scanned, target=target, expires_at=until)
    return ScanResult(
        barcode,
        describe(label),
        recorded=True,
        media_set=scanned.media_set_id,
        sequence=label.sequence,
        archives=len(scanned.archives),
        files=sum(len(a.files) for a in scanned.archives),
    )


def _scanned(barcode: str, index: Index, full: bool) -> ScannedCartridge:
    label = index.label
    return ScannedCartridge(
        barcode=barcode,
        pool=label.pool,
        media_set_id=str(label.media_set),
        sequence=label.sequence,
        labelled_at=label.written_at,
        label_bytes=LABEL_RECORD,
        index_file=index.file_number,
        index_bytes=INDEX_BYTES,
        written_at=index.written_at,
        archives=tuple(
            ScannedArchive(
                entry.file_number,
                tuple(RepositoryFile(m.path, m.size, m.sha256) for m in entry.members),
            )
            for entry in index.archives
        ),
        full=full,
    )
