"""Vaulting: cartridges out of the library through its import/export (mail) slots, and
back in.

`export` moves each cartridge (ejecting it from its drive first) to a free mail slot and
marks it EXPORTED in the catalog; taking it out of the mail slot is the operator's hand
(for the virtual library, VirtualLibrary.remove). `import_` moves what the mail slots
hold to free storage slots; the catalog sees them back in the library (an exported
cartridge of a media set comes back FULL: a vaulted set is not appended to).

Every check is made before the first move: a barcode not in the library, or too few free
slots, moves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from drorch.catalog import Catalog
from drorch.catalog.models import CartridgeLocation
from drorch.catalog.tape import Sighting, see_cartridges
from drorch.catalog.tape_media import mark_exported
from drorch.targets.tape.changer import Changer, DriveBay, Slot
from drorch.targets.tape.errors import ChangerError, ElementEmpty, NoSuchElement
from drorch.targets.tape.library import TapeLibrary


class NoFreeSlot(ChangerError):
    """Too few free import/export (or storage) slots for the cartridges to move."""


@dataclass(frozen=True)
class Move:
    barcode: str
    source: str  # "slot 3", "drive 0", "import/export slot 9"
    slot: int  # where it went


def export_cartridges(
    library: TapeLibrary, catalog: Catalog, barcodes: Sequence[str], *, at: datetime
) -> list[Move]:
    changer = _changer(library)
    inventory = changer.inventory()
    places = {barcode: inventory.locate(barcode) for barcode in dict.fromkeys(barcodes)}
    moving = [b for b, place in places.items() if not _in_mail_slot(place)]
    free = [s.number for s in inventory.import_export_slots if not s.full]
    if len(free) < len(moving):
        raise NoFreeSlot(
            f"{len(moving)} cartridges to export ({', '.join(moving)}) and "
            f"{len(free)} free import/export slots: empty the mail slots first"
        )
    moves = []
    for barcode, place in places.items():
        if isinstance(place, DriveBay):
            with library.open_drive(place.number) as drive:
                drive.unload()
            slot = free.pop(0)
            changer.unload(place.number, slot)
            source = f"drive {place.number}"
        elif place.import_export:
            slot, source = place.number, f"import/export slot {place.number}"
        else:
            slot = free.pop(0)
            changer.transfer(place.number, slot)
            source = f"slot {place.number}"
        mark_exported(catalog, barcode, slot=slot, at=at)
        moves.append(Move(barcode, source, slot))
    return moves


def import_cartridges(
    library: TapeLibrary, catalog: Catalog, slots: Sequence[int], *, at: datetime
) -> list[Move]:
    """Move the cartridges in the import/export `slots` (default: every full one) to free
    storage slots, lowest first."""
    changer = _changer(library)
    inventory = changer.inventory()
    mail = {s.number: s for s in inventory.import_export_slots}
    for number in slots:
        if number not in mail:
            inventory.slot(number)  # NoSuchElement for a slot that does not exist
            raise NoSuchElement(
                f"slot {number} is not an import/export slot "
                f"(those are {', '.join(map(str, mail)) or 'none'})"
            )
        if not mail[number].full:
            raise ElementEmpty(f"import/export slot {number} is empty")
    chosen = (
        [mail[n] for n in dict.fromkeys(slots)] if slots else [s for s in mail.values() if s.full]
    )
    free = [s.number for s in inventory.storage_slots if not s.full]
    if len(free) < len(chosen):
        raise NoFreeSlot(f"{len(chosen)} cartridges to import and {len(free)} free storage slots")
    moves = []
    for mailed in chosen:
        slot = free.pop(0)
        changer.transfer(mailed.number, slot)
        barcode = mailed.barcode or f"(no barcode, now in slot {slot})"
        if mailed.barcode is not None:
            see_cartridges(catalog, [Sighting(mailed.barcode, CartridgeLocation.SLOT, slot)], at=at)
        moves.append(Move(barcode, f"import/export slot {mailed.number}", slot))
    return moves


def _changer(library: TapeLibrary) -> Changer:
    if library.changer is None:
        raise NoSuchElement("the target has a lone drive: no changer, no import/export slots")
    return library.changer


def _in_mail_slot(place: Slot | DriveBay) -> bool:
    return isinstance(place, Slot) and place.import_export
