"""The changer of the virtual library: moves recorded in the state file, one at a time."""

from __future__ import annotations

from pathlib import Path

from drorch.targets.tape.changer import Changer, DriveBay, Inventory, Slot, is_cleaning
from drorch.targets.tape.errors import (
    ChangerError,
    CleaningCartridge,
    DriveNotUnloaded,
    ElementEmpty,
    ElementFull,
)
from drorch.targets.tape.virtual import state as library_state
from drorch.targets.tape.virtual.state import LibraryState


class VirtualChanger(Changer):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        library_state.read_state(folder)  # fails now, not at the first move, if absent

    def inventory(self) -> Inventory:
        return inventory_of(library_state.read_state(self.folder))

    def load(self, slot: int, drive: int = 0) -> None:
        with library_state.updating(self.folder) as state:
            source, bay = state.slot(slot), state.drive(drive)
            if source.barcode is None:
                raise ElementEmpty(f"slot {slot} is empty")
            if bay.barcode is not None:
                raise ElementFull(
                    f"drive {drive} already holds {bay.barcode}"
                    + (f" (from slot {bay.source_slot})" if bay.source_slot else "")
                )
            if is_cleaning(source.barcode):
                raise CleaningCartridge(
                    f"slot {slot} holds cleaning cartridge {source.barcode}: not for data"
                )
            tape = self.folder / f"{source.barcode}{library_state.CARTRIDGE_SUFFIX}"
            if not tape.is_file():  # as a robot finds the slot empty: nothing moves
                raise ElementEmpty(
                    f"slot {slot} is empty: the library's inventory says it holds "
                    f"{source.barcode}, but its cartridge ({tape}) is not there"
                )
            bay.barcode, bay.source_slot, bay.ejected, bay.position = source.barcode, slot, False, 0
            source.barcode = None

    def unload(self, drive: int = 0, slot: int | None = None) -> None:
        with library_state.updating(self.folder) as state:
            bay = state.drive(drive)
            if bay.barcode is None:
                raise ElementEmpty(f"drive {drive} is empty")
            if not bay.ejected:
                raise DriveNotUnloaded(
                    f"drive {drive} still has {bay.barcode} loaded: unload it in the drive "
                    "first (mt offline)"
                )
            number = slot if slot is not None else bay.source_slot
            if number is None:
                raise ChangerError(f"drive {drive}: which slot {bay.barcode} came from is unknown")
            destination = state.slot(number)
            if destination.barcode is not None:
                raise ElementFull(f"slot {number} already holds {destination.barcode}")
            destination.barcode = bay.barcode
            bay.barcode, bay.source_slot, bay.ejected, bay.position = None, None, False, 0

    def transfer(self, source: int, destination: int) -> None:
        with library_state.updating(self.folder) as state:
            origin, target = state.slot(source), state.slot(destination)
            if origin.barcode is None:
                raise ElementEmpty(f"slot {source} is empty")
            if target.barcode is not None:
                raise ElementFull(f"slot {destination} already holds {target.barcode}")
            target.barcode, origin.barcode = origin.barcode, None


def inventory_of(state: LibraryState) -> Inventory:
    return Inventory(
        drives=tuple(
            DriveBay(d.number, d.barcode is not None, d.barcode, d.source_slot)
            for d in state.drives
        ),
        slots=tuple(
            Slot(s.number, s.barcode is not None, s.barcode, s.import_export) for s in state.slots
        ),
    )
