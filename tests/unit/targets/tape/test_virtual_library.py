"""What only the virtual library has: its folder, its state file, its locks across real
processes, and the operator's hands."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from drorch.targets.tape.errors import (
    BlankCheck,
    DriveBusy,
    ElementFull,
    LibraryStateError,
)
from drorch.targets.tape.virtual import VirtualDrive, VirtualLibrary, barcode_series
from drorch.targets.tape.virtual.cartridge import IOV_MAX, _pwritev_all, _skip
from drorch.targets.tape.virtual.library import EARLY_WARNING_SHARE
from tests.unit.targets.tape.conftest import make_library


def run_python(code: str, *, wait: bool = True) -> subprocess.Popen[str]:
    """Another process, as a second drorch would be."""
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if wait:
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    return child


def test_a_new_library_has_a_blank_file_per_data_cartridge_and_a_state_file(
    tmp_path: Path,
) -> None:
    library = make_library(tmp_path / "vtl")
    files = sorted(path.name for path in library.folder.iterdir())
    assert files == ["DRO001L8.aws", "DRO002L8.aws", "DRO003L8.aws", "library.json"]
    assert library.cartridge_path("DRO001L8").stat().st_size == 0
    state = json.loads((library.folder / "library.json").read_text())
    assert (state["format"], state["version"]) == ("drorch-virtual-tape-library", 1)
    assert [slot["number"] for slot in state["slots"]] == list(range(1, 9))
    assert [slot["number"] for slot in state["slots"] if slot["import_export"]] == [7, 8]
    assert state["drives"][1] == {
        "number": 1, "barcode": None, "source_slot": None, "ejected": False, "position": 0
    }  # fmt: skip


def test_default_labels_and_early_warning(tmp_path: Path) -> None:
    library = VirtualLibrary.create(tmp_path / "vtl", slots=3, capacity=5_000_000)
    assert library.changer().inventory().barcodes() == ("DRO001L8", "DRO002L8", "DRO003L8")
    assert barcode_series(2, prefix="PAY", suffix="L9") == ["PAY001L9", "PAY002L9"]
    state = json.loads((library.folder / "library.json").read_text())
    assert state["cartridges"]["DRO001L8"]["early_warning"] == 5_000_000 // EARLY_WARNING_SHARE


def test_a_library_is_never_created_over_another_or_over_stray_files(tmp_path: Path) -> None:
    library = make_library(tmp_path / "vtl")
    with pytest.raises(LibraryStateError, match="already holds"):
        make_library(library.folder)
    (library.folder / "library.json").unlink()
    with pytest.raises(LibraryStateError, match="not starting a new library"):
        VirtualLibrary.open_or_create(library.folder, slots=4, capacity=1_000_000)
    created = VirtualLibrary.open_or_create(tmp_path / "new", slots=2, capacity=1_000_000)
    assert VirtualLibrary.open_or_create(created.folder, slots=9, capacity=1) == created


def test_the_state_file_is_replaced_whole(library: VirtualLibrary) -> None:
    changer = library.changer()
    for _ in range(3):
        changer.transfer(1, 5)
        changer.transfer(5, 1)
    assert not [path for path in library.folder.iterdir() if path.name.endswith(".tmp")]
    json.loads((library.folder / "library.json").read_text())


def test_a_damaged_state_file_is_refused_with_the_reason(library: VirtualLibrary) -> None:
    path = library.folder / "library.json"
    state = json.loads(path.read_text())
    state["slots"][4]["barcode"] = "DRO001L8"
    path.write_text(json.dumps(state))
    with pytest.raises(LibraryStateError, match="DRO001L8 is in two places"):
        library.changer().inventory()
    path.write_text("{")
    with pytest.raises(LibraryStateError, match="not JSON"):
        library.changer()


def test_a_drive_open_in_another_process_is_busy_and_names_it(library: VirtualLibrary) -> None:
    holder = run_python(
        f"""
        import sys
        from pathlib import Path
        from drorch.targets.tape.virtual import VirtualDrive
        drive = VirtualDrive(Path({str(library.folder)!r}), 0)
        print("open", flush=True)
        sys.stdin.readline()
        """,
        wait=False,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "open\n"
    with pytest.raises(DriveBusy, match=f"pid {holder.pid}") as busy:
        library.drive(0)
    assert busy.value.holder_pid == holder.pid
    library.drive(1).close()  # the other drive is free
    holder.communicate("\n", timeout=60)
    library.drive(0).close()  # free again once the holder is gone


def test_a_cartridge_written_by_one_process_reads_in_the_next(library: VirtualLibrary) -> None:
    library.changer().load(2, 0)
    run_python(
        f"""
        from pathlib import Path
        from drorch.targets.tape.virtual import VirtualDrive
        with VirtualDrive(Path({str(library.folder)!r}), 0) as drive:
            drive.write_record(b"from the other process")
            drive.weof()
        """
    )
    with library.drive(0) as drive:
        assert drive.tell() == 2
        drive.rewind()
        assert drive.read_record() == b"from the other process"


def test_a_process_that_died_with_the_drive_open_leaves_the_head_at_bot(
    library: VirtualLibrary, caplog: pytest.LogCaptureFixture
) -> None:
    library.changer().load(1, 0)
    run_python(
        f"""
        import os
        from pathlib import Path
        from drorch.targets.tape.virtual import VirtualDrive
        drive = VirtualDrive(Path({str(library.folder)!r}), 0)
        drive.write_record(b"before the crash")
        os._exit(0)
        """
    )
    with caplog.at_level(logging.WARNING), library.drive(0) as drive:
        assert drive.tell() == 0
        assert drive.read_record() == b"before the crash"
        with pytest.raises(BlankCheck):  # no filemark: nobody closed the file
            drive.read_record()
    assert "died" in caplog.text


def test_a_drive_open_here_follows_the_changer(library: VirtualLibrary) -> None:
    changer = library.changer()
    changer.load(1, 0)
    with library.drive(0) as drive:
        drive.write_record(b"on DRO001L8")
        drive.unload()
        changer.unload(0)
        changer.load(2, 0)
        assert drive.status().bot
        drive.write_record(b"on DRO002L8")
    assert library.cartridge_path("DRO002L8").read_bytes().endswith(b"on DRO002L8\0\0\x0b\0\x40\0")


def test_the_operator_takes_cartridges_out_and_puts_them_back(library: VirtualLibrary) -> None:
    changer = library.changer()
    changer.transfer(2, 7)
    assert library.remove(7) == "DRO002L8"
    assert "DRO002L8" not in changer.inventory().barcodes()
    assert library.cartridge_path("DRO002L8").exists()  # on a shelf, not destroyed
    library.insert("DRO002L8", 8)
    library.insert("NEW001L8", 7)
    assert changer.inventory().slot(7).barcode == "NEW001L8"
    assert library.cartridge_path("NEW001L8").stat().st_size == 0
    with pytest.raises(LibraryStateError, match="already in the library"):
        library.insert("DRO001L8", 5)
    with pytest.raises(ElementFull):
        library.insert("NEW002L8", 1)


def test_write_protection_is_a_flag_of_the_cartridge(library: VirtualLibrary) -> None:
    library.set_write_protect("DRO003L8")
    state = json.loads((library.folder / "library.json").read_text())
    assert state["cartridges"]["DRO003L8"]["write_protected"] is True
    library.set_write_protect("DRO003L8", False)
    state = json.loads((library.folder / "library.json").read_text())
    assert state["cartridges"]["DRO003L8"]["write_protected"] is False


def test_status_counts_files_and_records_at_every_position(library: VirtualLibrary) -> None:
    """The drive keeps its filemarks indexed rather than walking the tape on every status:
    the counts stay right where a write in the middle cut the tape, and after a reopen."""

    def expected(layout: list[str], position: int) -> tuple[int, int]:
        before = layout[:position]
        marks = [index for index, kind in enumerate(before) if kind == "mark"]
        return len(marks), position - (marks[-1] + 1 if marks else 0)

    def check_every_position(drive: VirtualDrive, layout: list[str]) -> None:
        for position in range(len(layout) + 1):
            drive.seek(position)
            status = drive.status()
            assert (status.file_number, status.block_number) == expected(layout, position)

    library.changer().load(2, 0)
    layout = ["record", "record", "mark", "mark", "record", "mark", "record", "record"]
    with library.drive(0) as drive:
        for kind in layout:
            if kind == "record":
                drive.write_record(b"r" * 512)
            else:
                drive.weof()
        check_every_position(drive, [*layout, "mark"])  # the seek ends the file first
        drive.seek(4)  # a write in the middle: the marks after it are gone
        drive.write_record(b"n" * 512)
        drive.write_record(b"n" * 512)
        layout = [*layout[:4], "record", "record"]
        assert (drive.status().file_number, drive.status().block_number) == (2, 2)
        drive.seek(3)
        layout.append("mark")
        check_every_position(drive, layout)
    with library.drive(0) as drive:
        check_every_position(drive, layout)


def test_what_a_short_write_left_is_written_from_the_byte_it_stopped_at() -> None:
    parts: list[bytes | memoryview] = [b"abc", memoryview(b"defgh"), b"ij"]
    for count in range(11):  # a pwritev that took `count` bytes of them
        assert b"".join(bytes(part) for part in _skip(parts, count)) == b"abcdefghij"[count:]


def test_more_parts_than_one_pwritev_takes_are_all_written(tmp_path: Path) -> None:
    parts: list[bytes | memoryview] = [bytes([n % 251]) * 3 for n in range(2 * IOV_MAX + 5)]
    fd = os.open(tmp_path / "file", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _pwritev_all(fd, parts, 3 * len(parts), 10)
    finally:
        os.close(fd)
    assert (tmp_path / "file").read_bytes() == bytes(10) + b"".join(parts)
