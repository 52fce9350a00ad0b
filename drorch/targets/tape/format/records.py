"""One tape file as a byte stream: fixed records out, records in.

A writer cuts the bytes it is given into records of exactly `record_size` bytes and pads
the last one with zeros to the full size, as tar's blocking does, so that `tar -b N`
(N = record_size / 512) reads every record of the file with one read(2). A reader hands
back the bytes of the records up to the filemark that ends the file.
"""

from __future__ import annotations

from functools import partial
from queue import SimpleQueue
from typing import Protocol

from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import BlankCheck
from drorch.targets.tape.format.errors import TapeFormatError
from drorch.targets.tape.format.hashing import Digest, HashThread

TAR_BLOCK = 512
BATCH = 2  # records per buffer (512 KiB: about a core's L2), to the drive in one call
DEPTH = 8  # buffers at most per writer: 4 MiB of 256 KiB records


class EarlyWarning(TapeFormatError):
    """Internal: a record before the last of a file was written in the early-warning zone."""


def check_record_size(record_size: int) -> None:
    if record_size < TAR_BLOCK or record_size % TAR_BLOCK:
        raise TapeFormatError(
            f"a record on tape holds whole tar blocks of {TAR_BLOCK} bytes; {record_size} does not"
        )


class Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class RecordWriter:
    """A write-only stream over the drive, from its head; `finish()` writes the last record.

    Records are cut in a few reused buffers of `batch` records each: `write` copies small
    things (tar headers, padding) in, `write_from` reads a file straight into them, and
    each full buffer goes to the drive in one call (Drive.write_records: one pwritev on the
    virtual drive, one write(2) per record on st). `depth` buffers at most: one being
    filled, the others written and waiting for the hash thread, whose pace varies with what
    else the machine runs. With `stop_at_early_warning`, once a record is in the
    early-warning zone, the next record is refused (EarlyWarning): a file whose last record
    reached the zone is whole. `records` counts the records written.
    """

    def __init__(
        self,
        drive: Drive,
        record_size: int,
        *,
        stop_at_early_warning: bool,
        depth: int = DEPTH,
        batch: int = BATCH,
    ) -> None:
        check_record_size(record_size)
        self.drive = drive
        self.record_size = record_size
        self.stop_at_early_warning = stop_at_early_warning
        self.records = 0
        self.early_warning = False
        self._accepted = 0
        self._size = record_size * max(1, batch)  # bytes in one buffer
        self._depth = max(1, depth)
        self._made = 0
        self._free: SimpleQueue[bytearray] = SimpleQueue()
        self._buffer = self._next_buffer()
        self._filled = 0
        self._hasher: HashThread | None = None  # while write_from runs

    def tell(self) -> int:
        """Bytes accepted so far."""
        return self._accepted

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        while view:
            take = min(self._size - self._filled, len(view))
            self._buffer[self._filled : self._filled + take] = view[:take]
            self._advance(take)
            view = view[take:]
        return size

    def write_zeros(self, count: int) -> None:
        while count:
            take = min(self._size - self._filled, count)
            self._buffer[self._filled : self._filled + take] = bytes(take)
            self._advance(take)
            count -= take

    def write_from(self, source: Readable, size: int, digest: Digest, hasher: HashThread) -> int:
        """Read up to `size` bytes of `source` straight into the records, `digest` updated
        with them by `hasher`; the bytes read (fewer when the source ended first). The
        digest is whole once `hasher.wait()` returns."""
        done = 0
        self._hasher = hasher
        try:
            while done < size:
                take = min(self._size - self._filled, size - done)
                view = memoryview(self._buffer)[self._filled : self._filled + take]
                count = source.readinto(view) or 0
                if count == 0:
                    break
                hasher.update(digest, view[:count])
                done += count
                self._advance(count)
        finally:
            self._hasher = None
        return done

    def finish(self) -> None:
        """Write what is pending, the file's last record padded with zeros."""
        if self._filled % self.record_size:
            self.write_zeros(self.record_size - self._filled % self.record_size)
        if self._filled:
            self._emit()

    def _advance(self, count: int) -> None:
        self._filled += count
        self._accepted += count
        if self._filled == self._size:
            self._emit()

    def _emit(self) -> None:
        if self.early_warning:
            raise EarlyWarning(f"early warning after record {self.records} of the file")
        buffer = self._buffer
        # a reused bytearray, not bytes: a copy would cost as much as the write; every
        # drive hands the records to os.write/pwritev and keeps no reference to them
        count = self._filled // self.record_size
        written, self.early_warning = self.drive.write_records(
            memoryview(buffer)[: self._filled],
            self.record_size,
            stop_at_early_warning=self.stop_at_early_warning,
        )
        self.records += written
        if written < count:
            raise EarlyWarning(f"early warning after record {self.records} of the file")
        if self._hasher is None:
            self._free.put(buffer)
        else:  # reused once the spans of it given to the hasher are hashed
            self._hasher.then(partial(self._free.put, buffer))
        self._buffer, self._filled = self._next_buffer(), 0

    def _next_buffer(self) -> bytearray:
        if self._made < self._depth and self._free.empty():
            self._made += 1
            return bytearray(self._size)
        return self._free.get()


class RecordReader:
    """A read-only stream of the records from the head to the next filemark (or end of
    data). `records` counts the records read; `first` is a record already read from the
    drive, handed back before the next ones."""

    def __init__(self, drive: Drive, first: bytes | None = None) -> None:
        self.drive = drive
        self.records = 0
        self.at_end = False
        self._record = memoryview(b"")
        if first is not None:
            self._take(first)

    def read(self, size: int = -1) -> bytes:
        if not self._record:
            if self.at_end:
                return b""
            try:
                record = self.drive.read_record()
            except BlankCheck:
                record = b""
            self._take(record)
            if self.at_end:
                return b""
        if size < 0 or size >= len(self._record):
            chunk, self._record = self._record, memoryview(b"")
        else:
            chunk, self._record = self._record[:size], self._record[size:]
        return chunk.tobytes()

    def _take(self, record: bytes) -> None:
        if record:
            self.records += 1
            self._record = memoryview(record)
        else:
            self.at_end = True
