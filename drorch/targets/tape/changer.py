"""A tape library's changer (robot): what it holds where, and the moves it makes.

Numbering is mtx's, so that a slot number means the same thing to drorch, to `mtx` and
to the operator: drives (data transfer elements) from 0, slots (storage elements) from 1,
import/export slots (the mail slots an operator reaches from outside) numbered among the
slots, usually after them, and flagged. A cartridge is known by its barcode (the SCSI
primary volume tag); a barcode starting with CLN is a cleaning cartridge, never a data one.

A cartridge moves out of a drive only after the drive ejected it (`Drive.unload`, which is
`mt offline`): many libraries refuse the move otherwise, and the virtual one always does.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from drorch.targets.tape.errors import CartridgeNotInLibrary, NoSuchElement

CLEANING_PREFIX = "CLN"


def is_cleaning(barcode: str | None) -> bool:
    """Whether a barcode names a cleaning cartridge (CLN..., the LTO convention)."""
    return barcode is not None and barcode.upper().startswith(CLEANING_PREFIX)


@dataclass(frozen=True)
class Slot:
    """A storage element; `full` with no barcode is a cartridge without a readable label."""

    number: int  # from 1
    full: bool
    barcode: str | None = None
    import_export: bool = False

    @property
    def cleaning(self) -> bool:
        return is_cleaning(self.barcode)


@dataclass(frozen=True)
class DriveBay:
    """A data transfer element: a drive as the changer sees it."""

    number: int  # from 0
    full: bool
    barcode: str | None = None
    source_slot: int | None = None  # the slot the cartridge was loaded from, if known

    @property
    def cleaning(self) -> bool:
        return is_cleaning(self.barcode)


@dataclass(frozen=True)
class Inventory:
    drives: tuple[DriveBay, ...]
    slots: tuple[Slot, ...]  # storage and import/export slots, by number

    def slot(self, number: int) -> Slot:
        for slot in self.slots:
            if slot.number == number:
                return slot
        raise NoSuchElement(f"the library has no slot {number} (slots: {self._slot_range()})")

    def drive(self, number: int) -> DriveBay:
        for drive in self.drives:
            if drive.number == number:
                return drive
        raise NoSuchElement(f"the library has no drive {number} ({len(self.drives)} drives)")

    @property
    def storage_slots(self) -> tuple[Slot, ...]:
        return tuple(slot for slot in self.slots if not slot.import_export)

    @property
    def import_export_slots(self) -> tuple[Slot, ...]:
        return tuple(slot for slot in self.slots if slot.import_export)

    def locate(self, barcode: str) -> Slot | DriveBay:
        """Where the cartridge with this barcode is, in a drive or a slot."""
        elements: tuple[Slot | DriveBay, ...] = (*self.drives, *self.slots)
        for element in elements:
            if element.barcode == barcode:
                return element
        raise CartridgeNotInLibrary(barcode)

    def barcodes(self) -> tuple[str, ...]:
        """Every cartridge label the library holds, drives first, then slots by number."""
        elements: tuple[Slot | DriveBay, ...] = (*self.drives, *self.slots)
        return tuple(e.barcode for e in elements if e.barcode is not None)

    def _slot_range(self) -> str:
        numbers = [slot.number for slot in self.slots]
        return f"{min(numbers)}-{max(numbers)}" if numbers else "none"


class Changer(abc.ABC):
    """Moves cartridges between slots and drives. Errors: NoSuchElement, ElementEmpty,
    ElementFull, DriveNotUnloaded, CleaningCartridge, ChangerError."""

    @abc.abstractmethod
    def inventory(self) -> Inventory:
        """What every drive and slot holds now (`mtx status`)."""

    @abc.abstractmethod
    def load(self, slot: int, drive: int = 0) -> None:
        """Move the cartridge in `slot` into `drive`; it is then at BOT (`mtx load`)."""

    @abc.abstractmethod
    def unload(self, drive: int = 0, slot: int | None = None) -> None:
        """Move the ejected cartridge out of `drive` into `slot`, by default the slot it came
        from (`mtx unload`)."""

    @abc.abstractmethod
    def transfer(self, source: int, destination: int) -> None:
        """Move a cartridge from one slot to another, import/export slots included
        (`mtx transfer`)."""
