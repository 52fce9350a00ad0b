"""One tape file as a byte stream: fixed records out, records in.

A writer cuts the bytes it is given into records of exactly `record_size` bytes and pads
the last one with zeros to the full size, as tar's blocking does, so that `tar -b N`
(N = record_size / 512) reads every record of the file with one read(2). A reader hands
back the bytes of the records up to the filemark that ends the file.
"""

from __future__ import annotations

from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import BlankCheck
from drorch.targets.tape.format.errors import TapeFormatError

TAR_BLOCK = 512


class EarlyWarning(TapeFormatError):
    """Internal: a record before the last of a file was written in the early-warning zone."""


def check_record_size(record_size: int) -> None:
    if record_size < TAR_BLOCK or record_size % TAR_BLOCK:
        raise TapeFormatError(
            f"a record on tape holds whole tar blocks of {TAR_BLOCK} bytes; {record_size} does not"
        )


class RecordWriter:
    """A write-only stream over the drive, from its head; `finish()` writes the last record.

    With `stop_at_early_warning`, each record is followed by a look at the drive's status;
    once in the early-warning zone, the next record is refused (EarlyWarning): a file whose
    last record reached the zone is whole. `records` counts the records written.
    """

    def __init__(self, drive: Drive, record_size: int, *, stop_at_early_warning: bool) -> None:
        check_record_size(record_size)
        self.drive = drive
        self.record_size = record_size
        self.stop_at_early_warning = stop_at_early_warning
        self.records = 0
        self._pending = bytearray()
        self._accepted = 0
        self.early_warning = False

    def tell(self) -> int:
        """Bytes accepted so far (tarfile asks)."""
        return self._accepted

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        if self._pending:
            take = min(self.record_size - len(self._pending), size)
            self._pending += view[:take]
            view = view[take:]
            if len(self._pending) == self.record_size:
                self._emit(bytes(self._pending))
                self._pending.clear()
        while len(view) >= self.record_size:
            self._emit(view[: self.record_size].tobytes())
            view = view[self.record_size :]
        self._pending += view
        self._accepted += size
        return size

    def finish(self) -> None:
        """Write what is pending as the file's last record, padded with zeros."""
        if self._pending:
            self._pending += bytes(self.record_size - len(self._pending))
            self._emit(bytes(self._pending))
            self._pending.clear()

    def _emit(self, record: bytes) -> None:
        if self.early_warning:
            raise EarlyWarning(f"early warning after record {self.records} of the file")
        self.drive.write_record(record)
        self.records += 1
        self.early_warning = self.stop_at_early_warning and self.drive.status().early_warning


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
