"""A Linux SCSI tape drive through the st driver: its non-rewinding device (/dev/nstN),
the MTIOCTOP/MTIOCGET/MTIOCPOS ioctls, and read(2)/write(2) of one record each.

Why ioctls and not `mt` from mt-st: st lets one process open a drive at a time (EBUSY for
the next), and it writes a filemark when a device closes after a write. Running `mt`
between two records would mean closing the device, which ends the tape file, and reopening
it; the ioctls act on the one open device, and their errors come back as errnos, not as
messages to parse. The drive is put in variable-block mode (MTSETBLK 0) so that each
write(2) is one record and the last record of a file may be short.

How st reports conditions (drivers/scsi/st.c, Documentation/scsi/st.rst):
- a read at a filemark returns 0 bytes; at end of data too, once, after a filemark,
  then EIO: MTIOCGET's GMT_EOD tells the two apart;
- a write past the early warning succeeds, the next one fails with ENOSPC and the one
  after it is let through: EndOfMedia only when that one fails too;
- EACCES (or EROFS at open) for a write-protected cartridge, ENOMEDIUM without one.

The device-touching calls go through a DeviceIO, so that everything else is tested
without a drive.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Callable
from typing import Protocol

from drorch.targets.tape import mtio
from drorch.targets.tape.drive import DEFAULT_RECORD_SIZE, Drive, DriveStatus, check_count
from drorch.targets.tape.errors import (
    BeginningOfMedia,
    BlankCheck,
    DriveBusy,
    EndOfMedia,
    FilemarkCrossed,
    NoCartridge,
    RecordSizeError,
    TapeError,
    TapeIOError,
    WriteProtected,
)


class DeviceIO(Protocol):
    def open(self, path: str, flags: int) -> int: ...
    def close(self, fd: int) -> None: ...
    def read(self, fd: int, size: int) -> bytes: ...
    def write(self, fd: int, data: bytes) -> int: ...
    def ioctl(self, fd: int, request: int, argument: bytes) -> bytes: ...


class OsDeviceIO:
    """The real device: system calls, nothing else."""

    def open(self, path: str, flags: int) -> int:
        return os.open(path, flags)

    def close(self, fd: int) -> None:
        os.close(fd)

    def read(self, fd: int, size: int) -> bytes:
        return os.read(fd, size)

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def ioctl(self, fd: int, request: int, argument: bytes) -> bytes:
        buffer = bytearray(argument)
        fcntl.ioctl(fd, request, buffer, True)
        return bytes(buffer)


# errno -> the error it means for a tape; EIO is looked at with the drive's status first.
ERRNO_ERRORS: dict[int, type[TapeError]] = {
    errno.EACCES: WriteProtected,
    errno.EROFS: WriteProtected,
    errno.ENOMEDIUM: NoCartridge,
    errno.EBUSY: DriveBusy,
    errno.ENOSPC: EndOfMedia,
    errno.ENOMEM: RecordSizeError,
    errno.EINVAL: RecordSizeError,
    errno.EIO: TapeIOError,
}


def tape_error(device: str, what: str, exc: OSError) -> TapeError:
    kind = ERRNO_ERRORS.get(exc.errno or 0, TapeError)
    return kind(f"{device}: {what}: {exc.strerror or exc}")


class LinuxDrive(Drive):
    def __init__(
        self,
        device: str,
        *,
        record_size: int = DEFAULT_RECORD_SIZE,
        io: DeviceIO | None = None,
    ) -> None:
        super().__init__(record_size)
        self.device = device
        self.io: DeviceIO = io or OsDeviceIO()
        try:
            # O_NONBLOCK: open even without a cartridge, or with a write-protected one.
            self.fd: int | None = self.io.open(device, os.O_RDWR | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise DriveBusy(f"{device} is open in another process") from exc
            raise tape_error(device, "open", exc) from exc
        try:
            with contextlib.suppress(NoCartridge):  # set again at load()
                self._variable_blocks()
        except BaseException:
            self.close()
            raise

    def status(self) -> DriveStatus:
        raw = self._ioctl("status", mtio.MTIOCGET, bytes(mtio.MTGET.size))
        return mtio.drive_status(mtio.parse_mtget(raw))

    def tell(self) -> int:
        return mtio.parse_mtpos(self._ioctl("tell", mtio.MTIOCPOS, bytes(mtio.MTPOS.size)))

    def seek(self, block: int) -> None:
        if block < 0:
            raise TapeError(f"a block position is 0 or more, not {block}")
        self._space(mtio.MTSEEK, block, "seek")

    def rewind(self) -> None:
        self._op(mtio.MTREW, 1, "rewind")

    def eom(self) -> None:
        self._op(mtio.MTEOM, 1, "space to end of data")

    def fsf(self, count: int = 1) -> None:
        check_count(count)
        self._space(mtio.MTFSF, count, "forward space file")

    def bsf(self, count: int = 1) -> None:
        check_count(count)
        self._space(mtio.MTBSF, count, "backward space file")

    def fsr(self, count: int = 1) -> None:
        check_count(count)
        self._space(mtio.MTFSR, count, "forward space record")

    def bsr(self, count: int = 1) -> None:
        check_count(count)
        self._space(mtio.MTBSR, count, "backward space record")

    def read_record(self) -> bytes:
        try:
            data = self.io.read(self._fd(), self.record_size)
        except OSError as exc:
            if exc.errno == errno.EIO and self.status().eod:
                raise BlankCheck(f"{self.device}: end of data") from exc
            if exc.errno == errno.ENOMEM:
                raise RecordSizeError(
                    f"{self.device}: the record is larger than the record size {self.record_size}"
                ) from exc
            raise tape_error(self.device, "read", exc) from exc
        if not data and self.status().eod:
            raise BlankCheck(f"{self.device}: end of data")
        return data

    def write_record(self, data: bytes) -> None:
        self.check_record(data)

        def write() -> None:
            written = self.io.write(self._fd(), data)
            if written != len(data):
                raise EndOfMedia(f"{self.device}: write: {written} of {len(data)} bytes written")

        self._past_early_warning("write", write)

    def weof(self, count: int = 1) -> None:
        check_count(count)
        self._past_early_warning("write filemark", lambda: self._raw_op(mtio.MTWEOF, count))

    def load(self) -> None:
        self._op(mtio.MTLOAD, 1, "load")
        self._variable_blocks()

    def unload(self) -> None:
        self._op(mtio.MTOFFL, 1, "unload")

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            self.io.close(fd)

    # -- internals ----------------------------------------------------------------------

    def _fd(self) -> int:
        if self.fd is None:
            raise TapeError(f"{self.device} is closed")
        return self.fd

    def _variable_blocks(self) -> None:
        self._op(mtio.MTSETBLK, 0, "set variable block mode")

    def _ioctl(self, what: str, request: int, argument: bytes) -> bytes:
        try:
            return self.io.ioctl(self._fd(), request, argument)
        except OSError as exc:
            raise tape_error(self.device, what, exc) from exc

    def _op(self, operation: int, count: int, what: str) -> None:
        try:
            self._raw_op(operation, count)
        except OSError as exc:
            raise tape_error(self.device, what, exc) from exc

    def _raw_op(self, operation: int, count: int) -> None:
        self.io.ioctl(self._fd(), mtio.MTIOCTOP, mtio.mtop(operation, count))

    def _space(self, operation: int, count: int, what: str) -> None:
        """A spacing operation; st fails it with EIO at EOD, BOT or a filemark in the way,
        and the status afterwards says which."""
        try:
            self._raw_op(operation, count)
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise tape_error(self.device, what, exc) from exc
            raise self._spacing_error(operation, what) from exc

    def _spacing_error(self, operation: int, what: str) -> TapeError:
        status = self.status()
        where = f"{self.device}: {what}"
        if status.eod:
            return BlankCheck(f"{where}: end of data")
        if operation in (mtio.MTBSF, mtio.MTBSR) and status.bot:
            return BeginningOfMedia(f"{where}: beginning of tape")
        if operation == mtio.MTFSR and status.eof:
            return FilemarkCrossed(f"{where}: stopped past a filemark", remaining=None)
        if operation == mtio.MTBSR and status.block_number is None:
            return FilemarkCrossed(f"{where}: stopped before a filemark", remaining=None)
        return TapeIOError(f"{where}: I/O error")

    def _past_early_warning(self, what: str, write: Callable[[], None]) -> None:
        """Write once; on ENOSPC once more, as st lets the write after the early-warning
        refusal through. A second refusal, or EIO there: end of media."""
        try:
            write()
            return
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise tape_error(self.device, what, exc) from exc
        try:
            write()
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EIO):
                raise EndOfMedia(f"{self.device}: {what}: end of media") from exc
            raise tape_error(self.device, what, exc) from exc
