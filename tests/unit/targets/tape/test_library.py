"""A tape target's hardware from its config: a virtual library, or /dev/nst0 and mtx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drorch.config.model import TapeTarget
from drorch.targets.tape.errors import NoSuchElement, RecordSizeError
from drorch.targets.tape.library import LinuxTapeLibrary, VirtualTapeLibrary, open_library
from drorch.targets.tape.mtx import MtxChanger


def target(tmp_path: Path, **kind: Any) -> TapeTarget:
    return TapeTarget.model_validate(
        {"kind": "tape", "pool": "weekly", "password_file": "vault.pass", "site": "dc1",
         "jurisdiction": "ML", **kind},
        context={"root": tmp_path},
    )  # fmt: skip


def test_a_virtual_target_creates_its_library_on_first_use(tmp_path: Path) -> None:
    config = target(tmp_path, virtual={"path": "vtl", "slots": 3, "capacity": "10MiB"})
    library = open_library(config)
    assert isinstance(library, VirtualTapeLibrary)
    assert library.library.folder == tmp_path / "vtl"
    assert library.changer.inventory().barcodes() == ("DRO001L8", "DRO002L8", "DRO003L8")
    library.changer.load(1, 0)
    with library.open_drive(0) as drive:
        drive.write_record(b"kept")
    again = open_library(config)  # the same library, not a new one
    with again.open_drive(0) as drive:
        assert drive.tell() == 2


def test_a_scsi_target_is_its_device_and_its_changer(tmp_path: Path) -> None:
    library = open_library(target(tmp_path, drive="/dev/nst0", changer="/dev/sg3"))
    assert isinstance(library, LinuxTapeLibrary)
    assert library.drives == ("/dev/nst0",)
    assert isinstance(library.changer, MtxChanger) and library.changer.device == "/dev/sg3"
    with pytest.raises(NoSuchElement):
        library.open_drive(1)
    lone = open_library(target(tmp_path, drive="/dev/nst1"))
    assert lone.changer is None


def test_a_virtual_target_gets_the_drives_mail_slots_and_zone_it_asks_for(
    tmp_path: Path,
) -> None:
    config = target(
        tmp_path,
        virtual={"path": "vtl", "slots": 2, "capacity": "1MiB", "drives": 2,
                 "import_export": 2, "early_warning": "256KiB"},
        record_size="64KiB",
    )  # fmt: skip
    library = open_library(config)
    assert library.changer is not None
    inventory = library.changer.inventory()
    assert [d.number for d in inventory.drives] == [0, 1]
    assert [s.number for s in inventory.import_export_slots] == [3, 4]
    library.changer.load(2, 1)
    with library.open_drive(1) as drive:
        assert drive.record_size == 64 * 1024
        with pytest.raises(RecordSizeError):
            drive.write_record(bytes(64 * 1024 + 1))
        for _ in range(11):  # 704 KiB (and their headers): not yet in the last 256 KiB
            drive.write_record(bytes(64 * 1024))
        assert not drive.status().early_warning
        drive.write_record(bytes(64 * 1024))
        assert drive.status().early_warning
    with library.open_drive(1, record_size=512) as drive:  # a caller may still ask another
        assert drive.record_size == 512


def test_a_scsi_target_with_several_drives_and_its_record_size(tmp_path: Path) -> None:
    config = target(
        tmp_path, drives=["/dev/nst0", "/dev/nst1"], changer="/dev/sg3", record_size="1MiB"
    )
    library = open_library(config)
    assert isinstance(library, LinuxTapeLibrary)
    assert (library.drives, library.record_size) == (("/dev/nst0", "/dev/nst1"), 1024**2)
    with pytest.raises(NoSuchElement, match=r"no drive 2 is configured \(/dev/nst0, /dev/nst1\)"):
        library.open_drive(2)
