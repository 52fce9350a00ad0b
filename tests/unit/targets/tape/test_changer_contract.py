"""The changer contract: what every Changer implementation does, run against each of them."""

from __future__ import annotations

import pytest

from drorch.targets.tape.changer import Changer, DriveBay, Slot
from drorch.targets.tape.errors import (
    CartridgeNotInLibrary,
    CleaningCartridge,
    DriveNotUnloaded,
    ElementEmpty,
    ElementFull,
    NoSuchElement,
)
from drorch.targets.tape.virtual import VirtualLibrary
from tests.unit.targets.tape.conftest import ChangerFactory


def eject(library: VirtualLibrary, drive: int = 0) -> None:
    """What the caller does before the changer takes a cartridge out: `mt offline`."""
    with library.drive(drive) as opened:
        opened.unload()


def test_inventory_numbers_drives_from_0_and_slots_from_1(changer: Changer) -> None:
    inventory = changer.inventory()
    assert inventory.drives == (DriveBay(0, False), DriveBay(1, False))
    assert inventory.slots == (
        Slot(1, True, "DRO001L8"),
        Slot(2, True, "DRO002L8"),
        Slot(3, True, "DRO003L8"),
        Slot(4, True, "CLN001L1"),
        Slot(5, False),
        Slot(6, False),
        Slot(7, False, import_export=True),
        Slot(8, False, import_export=True),
    )
    assert [slot.number for slot in inventory.import_export_slots] == [7, 8]
    assert [slot.barcode for slot in inventory.slots if slot.cleaning] == ["CLN001L1"]


def test_load_puts_the_cartridge_in_the_drive_and_remembers_its_slot(changer: Changer) -> None:
    changer.load(2, 1)
    inventory = changer.inventory()
    assert inventory.drive(1) == DriveBay(1, True, "DRO002L8", source_slot=2)
    assert inventory.slot(2) == Slot(2, False)
    assert inventory.locate("DRO002L8") == inventory.drive(1)


def test_unload_takes_an_ejected_cartridge_back_to_its_slot(
    changer: Changer, library: VirtualLibrary
) -> None:
    changer.load(3, 0)
    eject(library)
    changer.unload(0)
    inventory = changer.inventory()
    assert inventory.drive(0) == DriveBay(0, False)
    assert inventory.slot(3) == Slot(3, True, "DRO003L8")


def test_unload_into_another_slot(changer: Changer, library: VirtualLibrary) -> None:
    changer.load(1, 0)
    eject(library)
    changer.unload(0, 7)
    assert changer.inventory().slot(7) == Slot(7, True, "DRO001L8", import_export=True)


def test_a_loaded_cartridge_must_be_ejected_before_it_is_moved(changer: Changer) -> None:
    changer.load(1, 0)
    with pytest.raises(DriveNotUnloaded):
        changer.unload(0)
    assert changer.inventory().drive(0).barcode == "DRO001L8"


def test_transfer_moves_a_cartridge_to_an_import_export_slot_and_back(changer: Changer) -> None:
    changer.transfer(2, 8)
    assert changer.inventory().slot(8) == Slot(8, True, "DRO002L8", import_export=True)
    changer.transfer(8, 5)
    inventory = changer.inventory()
    assert (inventory.slot(5).barcode, inventory.slot(8).full) == ("DRO002L8", False)


def test_moves_from_an_empty_element_are_refused(changer: Changer) -> None:
    with pytest.raises(ElementEmpty):
        changer.load(5, 0)
    with pytest.raises(ElementEmpty):
        changer.transfer(6, 5)
    with pytest.raises(ElementEmpty):
        changer.unload(1, 5)


def test_moves_into_a_full_element_are_refused(changer: Changer, library: VirtualLibrary) -> None:
    changer.load(1, 0)
    with pytest.raises(ElementFull):
        changer.load(2, 0)
    with pytest.raises(ElementFull):
        changer.transfer(2, 3)
    eject(library)
    with pytest.raises(ElementFull):
        changer.unload(0, 2)
    assert changer.inventory().barcodes() == ("DRO001L8", "DRO002L8", "DRO003L8", "CLN001L1")


def test_elements_the_library_lacks_are_refused(changer: Changer) -> None:
    with pytest.raises(NoSuchElement):
        changer.load(9, 0)
    with pytest.raises(NoSuchElement):
        changer.load(1, 2)
    with pytest.raises(NoSuchElement):
        changer.transfer(1, 9)


def test_a_cleaning_cartridge_is_never_loaded_for_data(changer: Changer) -> None:
    with pytest.raises(CleaningCartridge):
        changer.load(4, 0)
    assert changer.inventory().slot(4).barcode == "CLN001L1"


def test_moves_are_seen_by_the_next_process(open_changer: ChangerFactory) -> None:
    open_changer().transfer(1, 6)
    assert open_changer().inventory().slot(6).barcode == "DRO001L8"


def test_a_barcode_not_in_the_library_is_named(changer: Changer) -> None:
    with pytest.raises(CartridgeNotInLibrary, match="DRO404L8"):
        changer.inventory().locate("DRO404L8")
