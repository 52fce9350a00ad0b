"""Holding a library's drive for a tape-out or a restore, and mounting one cartridge in it;
borrowing a free drive for an operator's command.

    with hold_drive(catalog, "vault", library, purpose="tape-out of payroll") as drive:
        with mounted(library, drive, "DRO001L8"):
            ...                                   # the cartridge is loaded, at BOT

The drive is held twice: a catalog resource lock (one run at a time, across processes and,
with PostgreSQL, nodes) and the drive's own open-once rule. A mounted cartridge goes back
to its slot when the block ends, also on failure.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterator
from datetime import datetime

from drorch.catalog import Catalog
from drorch.catalog.models import CartridgeLocation
from drorch.catalog.tape import Sighting, see_cartridges
from drorch.locks import resource_lock
from drorch.targets.tape.changer import DriveBay, Inventory, is_cleaning
from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import (
    CartridgeNotInLibrary,
    CleaningCartridge,
    ElementFull,
    NoCartridge,
    NoSuchElement,
    TapeError,
)
from drorch.targets.tape.library import TapeLibrary

log = logging.getLogger(__name__)

DRIVE = 0  # tape-out and restore use the library's first drive
DRIVE_WAIT = 30.0  # seconds a run waits for another one to let the drive go


def see_inventory(
    catalog: Catalog, inventory: Inventory, *, at: datetime, only: Collection[str] | None = None
) -> None:
    """Record in the catalog where the inventory shows each cartridge (of `only`, if
    given): in a drive, a storage slot or an import/export slot."""
    sightings = [
        Sighting(d.barcode, CartridgeLocation.DRIVE, d.number)
        for d in inventory.drives
        if d.barcode and (only is None or d.barcode in only)
    ] + [
        Sighting(
            s.barcode,
            CartridgeLocation.IMPORT_EXPORT if s.import_export else CartridgeLocation.SLOT,
            s.number,
        )
        for s in inventory.slots
        if s.barcode and (only is None or s.barcode in only)
    ]
    see_cartridges(catalog, sightings, at=at)


def drive_lock_name(target: str, number: int = DRIVE) -> str:
    return f"tape-drive:{target}:{number}"


@contextlib.contextmanager
def hold_drive(
    catalog: Catalog,
    target: str,
    library: TapeLibrary,
    *,
    purpose: str,
    run_id: int | None = None,
) -> Iterator[Drive]:
    """The target's drive, for this process alone (LockBusy/DriveBusy naming the holder)."""
    with (
        resource_lock(
            catalog, drive_lock_name(target), purpose=purpose, run_id=run_id, wait=DRIVE_WAIT
        ),
        library.open_drive(DRIVE) as drive,
    ):
        yield drive


@contextlib.contextmanager
def mounted(library: TapeLibrary, drive: Drive, barcode: str) -> Iterator[None]:
    """Load the cartridge `barcode` into the drive (unloading whatever it held), and put it
    back into its slot afterwards. CartridgeNotInLibrary when no storage slot or drive holds
    it (exported, or on its way through a mail slot)."""
    changer = library.changer
    if changer is not None:
        inventory = changer.inventory()
        where = inventory.locate(barcode)
        if isinstance(where, DriveBay):
            if where.number != DRIVE:
                raise TapeError(f"cartridge {barcode} is in drive {where.number}, in use")
        else:
            if where.import_export:
                raise CartridgeNotInLibrary(barcode)
            if inventory.drive(DRIVE).full:
                _unload(library, drive)
            changer.load(where.number, DRIVE)
    drive.load()
    try:
        yield
    finally:
        try:
            _unload(library, drive)
        except TapeError as exc:
            log.error("cartridge %s could not be put back into its slot: %s", barcode, exc)


def _unload(library: TapeLibrary, drive: Drive) -> None:
    with contextlib.suppress(NoCartridge):  # already ejected
        drive.unload()
    if library.changer is not None:
        library.changer.unload(DRIVE)


@contextlib.contextmanager
def borrowed(library: TapeLibrary, barcode: str) -> Iterator[Drive]:
    """For an operator's command (label, scan): the cartridge `barcode`, loaded into a free
    drive and rewound, and put back afterwards; one already in a drive is used there and
    left there (someone put it in). CartridgeNotInLibrary, CleaningCartridge or ElementFull
    (every drive holds another cartridge) name why it cannot be. A drive a run holds is
    refused by the drive's open-once rule (DriveBusy)."""
    changer = library.changer
    if changer is None:
        raise NoSuchElement("the target has no changer: put the cartridge in its drive by hand")
    if is_cleaning(barcode):
        raise CleaningCartridge(f"{barcode} is a cleaning cartridge: it holds no data")
    inventory = changer.inventory()
    place = inventory.locate(barcode)
    if isinstance(place, DriveBay):
        with library.open_drive(place.number) as drive:
            drive.load()
            yield drive
        return
    free = [bay.number for bay in inventory.drives if not bay.full]
    if not free:
        held = ", ".join(str(bay.barcode) for bay in inventory.drives)
        raise ElementFull(f"every drive holds a cartridge ({held}): none to load {barcode} into")
    number = free[0]
    changer.load(place.number, number)
    try:
        with library.open_drive(number) as drive:
            try:
                drive.load()
                yield drive
            finally:
                drive.unload()
    finally:
        changer.unload(number, place.number)
