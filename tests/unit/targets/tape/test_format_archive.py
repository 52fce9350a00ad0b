"""Tape files 1 and on: pax tar archives of repository files in fixed records, read back
with their checksums; a corrupted record and the end of a cartridge, caught by type."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from drorch.targets.tape.format.archive import Archive, ArchiveWriter, extract, position
from drorch.targets.tape.format.errors import (
    ArchiveInterrupted,
    ChecksumMismatch,
    MemberMissing,
    UnsafeMemberPath,
)
from drorch.targets.tape.format.label import write_label
from drorch.targets.tape.virtual import VirtualDrive
from tests.unit.targets.tape.format_rig import (
    BARCODE,
    RECORD,
    a_label,
    loaded_library,
    open_drive,
    random_tree,
)

SIZES = {
    "config": 155,
    "keys/0a1b": 0,
    "data/ab/ab01": 511,
    "data/ab/ab02": 512,
    "data/cd/cd01": RECORD,
    "data/cd/cd02": 3 * RECORD + 77,
    "index/ef01": 20_000,
}


def write_archive(drive: VirtualDrive, repository: Path, names: list[str]) -> Archive:
    with ArchiveWriter(drive) as writer:
        for name in names:
            writer.add_file(name, repository / name)
        return writer.finish()


def raw_file(drive: VirtualDrive, number: int) -> list[bytes]:
    position(drive, number)
    records = []
    while record := drive.read_record():
        records.append(record)
    return records


def test_archives_read_back_byte_identical_with_their_checksums(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    contents = random_tree(tmp_path / "repo", SIZES)
    names = list(SIZES)
    with open_drive(library) as drive:
        write_label(drive, a_label())
        first = write_archive(drive, tmp_path / "repo", names[:4])
        second = write_archive(drive, tmp_path / "repo", names[4:])
        assert (first.file_number, second.file_number) == (1, 2)
        for archive in (first, second):
            for member in archive.members:
                data = contents[member.path]
                assert (member.size, member.sha256, member.file_number) == (
                    len(data),
                    hashlib.sha256(data).hexdigest(),
                    archive.file_number,
                )
        extracted = extract(drive, 2, second.members, tmp_path / "out", barcode=BARCODE)
        extracted += extract(drive, 1, first.members, tmp_path / "out", barcode=BARCODE)
    assert sorted(path.relative_to(tmp_path / "out").as_posix() for path in extracted) == sorted(
        names
    )
    for name, data in contents.items():
        assert (tmp_path / "out" / name).read_bytes() == data
    assert not list((tmp_path / "out").rglob("*.partial"))


def test_every_record_is_full_size_and_the_file_is_a_pax_tar(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    contents = random_tree(tmp_path / "repo", SIZES)
    with open_drive(library) as drive:
        written = write_archive(drive, tmp_path / "repo", list(SIZES))
        records = raw_file(drive, 0)
    assert written.records == len(records)
    assert {len(record) for record in records} == {RECORD}  # the last one padded too
    stream = b"".join(records)
    with tarfile.open(fileobj=io.BytesIO(stream), mode="r:") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == list(SIZES)
        for member in members:
            handle = tar.extractfile(member)
            assert handle is not None and handle.read() == contents[member.name]
    assert [m.offset for m in written.members] == [m.offset for m in members]


def test_only_the_chosen_members_are_extracted(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    contents = random_tree(tmp_path / "repo", SIZES)
    with open_drive(library) as drive:
        written = write_archive(drive, tmp_path / "repo", list(SIZES))
        chosen = [m for m in written.members if m.path == "data/cd/cd02"]
        extract(drive, 0, chosen, tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
            if p.is_file()] == ["data/cd/cd02"]  # fmt: skip
    assert (tmp_path / "out/data/cd/cd02").read_bytes() == contents["data/cd/cd02"]


def test_a_member_the_archive_lacks_is_named(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    random_tree(tmp_path / "repo", SIZES)
    with open_drive(library) as drive:
        written = write_archive(drive, tmp_path / "repo", ["config"])
        ghost = written.members[0].__class__("data/zz/zz01", 1, "0" * 64, 0, 0)
        with pytest.raises(MemberMissing, match="data/zz/zz01"):
            extract(drive, 0, [ghost], tmp_path / "out")


def test_a_flipped_byte_on_the_cartridge_is_a_checksum_mismatch(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    contents = random_tree(tmp_path / "repo", SIZES)
    with open_drive(library) as drive:
        write_label(drive, a_label())
        written = write_archive(drive, tmp_path / "repo", list(SIZES))
    cartridge = library.cartridge_path(BARCODE)
    raw = bytearray(cartridge.read_bytes())
    victim = contents["data/cd/cd02"]
    spot = raw.index(victim[2 * RECORD : 2 * RECORD + 64]) + 10  # in the member's 3rd record
    raw[spot] ^= 0xFF
    cartridge.write_bytes(bytes(raw))
    with open_drive(library) as drive, pytest.raises(ChecksumMismatch) as caught:
        extract(drive, 1, written.members, tmp_path / "out", barcode=BARCODE)
    error = caught.value
    assert (error.member, error.file_number) == ("data/cd/cd02", 1)
    assert f"{BARCODE} tape file 1 records" in str(error)
    assert error.records.start <= 2 + len(error.records)  # the records the member spans
    assert not (tmp_path / "out/data/cd/cd02").exists()
    assert not list((tmp_path / "out").rglob("*.partial"))


@pytest.mark.parametrize("path", ["/etc/passwd", "../escape", "data/../../x", "", "a//b", "./c"])
def test_a_member_path_must_stay_in_the_repository(tmp_path: Path, path: str) -> None:
    library = loaded_library(tmp_path / "vtl")
    (tmp_path / "file").write_bytes(b"x")
    with open_drive(library) as drive, ArchiveWriter(drive) as writer:
        with pytest.raises(UnsafeMemberPath):
            writer.add_file(path, tmp_path / "file")
        writer.finish()


# 8 records of data after the label, the early warning 3 records before the end
SMALL = 12 * (RECORD + 6)
WARNING = 3 * (RECORD + 6)


@pytest.mark.parametrize(("warning", "cause"), [(WARNING, "early warning"), (0, "end of media")])
def test_the_end_of_a_cartridge_mid_archive_interrupts_it_and_spares_the_earlier_ones(
    tmp_path: Path, warning: int, cause: str
) -> None:
    library = loaded_library(tmp_path / "vtl", capacity=SMALL, early_warning=warning)
    contents = random_tree(tmp_path / "repo", {"config": 100, "data/ab/ab01": 20 * RECORD})
    with open_drive(library) as drive:
        write_label(drive, a_label())
        first = write_archive(drive, tmp_path / "repo", ["config"])
        with pytest.raises(ArchiveInterrupted, match=cause) as caught:
            write_archive(drive, tmp_path / "repo", ["data/ab/ab01"])
        assert (caught.value.file_number, caught.value.member) == (2, "data/ab/ab01")
        assert "tape file 2 is incomplete" in str(caught.value)
        status = drive.status()
        assert (status.file_number, status.block_number) == (2, 0)  # back at its start
        replacement = write_archive(drive, tmp_path / "repo", ["config"])  # replaces it
        assert replacement.file_number == 2
        drive.eom()
        assert drive.status().file_number == 3
        extract(drive, 1, first.members, tmp_path / "out")
    assert (tmp_path / "out/config").read_bytes() == contents["config"]


def test_an_archive_whose_last_record_reaches_the_warning_is_whole(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl", capacity=SMALL, early_warning=WARNING)
    # after the label, the 9th record is the first in the warning zone; an archive of
    # 140,000 bytes is 143,360 bytes of tar (a multiple of 10240): 9 records
    random_tree(tmp_path / "repo", {"data/ab/ab01": 140_000})
    with open_drive(library) as drive:
        write_label(drive, a_label())
        written = write_archive(drive, tmp_path / "repo", ["data/ab/ab01"])
        assert (written.records, written.early_warning) == (9, True)
        extract(drive, 1, written.members, tmp_path / "out")
