"""A cartridge in a drive for as long as a command needs it, then back where it was.

    with mounted(library, "DRO002L8") as drive:     # loaded from its slot into drive 0
        label = read_label(drive)
    # unloaded (ejected, then moved back to its slot)

A cartridge already in a drive is used there and left there: someone put it in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drorch.targets.tape.changer import DriveBay, is_cleaning
from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import CleaningCartridge, ElementFull, NoSuchElement
from drorch.targets.tape.library import TapeLibrary


@contextmanager
def mounted(library: TapeLibrary, barcode: str) -> Iterator[Drive]:
    """The cartridge `barcode`, loaded and rewound; CartridgeNotInLibrary, CleaningCartridge
    or ElementFull (every drive holds another cartridge) name why it cannot be."""
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
