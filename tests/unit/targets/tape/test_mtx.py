"""mtx: the argv drorch runs, and its reading of what mtx prints (recorded/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drorch.process import Completed
from drorch.targets.tape import mtx
from drorch.targets.tape.changer import DriveBay, Inventory, Slot
from drorch.targets.tape.errors import (
    ChangerError,
    CleaningCartridge,
    DriveNotUnloaded,
    ElementEmpty,
    ElementFull,
    NoSuchElement,
)

RECORDED = Path(__file__).with_name("recorded")


def recorded(name: str) -> Inventory:
    return mtx.parse_status(RECORDED.joinpath(name).read_text(encoding="utf-8"))


def test_commands_are_exact_argv() -> None:
    assert mtx.status_command("/dev/sg3") == ("mtx", "-f", "/dev/sg3", "status")
    assert mtx.load_command("/dev/sg3", 12, 1) == ("mtx", "-f", "/dev/sg3", "load", "12", "1")
    assert mtx.unload_command("/dev/sg3", 12, 0, binary="/usr/sbin/mtx") == (
        "/usr/sbin/mtx", "-f", "/dev/sg3", "unload", "12", "0"
    )  # fmt: skip
    assert mtx.transfer_command("/dev/sg3", 3, 21) == (
        "mtx", "-f", "/dev/sg3", "transfer", "3", "21"
    )  # fmt: skip


def test_two_empty_drives_cleaning_cartridges_and_mail_slots() -> None:
    inventory = recorded("mtx-status-pbs-cleaning-ie.txt")
    assert inventory.drives == (DriveBay(0, False), DriveBay(1, False))
    assert len(inventory.slots) == 24
    assert inventory.slot(1) == Slot(1, True, "CLN002CU")
    assert inventory.slot(5) == Slot(5, True, "test1")
    assert [s.barcode for s in inventory.slots if s.cleaning] == ["CLN002CU", "CLN001CU"]
    assert [s.number for s in inventory.import_export_slots] == [21, 22, 23, 24]
    assert not any(s.full for s in inventory.import_export_slots)


def test_a_loaded_drive_names_its_cartridge_and_source_slot_without_the_padding() -> None:
    inventory = recorded("mtx-status-ibm-03584-loaded.txt")
    assert inventory.drives == (
        DriveBay(0, True, "BRU003", source_slot=12),
        DriveBay(1, False),
        DriveBay(2, False),
    )
    assert inventory.slot(12) == Slot(12, False)
    assert inventory.locate("BRU003") == inventory.drive(0)
    assert inventory.slot(7).barcode == "UA001"


def test_a_library_that_gives_two_drives_one_source_slot_is_read_as_it_says() -> None:
    inventory = recorded("mtx-status-hera-two-drives-one-source.txt")
    assert inventory.drives == (
        DriveBay(0, True, "042142L9", source_slot=8),
        DriveBay(1, True, "HER002L9", source_slot=8),
    )
    assert inventory.slot(12).cleaning
    assert inventory.import_export_slots == (Slot(24, True, "HER003L9", import_export=True),)


def test_padded_tags_and_a_cartridge_without_a_readable_tag() -> None:
    inventory = recorded("mtx-status-ibm-3361-freebsd-mailslots.txt")
    assert len(inventory.import_export_slots) == 36
    assert inventory.slot(3) == Slot(3, True, "UN0101L3", import_export=True)
    assert inventory.slot(6) == Slot(6, True, None, import_export=True)
    assert inventory.barcodes() == ("UN0101L3", "UN0102L3", "UN0103L3")


def test_without_barcodes_slots_are_only_full_or_empty() -> None:
    inventory = recorded("mtx-status-nobarcode.txt")
    assert inventory.drives == (DriveBay(0, True, None, source_slot=2),)
    assert [s.full for s in inventory.storage_slots] == [True, False, True, True, True, True,
                                                         False, False]  # fmt: skip
    assert inventory.barcodes() == ()


def test_unknown_source_slot_and_alternate_tags() -> None:
    inventory = recorded("mtx-status-unknown-source-alternate-tags.txt")
    assert inventory.drives == (
        DriveBay(0, True, "DRO009L8", source_slot=None),
        DriveBay(1, True, "DRO001L8", source_slot=1),
    )
    assert inventory.slot(2) == Slot(2, True, "DRO002L8")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Data Transfer Element 0:Empty\n", "no 'Storage Changer' line"),
        (
            "  Storage Changer /dev/sg3:1 Drives, 2 Slots ( 0 Import/Export )\n"
            "Data Transfer Element 0:Empty\n      Storage Element 1:Empty\n",
            "announces 1 drives, 2 slots",
        ),
        (
            "  Storage Changer /dev/sg3:1 Drives, 1 Slots ( 0 Import/Export )\n"
            "Data Transfer Element 0:Empty\n      Storage Element 1:Half full\n",
            "line 3: not understood",
        ),
    ],
)
def test_output_that_is_not_mtx_status_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ChangerError, match=reason):
        mtx.parse_status(text)


def failed(*stderr: str, timed_out: bool = False) -> Completed:
    return Completed(("mtx", "-f", "/dev/sg3", "load", "3", "0"), 1, (), stderr, 1.0, timed_out)


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [  # the reasons mtx-1.3.12/mtx.c gives to FatalError()
        ("mtx: Drive 0 Full (Storage Element 5 loaded)", ElementFull),
        ("mtx: Storage Element 3 is Already Full", ElementFull),
        ("mtx: Destination Element Address 4099 is Already Full", ElementFull),
        ("mtx: Data Transfer Element 1 is Empty", ElementEmpty),
        ("mtx: Source Element Address 4098 is Empty", ElementEmpty),
        ("mtx: Drive needs offline before move", DriveNotUnloaded),
        ("mtx: Cleaning Cartridge Installed and Ejected", CleaningCartridge),
        ("mtx: Invalid <storage-element-number> argument '99' to 'load' command", NoSuchElement),
        ("mtx: illegal <drive-number> argument '7' to 'load' command", NoSuchElement),
        ("mtx: MOVE MEDIUM from Element Address 4098 to 256 Failed", ChangerError),
    ],
)
def test_mtx_refusals_become_typed_errors(stderr: str, kind: type[ChangerError]) -> None:
    error = mtx.changer_error(failed("mtx: Request Sense: Long Report=yes", stderr))
    assert type(error) is kind
    assert str(error) == f"mtx -f /dev/sg3 load 3 0: {stderr.removeprefix('mtx: ')}"


def test_a_move_that_timed_out_says_so() -> None:
    error = mtx.changer_error(failed(timed_out=True))
    assert (type(error), str(error)) == (ChangerError, "mtx -f /dev/sg3 load 3 0: timed out")


def test_a_missing_mtx_is_named(tmp_path: Path) -> None:
    changer = mtx.MtxChanger("/dev/sg3", binary=str(tmp_path / "no-mtx-here"))
    with pytest.raises(ChangerError, match="not installed"):
        changer.inventory()
