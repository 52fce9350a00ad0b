"""One tape drive: the operations of the Linux st driver, in its words and with its meaning.

A tape is a sequence of objects: records (one write each, at most `record_size` bytes; the
last record of a file may be shorter) and filemarks. A *tape file* is the records between
two filemarks; file 0 starts at the beginning of tape (BOT). End of data (EOD) follows the
last object written. The head sits *between* objects; `tell()` counts the objects before
it, records and filemarks alike, as SCSI READ POSITION does.

Writing anywhere discards everything after the head, as on real tape: a write in the
middle makes its end the new end of data. The last filemark of a session is the caller's
to write (`weof`); like st, a drive writes one itself when it is rewound, spaced back over
a filemark, sought, unloaded or closed right after a record was written, so that a file
is never left open-ended.

Implementations: `drorch.targets.tape.virtual` (cartridges as AWSTAPE files) and
`drorch.targets.tape.st` (a Linux SCSI tape on its non-rewinding device, /dev/nstN).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType

from drorch.targets.tape.errors import RecordSizeError, TapeError

DEFAULT_RECORD_SIZE = 256 * 1024


@dataclass(frozen=True)
class DriveStatus:
    """What the drive reports (st's MTIOCGET), true at the moment it was asked.

    `file_number` and `block_number` are None where the drive does not know them (Linux
    st after a seek or a backward space over a filemark).
    """

    loaded: bool  # a cartridge is in the drive and ready (GMT_ONLINE, not GMT_DR_OPEN)
    bot: bool  # at the beginning of tape (GMT_BOT)
    eof: bool  # just past a filemark: at block 0 of file 1 or later (GMT_EOF)
    eod: bool  # at end of data, where nothing is recorded after the head (GMT_EOD)
    early_warning: bool  # in the early-warning zone before the end of media (GMT_EOT)
    write_protected: bool  # GMT_WR_PROT
    file_number: int | None  # filemarks before the head
    block_number: int | None  # records between the last filemark and the head
    cleaning_requested: bool = False  # GMT_CLN


class Drive(abc.ABC):
    """A tape drive, opened by one process at a time (a second opener gets DriveBusy).

    Counts must be positive. Errors: NoCartridge, WriteProtected, EndOfMedia, BlankCheck,
    BeginningOfMedia, FilemarkCrossed, RecordSizeError, TapeIOError (all TapeError).
    """

    def __init__(self, record_size: int = DEFAULT_RECORD_SIZE) -> None:
        if record_size < 1:
            raise RecordSizeError(f"a record size is at least 1 byte, not {record_size}")
        self.record_size = record_size

    @abc.abstractmethod
    def status(self) -> DriveStatus:
        """The drive's status (MTIOCGET); never raises for a missing cartridge."""

    @abc.abstractmethod
    def rewind(self) -> None:
        """Back to the beginning of tape (MTREW)."""

    @abc.abstractmethod
    def fsf(self, count: int = 1) -> None:
        """Forward over `count` filemarks, to the first record of the file after the last
        (MTFSF). Running into end of data raises BlankCheck, the head left at EOD."""

    @abc.abstractmethod
    def bsf(self, count: int = 1) -> None:
        """Backward over `count` filemarks, to just before the last one crossed: the end of
        the file before it (MTBSF). Reaching BOT first raises BeginningOfMedia."""

    @abc.abstractmethod
    def fsr(self, count: int = 1) -> None:
        """Forward over `count` records (MTFSR); a filemark stops it (FilemarkCrossed, the
        head past the mark), end of data too (BlankCheck)."""

    @abc.abstractmethod
    def bsr(self, count: int = 1) -> None:
        """Backward over `count` records (MTBSR); a filemark stops it (FilemarkCrossed, the
        head before the mark), BOT too (BeginningOfMedia)."""

    @abc.abstractmethod
    def eom(self) -> None:
        """To end of data, ready to append a file (MTEOM)."""

    @abc.abstractmethod
    def weof(self, count: int = 1) -> None:
        """Write `count` filemarks at the head (MTWEOF); the end of data follows them."""

    @abc.abstractmethod
    def read_record(self) -> bytes:
        """Read the record at the head and pass it. At a filemark: pass it and return b""
        (like read(2)). At end of data: BlankCheck, the head stays."""

    @abc.abstractmethod
    def write_record(self, data: bytes) -> None:
        """Write one record of 1 to `record_size` bytes at the head; it becomes the last
        object on tape. Past the early warning writes still succeed (status says so); at the
        end of media, EndOfMedia and nothing of the record is on tape."""

    def write_record_in_early_warning(self, data: bytes) -> bool:
        """write_record, then whether the head is in the early-warning zone
        (status().early_warning): what a writer asks after every record. A drive that can
        answer without a second look at the hardware says so here."""
        self.write_record(data)
        return self.status().early_warning

    def write_records(
        self, data: memoryview, record_size: int, *, stop_at_early_warning: bool
    ) -> tuple[int, bool]:
        """The records of `record_size` bytes that `data` holds end to end, written in
        order as write_record writes them. With `stop_at_early_warning`, the first record
        written in the early-warning zone is the last: the records after it are not
        written. The records written, and whether the head is in the zone after them (False
        without `stop_at_early_warning`). An end of media raises EndOfMedia with the
        records before it on tape. A drive that can write several records at once (one
        system call) does so here; st writes one record per write(2)."""
        written = 0
        for start in range(0, len(data), record_size):
            record = data[start : start + record_size]
            written += 1
            if not stop_at_early_warning:
                self.write_record(record)  # type: ignore[arg-type]
            elif self.write_record_in_early_warning(record):  # type: ignore[arg-type]
                return written, True
        return written, False

    @abc.abstractmethod
    def tell(self) -> int:
        """The head's logical block position: objects (records and filemarks) before it
        (MTIOCPOS)."""

    @abc.abstractmethod
    def seek(self, block: int) -> None:
        """To logical block position `block`, as `tell()` gave it (MTSEEK). Past end of
        data: BlankCheck, the head at EOD."""

    @abc.abstractmethod
    def load(self) -> None:
        """Load the cartridge that sits in the drive, at BOT (MTLOAD)."""

    @abc.abstractmethod
    def unload(self) -> None:
        """Rewind and eject the cartridge, ready for the changer to take it (MTOFFL)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Let the drive go; the tape keeps its position (non-rewinding device)."""

    def check_record(self, data: bytes) -> None:
        """Refuse, before anything moves, a record the drive would refuse (st's EINVAL)."""
        if not 0 < len(data) <= self.record_size:
            raise RecordSizeError(f"a record has 1 to {self.record_size} bytes, not {len(data)}")

    def __enter__(self) -> Drive:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def check_count(count: int) -> None:
    """Counts of spacing and filemark operations are positive."""
    if count < 1:
        raise TapeError(f"a count of filemarks or records is at least 1, not {count}")
