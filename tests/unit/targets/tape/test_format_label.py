"""Tape file 0: the label, written and read back; blank and foreign cartridges told apart."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from drorch.targets.tape.format.errors import ForeignLabel, TapeFormatError, UnsupportedFormat
from drorch.targets.tape.format.label import LABEL_NAME, LABEL_RECORD, read_label, write_label
from tests.unit.targets.tape.format_rig import BARCODE, a_label, loaded_library, open_drive


def tar_of(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_label_reads_back_as_written(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    label = a_label(sequence=3)
    with open_drive(library) as drive:
        write_label(drive, label)
        assert drive.status().file_number == 1  # the label's file is closed by a filemark
    with open_drive(library) as drive:
        assert read_label(drive) == label


def test_the_label_is_one_tar_record_that_tarfile_reads(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    with open_drive(library) as drive:
        write_label(drive, a_label())
        drive.rewind()
        record = drive.read_record()
        assert drive.read_record() == b""  # one record, then the filemark
    assert len(record) == LABEL_RECORD
    with tarfile.open(fileobj=io.BytesIO(record)) as tar:
        assert tar.getnames() == [LABEL_NAME]
        member = tar.extractfile(LABEL_NAME)
        assert member is not None
        document = json.loads(member.read())
    assert document == {
        "format": "drorch-tape-label",
        "version": 1,
        "barcode": BARCODE,
        "pool": "weekly",
        "media_set": "6f1c1d2e-8d0a-4c55-9a43-1f2e3d4c5b6a",
        "sequence": 1,
        "written_at": "2026-05-09T07:35:25Z",
        "record_size": 16384,
    }


def test_a_blank_cartridge_has_no_label(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    with open_drive(library) as drive:
        assert read_label(drive) is None


def test_relabelling_starts_the_cartridge_over(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    with open_drive(library) as drive:
        write_label(drive, a_label(sequence=1))
        drive.write_record(b"x" * 16384)
        drive.weof()
        write_label(drive, a_label(sequence=2))
        drive.eom()
        assert drive.status().file_number == 1
        assert read_label(drive) == a_label(sequence=2)


@pytest.mark.parametrize(
    ("file_0", "found"),
    [
        ([b"VOL1FMT001" + b" " * 70], "VOL1FMT001"),  # an ANSI standard label
        ([tar_of("backup.img", b"data")], "first member is 'backup.img'"),
        ([tar_of(LABEL_NAME, b"not json")], "not JSON"),
        ([tar_of(LABEL_NAME, b'{"format": "other"}')], "format is 'other'"),
        ([], "an empty tape file"),
    ],
)
def test_a_foreign_file_0_is_named(tmp_path: Path, file_0: list[bytes], found: str) -> None:
    library = loaded_library(tmp_path / "vtl")
    with open_drive(library) as drive:
        for record in file_0:
            drive.write_record(record)
        drive.weof()
        with pytest.raises(ForeignLabel, match=found) as caught:
            read_label(drive)
    assert "not labelled by drorch" in str(caught.value)


def test_a_newer_label_is_refused_as_unsupported(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    newer = {**a_label().to_json(), "version": 2}
    with open_drive(library) as drive:
        drive.write_record(tar_of(LABEL_NAME, json.dumps(newer).encode()).ljust(10240, b"\0"))
        drive.weof()
        with pytest.raises(UnsupportedFormat, match="version 2"):
            read_label(drive)


def test_a_label_for_another_record_size_is_refused(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    with library.drive(0, record_size=32768) as drive, pytest.raises(TapeFormatError):
        write_label(drive, a_label())
