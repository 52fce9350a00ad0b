"""The drive contract: what every Drive implementation does, run against each of them.

Each test states one behaviour of a real tape drive under Linux st, so that a drive that
does not truncate after a write in the middle, reads garbage past end of data or loses a
cartridge's contents on reopen fails here.
"""

from __future__ import annotations

import pytest

from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import (
    BeginningOfMedia,
    BlankCheck,
    DriveBusy,
    EndOfMedia,
    FilemarkCrossed,
    NoCartridge,
    RecordSizeError,
    WriteProtected,
)
from tests.unit.targets.tape.conftest import RECORD, DriveRig


def record(label: str, size: int = RECORD) -> bytes:
    """A record that says what it is, padded to `size` bytes."""
    return label.encode().ljust(size, b".")


def write_files(drive: Drive, *files: list[bytes]) -> None:
    for records in files:
        for data in records:
            drive.write_record(data)
        drive.weof()


def read_to_end(drive: Drive) -> list[bytes]:
    """Every object from the head to end of data: records, b"" for filemarks."""
    seen = []
    while True:
        try:
            seen.append(drive.read_record())
        except BlankCheck:
            return seen


THREE_FILES = ([record("f0r0"), record("f0r1", 100)], [record("f1r0")], [record("f2r0")])


def test_a_blank_cartridge_is_at_bot_and_reads_as_end_of_data(drive: Drive) -> None:
    status = drive.status()
    assert (status.loaded, status.bot, status.file_number, status.block_number) == (
        True,
        True,
        0,
        0,
    )
    assert not status.write_protected
    with pytest.raises(BlankCheck):
        drive.read_record()
    assert drive.tell() == 0


def test_records_and_filemarks_read_back_in_order_then_end_of_data(drive: Drive) -> None:
    write_files(drive, *THREE_FILES)
    drive.rewind()
    assert read_to_end(drive) == [
        record("f0r0"), record("f0r1", 100), b"",
        record("f1r0"), b"",
        record("f2r0"), b"",
    ]  # fmt: skip
    assert drive.status().eod
    with pytest.raises(BlankCheck):  # and again: the head stays at end of data
        drive.read_record()


@pytest.mark.parametrize("size", [0, RECORD + 1])
def test_a_record_of_the_wrong_size_is_refused_and_nothing_is_written(
    drive: Drive, size: int
) -> None:
    with pytest.raises(RecordSizeError):
        drive.write_record(b"x" * size)
    assert drive.tell() == 0
    with pytest.raises(BlankCheck):
        drive.read_record()


