"""The cartridge files are AWSTAPE, proven from outside: exact bytes where the format fixes
them, and a reader written here from the format's description alone (Hercules tapedev.h:
a 6-byte header per segment, lengths little-endian, flags 0x80 new record, 0x40 tapemark,
0x20 end of record), which must find every record and filemark a drive wrote."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from drorch.targets.tape import awstape
from drorch.targets.tape.errors import TapeIOError
from drorch.targets.tape.virtual import VirtualLibrary


def independent_read(path: Path) -> list[list[bytes]]:
    """The tape files of an AWSTAPE file, each a list of records; end of file is EOD."""
    data = path.read_bytes()
    files: list[list[bytes]] = [[]]
    record = b""
    previous = 0
    offset = 0
    while offset < len(data):
        length, before, flags, zero = struct.unpack_from("<HHBB", data, offset)
        assert before == previous, f"previous length wrong at {offset}"
        assert zero == 0
        offset += 6
        if flags == 0x40:
            assert length == 0 and record == b""
            files.append([])
        else:
            assert bool(flags & 0x80) == (record == b""), f"new-record flag wrong at {offset}"
            record += data[offset : offset + length]
            if flags & 0x20:
                files[-1].append(record)
                record = b""
        offset += length
        previous = length
    assert record == b"", "the file ends inside a record"
    return files


def loaded(tmp_path: Path, *, capacity: int = 10_000_000) -> VirtualLibrary:
    library = VirtualLibrary.create(tmp_path / "vtl", slots=2, capacity=capacity)
    library.changer().load(1, 0)
    return library


def test_a_short_record_and_a_filemark_have_the_exact_bytes(tmp_path: Path) -> None:
    library = loaded(tmp_path)
    with library.drive(0) as drive:
        drive.write_record(b"abc")
        drive.weof()
    assert library.cartridge_path("DRO001L8").read_bytes() == bytes.fromhex(
        "0300 0000 a0 00" "616263"  # 3 bytes, previous 0, new+end of record
        "0000 0300 40 00"  # tapemark, previous segment 3 bytes
    )  # fmt: skip


def test_a_record_over_64_kib_is_split_into_chained_segments(tmp_path: Path) -> None:
    library = loaded(tmp_path)
    data = os.urandom(70_000)
    with library.drive(0, record_size=256 * 1024) as drive:
        drive.write_record(data)
        drive.weof()
    raw = library.cartridge_path("DRO001L8").read_bytes()
    assert raw[:6] == struct.pack("<HHBB", 65535, 0, 0x80, 0)
    second = 6 + 65535
    assert raw[second : second + 6] == struct.pack("<HHBB", 70_000 - 65535, 65535, 0x20, 0)
    assert raw[-6:] == struct.pack("<HHBB", 0, 70_000 - 65535, 0x40, 0)
    assert independent_read(library.cartridge_path("DRO001L8")) == [[data], []]


def test_an_independent_reader_finds_every_record_and_filemark(tmp_path: Path) -> None:
    library = loaded(tmp_path)
    files = [[os.urandom(256 * 1024), os.urandom(1000)], [os.urandom(300_000 // 2)], []]
    with library.drive(0, record_size=256 * 1024) as drive:
        for records in files:
            for data in records:
                drive.write_record(data)
            drive.weof()
    assert independent_read(library.cartridge_path("DRO001L8")) == [*files, []]


def test_a_write_in_the_middle_shortens_the_file(tmp_path: Path) -> None:
    library = loaded(tmp_path)
    with library.drive(0) as drive:
        for name in (b"one", b"two", b"three"):
            drive.write_record(name)
            drive.weof()
        drive.rewind()
        drive.fsf(1)
        drive.write_record(b"2")
        drive.weof()
    path = library.cartridge_path("DRO001L8")
    assert independent_read(path) == [[b"one"], [b"2"], []]
    assert path.stat().st_size == 2 * (6 + 6) + 3 + 1


def test_a_cartridge_file_never_grows_past_its_capacity(tmp_path: Path) -> None:
    library = loaded(tmp_path, capacity=100_000)
    with library.drive(0) as drive:
        for _ in range(200):
            try:
                drive.write_record(os.urandom(4096))
            except Exception:
                break
    assert library.cartridge_path("DRO001L8").stat().st_size <= 100_000


def test_a_torn_last_write_is_end_of_data_and_the_next_write_replaces_it(tmp_path: Path) -> None:
    library = loaded(tmp_path)
    path = library.cartridge_path("DRO001L8")
    with library.drive(0) as drive:
        drive.write_record(b"whole")
        drive.weof()
    with path.open("ab") as torn:  # a crash in the middle of writing a record
        torn.write(struct.pack("<HHBB", 4096, 0, 0xA0, 0) + b"partial")
    fd = os.open(path, os.O_RDONLY)
    try:
        scanned = awstape.scan(fd, path.stat().st_size)
    finally:
        os.close(fd)
    assert (len(scanned.blocks), scanned.torn, scanned.damage) == (2, True, None)
    with library.drive(0) as drive:
        drive.rewind()
        drive.fsf(1)
        drive.write_record(b"after")
        drive.weof()
    assert independent_read(path) == [[b"whole"], [b"after"], []]


def test_headers_that_do_not_chain_are_a_medium_error_where_they_start(tmp_path: Path) -> None:
    library = loaded(tmp_path)
    path = library.cartridge_path("DRO001L8")
    with library.drive(0) as drive:
        for name in (b"first", b"second", b"third"):
            drive.write_record(name)
        drive.weof()
        drive.rewind()
    raw = bytearray(path.read_bytes())
    raw[6 + 5 + 2] = 99  # the second record's "previous length"
    path.write_bytes(bytes(raw))
    with library.drive(0) as drive:
        drive.rewind()
        assert drive.read_record() == b"first"
        with pytest.raises(TapeIOError, match="previous length"):
            drive.read_record()


def test_hercules_tapemap_maps_the_cartridge(tmp_path: Path) -> None:
    """Hercules' own tool (Debian package hercules, which `make test` installs) walks the
    header chain: files end at tapemarks; records up to 64 KiB are one block each, and a
    longer one shows as its segments, as Hercules keeps tape blocks to 65535 bytes
    (MAX_BLKLEN). Skipped with the reason without it, outside CI; under CI it must run."""
    if shutil.which("tapemap") is None:
        if os.environ.get("CI"):
            pytest.fail("tapemap (Debian's hercules) is required under CI: run 'make test'")
        pytest.skip("Debian's hercules is not installed (make test installs it)")
    library = loaded(tmp_path)
    with library.drive(0, record_size=256 * 1024) as drive:
        for size in (100, 200, 300):
            drive.write_record(os.urandom(size))
        drive.weof()
        drive.write_record(os.urandom(65535))
        drive.weof()
        drive.write_record(os.urandom(256 * 1024))
        drive.weof()
    result = subprocess.run(
        ["tapemap", str(library.cartridge_path("DRO001L8"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-4:] == [
        "File 1: Blocks=3, block size min=100, max=300",
        "File 2: Blocks=1, block size min=65535, max=65535",
        "File 3: Blocks=5, block size min=4, max=65535",  # 4 x 65535 + 4 bytes
        "End of tape.",
    ]
