"""The write path's plumbing: files read straight into reused record buffers, hashed in a
thread of its own. A buffer must not be reused before its bytes were hashed, and the
bytes on tape must be what tarfile itself writes."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import time
from pathlib import Path

import pytest

from drorch.targets.tape.format.archive import ArchiveWriter
from drorch.targets.tape.format.hashing import HashThread
from drorch.targets.tape.format.records import RecordWriter
from drorch.targets.tape.virtual import VirtualDrive
from tests.unit.targets.tape.format_rig import RECORD, loaded_library, open_drive, random_tree


def raw_records(drive: VirtualDrive) -> list[bytes]:
    drive.rewind()
    records = []
    while record := drive.read_record():
        records.append(record)
    return records


class SlowDigest:
    """Keeps a copy of what it is given, slowly: a buffer reused too early shows."""

    def __init__(self) -> None:
        self.seen = bytearray()

    def update(self, data: memoryview, /) -> None:
        time.sleep(0.002)
        self.seen += data


@pytest.mark.parametrize(("depth", "batch"), [(1, 1), (2, 1), (4, 1), (1, 3), (2, 3)])
def test_a_record_buffer_is_reused_only_once_its_bytes_are_hashed(
    tmp_path: Path, depth: int, batch: int
) -> None:
    library = loaded_library(tmp_path / "vtl")
    data = random_tree(tmp_path, {"source": 7 * RECORD + 1234})["source"]
    digest = SlowDigest()
    with open_drive(library) as drive:
        records = RecordWriter(drive, RECORD, stop_at_early_warning=True, depth=depth, batch=batch)
        records.write(b"h" * 700)  # a header before the data: records straddle it
        with (tmp_path / "source").open("rb", buffering=0) as source, HashThread() as hasher:
            assert records.write_from(source, len(data), digest, hasher) == len(data)
            hasher.wait()
        records.finish()
        drive.weof()
        on_tape = b"".join(raw_records(drive))
    assert bytes(digest.seen) == data
    assert on_tape == (b"h" * 700 + data).ljust(8 * RECORD, b"\0")


def test_write_from_stops_where_the_source_ends(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    data = random_tree(tmp_path, {"source": 3 * RECORD})["source"]
    digest = hashlib.sha256()
    with open_drive(library) as drive, HashThread() as hasher:
        records = RecordWriter(drive, RECORD, stop_at_early_warning=True)
        assert records.write_from(io.BytesIO(data), 5 * RECORD, digest, hasher) == len(data)
        hasher.wait()
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_the_hash_thread_runs_jobs_in_order_and_raises_what_failed() -> None:
    seen: list[str] = []
    digest = hashlib.sha256()
    with HashThread() as hasher:
        hasher.update(digest, memoryview(b"a" * 5000))
        hasher.then(lambda: seen.append(digest.hexdigest()))
        hasher.update(digest, memoryview(b"b" * 5000))
        hasher.wait()
        assert seen == [hashlib.sha256(b"a" * 5000).hexdigest()]
        assert digest.hexdigest() == hashlib.sha256(b"a" * 5000 + b"b" * 5000).hexdigest()

        class Broken:
            def update(self, data: memoryview, /) -> None:
                raise ValueError("broken digest")

        hasher.update(Broken(), memoryview(b"x"))
        with pytest.raises(ValueError, match="broken digest"):
            hasher.wait()


# sizes around the tar block and the record, a name that needs a pax header
SIZES = {
    "config": 155,
    "keys/empty": 0,
    "data/ab/ab01": 511,
    "data/ab/ab02": 512,
    "data/ab/ab03": 513,
    "data/cd/cd01": RECORD - 512,
    "data/cd/cd02": RECORD,
    "data/cd/cd03": 3 * RECORD + 77,
    "index/" + "é" * 120: 20_000,
}


# tarfile pads its end to 10240 bytes before the record is padded: with 13,312 bytes of
# data and the 3-byte note the archive ends 512 bytes short of a record, and tarfile's
# padding adds a record
@pytest.mark.parametrize("sizes", [SIZES, {"data/ab/ab01": 13_312}], ids=["many", "one"])
def test_the_archive_on_tape_is_byte_for_byte_what_tarfile_writes(
    tmp_path: Path, sizes: dict[str, int]
) -> None:
    contents = random_tree(tmp_path / "repo", sizes)
    library = loaded_library(tmp_path / "vtl")
    with open_drive(library) as drive:
        with ArchiveWriter(drive) as writer:
            members = [writer.add_file(name, tmp_path / "repo" / name) for name in sizes]
            mtimes = {name: int((tmp_path / "repo" / name).stat().st_mtime) for name in sizes}
            writer.add_bytes("DRORCH-NOTE.json", b"{}\n", mtime=1_700_000_000)
            archive = writer.finish()
        records = raw_records(drive)
    expected = io.BytesIO()
    with tarfile.TarFile(
        fileobj=expected, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8"
    ) as tar:
        for name, data in [*contents.items(), ("DRORCH-NOTE.json", b"{}\n")]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            info.mtime = mtimes.get(name, 1_700_000_000)
            tar.addfile(info, io.BytesIO(data))
    stream = expected.getvalue()
    stream += bytes(-len(stream) % RECORD)
    assert b"".join(records) == stream
    assert archive.records == len(records) == len(stream) // RECORD
    assert [m.sha256 for m in members] == [
        hashlib.sha256(data).hexdigest() for data in contents.values()
    ]


def test_no_hash_thread_outlives_an_archive_cut_by_the_early_warning(tmp_path: Path) -> None:
    # the early warning 3 records before the end of 12: a 20-record file is cut while
    # its data streams through the hash thread
    library = loaded_library(
        tmp_path / "vtl", capacity=12 * (RECORD + 6), early_warning=3 * (RECORD + 6)
    )
    random_tree(tmp_path / "repo", {"config": 100, "data/ab/ab01": 20 * RECORD})
    before = threading.active_count()
    with open_drive(library) as drive:
        with ArchiveWriter(drive) as writer:
            writer.add_file("config", tmp_path / "repo" / "config")
            with pytest.raises(Exception, match="early warning while writing data/ab/ab01"):
                writer.add_file("data/ab/ab01", tmp_path / "repo" / "data/ab/ab01")
        assert threading.active_count() == before
        assert (drive.status().file_number, drive.status().block_number) == (0, 0)
        with ArchiveWriter(drive) as writer:  # the next archive takes its place, whole
            member = writer.add_file("config", tmp_path / "repo" / "config")
            writer.finish()
    assert member.sha256 == hashlib.sha256((tmp_path / "repo" / "config").read_bytes()).hexdigest()
    assert threading.active_count() == before