def test_a_record_larger_than_the_readers_record_size_is_refused(rig: DriveRig) -> None:
    with rig.open(record_size=RECORD) as writer:
        writer.write_record(record("big"))
        writer.weof()
        writer.rewind()
    reader = rig.open(record_size=RECORD // 2)
    with pytest.raises(RecordSizeError):
        reader.read_record()


def test_fsf_goes_to_the_first_record_of_a_later_file(drive: Drive) -> None:
    write_files(drive, *THREE_FILES)
    drive.rewind()
    drive.fsf(2)
    status = drive.status()
    assert (status.eof, status.file_number, status.block_number) == (True, 2, 0)
    assert drive.read_record() == record("f2r0")


def test_fsf_past_the_last_file_stops_at_end_of_data(drive: Drive) -> None:
    write_files(drive, *THREE_FILES)
    drive.rewind()
    with pytest.raises(BlankCheck):
        drive.fsf(4)
    assert drive.status().eod
    assert drive.tell() == 7  # 4 records and 3 filemarks


def test_bsf_stops_before_the_filemark_it_crossed(drive: Drive) -> None:
    write_files(drive, *THREE_FILES)
    drive.rewind()
    drive.fsf(2)  # at the start of file 2
    drive.bsf(1)  # before the filemark that ends file 1
    assert drive.tell() == 4
    assert drive.read_record() == b""
    assert drive.read_record() == record("f2r0")


def test_bsf_at_the_beginning_of_tape_is_refused(drive: Drive) -> None:
    write_files(drive, *THREE_FILES)
    drive.rewind()
    drive.fsf(1)
    with pytest.raises(BeginningOfMedia):
        drive.bsf(2)
    assert drive.tell() == 0
    assert drive.status().bot


def test_fsr_and_bsr_space_over_records_of_a_file(drive: Drive) -> None:
    write_files(drive, [record(f"r{n}") for n in range(4)])
    drive.rewind()
    drive.fsr(3)
    assert drive.read_record() == record("r3")
    drive.bsr(3)
    assert drive.read_record() == record("r1")


def test_fsr_stops_past_a_filemark(drive: Drive) -> None:
    write_files(drive, *THREE_FILES)
    drive.rewind()
    with pytest.raises(FilemarkCrossed):
        drive.fsr(5)
    assert drive.tell() == 3
    assert drive.read_record() == record("f1r0")


def test_bsr_stops_before_a_filemark(drive: Drive) -> None:
    write_files(drive, *THREE_FILES)
    drive.rewind()
    drive.fsf(1)
    with pytest.raises(FilemarkCrossed):
        drive.bsr(2)
    assert drive.tell() == 2
    assert drive.read_record() == b""


def test_a_write_in_the_middle_discards_everything_after_it(drive: Drive) -> None:
    write_files(drive, *THREE_FILES)
    drive.rewind()
    drive.fsf(1)
    write_files(drive, [record("new")])
    drive.rewind()
    assert read_to_end(drive) == [record("f0r0"), record("f0r1", 100), b"", record("new"), b""]
    drive.eom()
    assert drive.tell() == 5


def test_what_a_write_in_the_middle_discarded_stays_gone_after_a_reopen(rig: DriveRig) -> None:
    with rig.open() as drive:
        write_files(drive, *THREE_FILES)
        drive.rewind()
        drive.fsr(1)
        drive.write_record(record("short"))
        drive.rewind()
    drive = rig.open()
    assert read_to_end(drive) == [record("f0r0"), record("short"), b""]


def test_a_filemark_in_the_middle_discards_everything_after_it(drive: Drive) -> None:
    write_files(drive, *THREE_FILES)
    drive.rewind()
    drive.fsr(1)
    drive.weof()
    drive.rewind()
    assert read_to_end(drive) == [record("f0r0"), b""]


def test_eom_goes_to_end_of_data_ready_to_append(drive: Drive) -> None:
    write_files(drive, *THREE_FILES[:2])
    drive.rewind()
    drive.eom()
    assert drive.status().eod
    write_files(drive, [record("appended")])
    drive.rewind()
    drive.fsf(2)
    assert drive.read_record() == record("appended")
    assert drive.read_record() == b""


def test_tell_and_seek_come_back_to_a_record(drive: Drive) -> None:
    positions = {}
    for name in ("a", "b", "c"):
        positions[name] = drive.tell()
        drive.write_record(record(name))
    drive.weof()
    drive.seek(positions["b"])
    assert drive.tell() == positions["b"] == 1
    assert drive.read_record() == record("b")
    drive.seek(0)
    assert drive.status().bot


def test_seek_past_end_of_data_stops_there(drive: Drive) -> None:
    write_files(drive, [record("a")])
    with pytest.raises(BlankCheck):
        drive.seek(10)
    assert drive.tell() == 2


def test_status_says_bot_and_just_past_a_filemark(drive: Drive) -> None:
    drive.write_record(record("a"))
    assert not drive.status().bot
    drive.weof()
    status = drive.status()
    assert (status.eof, status.file_number, status.block_number) == (True, 1, 0)
    drive.rewind()
    status = drive.status()
    assert (status.bot, status.eof) == (True, False)
    drive.read_record()
    assert (drive.status().file_number, drive.status().block_number) == (0, 1)


def test_rewinding_right_after_a_record_writes_the_filemark_first(drive: Drive) -> None:
    drive.write_record(record("a"))
    drive.rewind()
    assert read_to_end(drive) == [record("a"), b""]


def test_closing_right_after_a_record_writes_the_filemark(rig: DriveRig) -> None:
    with rig.open() as drive:
        drive.write_record(record("a"))
    drive = rig.open()
    drive.rewind()
    assert read_to_end(drive) == [record("a"), b""]


def test_no_second_filemark_when_the_file_was_closed_already(rig: DriveRig) -> None:
    with rig.open() as drive:
        write_files(drive, [record("a")])
        drive.rewind()
    drive = rig.open()
    assert read_to_end(drive) == [record("a"), b""]


def test_the_cartridge_and_the_head_survive_a_reopen(rig: DriveRig) -> None:
    with rig.open() as drive:
        write_files(drive, *THREE_FILES)
        drive.rewind()
        drive.fsf(1)
    drive = rig.open()
    assert drive.tell() == 3  # a non-rewinding device: the tape did not move
    assert drive.read_record() == record("f1r0")


def test_writes_past_the_early_warning_succeed_until_the_end_of_media(drive: Drive) -> None:
    written = []
    warned_at = None
    with pytest.raises(EndOfMedia):
        for number in range(1000):
            drive.write_record(record(f"r{number}"))
            written.append(record(f"r{number}"))
            if warned_at is None and drive.status().early_warning:
                warned_at = number
    assert warned_at is not None and warned_at < len(written) - 1, "no writes after the warning"
    assert len(written) == 64
    drive.rewind()
    assert read_to_end(drive) == [*written, b""]  # no part of the refused record on tape


def test_a_write_that_says_early_warning_says_what_status_says(drive: Drive) -> None:
    answers = []
    with pytest.raises(EndOfMedia):
        for number in range(1000):
            answers.append(drive.write_record_in_early_warning(record(f"r{number}")))
            assert answers[-1] == drive.status().early_warning
    # the five records before the end of media are in the zone (conftest's EARLY_WARNING)
    assert answers == [False] * 59 + [True] * 5
    drive.rewind()
    assert len(read_to_end(drive)) == 64 + 1  # every record written, then end of data


def records_of(*labels: str) -> memoryview:
    return memoryview(b"".join(record(label) for label in labels))


def test_records_written_together_stop_after_the_first_in_the_early_warning_zone(
    drive: Drive,
) -> None:
    # 59 records before the zone (conftest's EARLY_WARNING): a batch of 8 from record 56
    # writes 56-59 and stops, as the records written one by one would have said
    assert drive.write_records(
        records_of(*(f"r{n}" for n in range(56))), RECORD, stop_at_early_warning=True
    ) == (56, False)
    assert drive.write_records(
        records_of(*(f"r{n}" for n in range(56, 64))), RECORD, stop_at_early_warning=True
    ) == (4, True)
    assert drive.status().early_warning
    assert drive.status().block_number == 60
    drive.weof()
    drive.rewind()
    assert read_to_end(drive) == [*(record(f"r{n}") for n in range(60)), b""]


def test_records_written_together_past_the_warning_end_at_the_end_of_media(
    drive: Drive,
) -> None:
    with pytest.raises(EndOfMedia):
        drive.write_records(
            records_of(*(f"r{n}" for n in range(70))), RECORD, stop_at_early_warning=False
        )
    drive.rewind()
    assert read_to_end(drive) == [*(record(f"r{n}") for n in range(64)), b""]


def test_records_written_together_are_the_records_written_one_by_one(rig: DriveRig) -> None:
    labels = [f"r{n}" for n in range(10)]
    stored = []
    for together in (False, True):
        with rig.open() as drive:
            drive.rewind()
            if together:
                drive.write_records(records_of(*labels), RECORD, stop_at_early_warning=True)
            else:
                for label in labels:
                    drive.write_record(record(label))
            drive.weof()
        stored.append(rig.library.cartridge_path("DRO001L8").read_bytes())
    assert stored[0] == stored[1]


def test_a_full_cartridge_still_takes_the_filemark_that_ends_its_file(drive: Drive) -> None:
    with pytest.raises(EndOfMedia):
        for number in range(1000):
            drive.write_record(record(f"r{number}"))
    drive.weof()
    drive.rewind()
    drive.fsf(1)
    assert drive.status().file_number == 1


def test_a_write_protected_cartridge_refuses_writes_and_reads(rig: DriveRig) -> None:
    with rig.open() as drive:
        write_files(drive, [record("kept")])
    rig.library.set_write_protect("DRO001L8")
    drive = rig.open()
    drive.rewind()
    assert drive.status().write_protected
    with pytest.raises(WriteProtected):
        drive.write_record(record("lost"))
    with pytest.raises(WriteProtected):
        drive.weof()
    drive.rewind()
    assert read_to_end(drive) == [record("kept"), b""]


def test_without_a_cartridge_status_says_so_and_operations_refuse(drive: Drive) -> None:
    drive.unload()
    assert not drive.status().loaded
    for operation in (drive.rewind, drive.read_record, lambda: drive.write_record(b"x")):
        with pytest.raises(NoCartridge):
            operation()


def test_load_after_unload_puts_the_cartridge_back_at_bot(drive: Drive) -> None:
    write_files(drive, [record("a")])
    drive.unload()
    drive.load()
    status = drive.status()
    assert (status.loaded, status.bot) == (True, True)
    assert drive.read_record() == record("a")


def test_a_second_opener_is_told_the_drive_is_busy(rig: DriveRig) -> None:
    rig.open()
    with pytest.raises(DriveBusy):
        rig.open()
