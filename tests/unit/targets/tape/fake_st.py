"""The Linux st driver as drivers/scsi/st.c behaves, over a virtual drive: a DeviceIO for
LinuxDrive, so that the drive contract runs through LinuxDrive's errno and status logic.

What it imitates (st.c, Documentation/scsi/st.rst):
- one opener at a time (EBUSY);
- read(2) returns 0 at a filemark, and once more at end of data right after a filemark
  ("Zero returned for first BLANK CHECK after EOF"), otherwise EIO at end of data; GMT_EOD
  is set only once end of data was hit (or after MTEOM);
- a write that passes the early warning succeeds, the next write fails with ENOSPC and
  writes nothing, the one after it goes through; at the physical end ENOSPC, then EIO;
- a failed space (EOD, BOT, a filemark in a record space) is EIO, the status tells which;
- after MTBSF, a backward record space over a filemark or MTSEEK, st no longer knows the
  block number (-1), and after MTSEEK not the file number either;
- EACCES writing to a write-protected cartridge, ENOMEDIUM without one, ENOMEM when a
  record is larger than the read(2) buffer.
"""

from __future__ import annotations

import errno
import os

from drorch.targets.tape import mtio
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
from drorch.targets.tape.virtual import VirtualDrive, VirtualLibrary

ERRNOS: tuple[tuple[type[TapeError], int], ...] = (
    (NoCartridge, errno.ENOMEDIUM),
    (WriteProtected, errno.EACCES),
    (RecordSizeError, errno.ENOMEM),
    (EndOfMedia, errno.ENOSPC),
    (BlankCheck, errno.EIO),
    (BeginningOfMedia, errno.EIO),
    (FilemarkCrossed, errno.EIO),
    (TapeIOError, errno.EIO),
)


def os_error(exc: TapeError) -> OSError:
    number = next(code for kind, code in ERRNOS if isinstance(exc, kind))
    return OSError(number, os.strerror(number))


class FakeSt:
    def __init__(self, library: VirtualLibrary, number: int = 0) -> None:
        self.library = library
        self.number = number
        self.drive: VirtualDrive | None = None
        self.after_filemark = False  # the last read or space ended past a filemark
        self.at_eod = False  # end of data was hit: GMT_EOD
        self.eom_ok = False  # a write passed the early warning: refuse the next one once
        self.eom_error = False  # the physical end was hit: EIO until the tape moves
        self.unknown_file = False
        self.unknown_block = False

    # -- DeviceIO -----------------------------------------------------------------------

    def open(self, path: str, flags: int) -> int:
        assert flags == os.O_RDWR | os.O_NONBLOCK
        try:
            self.drive = VirtualDrive(self.library.folder, self.number)
        except DriveBusy:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY)) from None
        return 3

    def close(self, fd: int) -> None:
        self._drive().close()

    def read(self, fd: int, size: int) -> bytes:
        drive = self._drive()
        drive.record_size = size
        try:
            data = drive.read_record()
        except BlankCheck as exc:
            first_after_filemark = self.after_filemark
            self._moved(eod=True)
            if first_after_filemark:
                return b""
            raise os_error(exc) from None
        except TapeError as exc:
            raise os_error(exc) from None
        self._moved(filemark=not data)
        return data

    def write(self, fd: int, data: bytes) -> int:
        drive = self._drive()
        if self.eom_ok:
            self.eom_ok = False
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self.eom_error:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        drive.record_size = len(data)
        try:
            drive.write_record(data)
        except EndOfMedia as exc:
            self.eom_error = True
            raise os_error(exc) from None
        except TapeError as exc:
            raise os_error(exc) from None
        self._moved()
        self.eom_ok = drive.status().early_warning
        return len(data)

    def ioctl(self, fd: int, request: int, argument: bytes) -> bytes:
        if request == mtio.MTIOCGET:
            return self._mtget()
        if request == mtio.MTIOCPOS:
            return mtio.MTPOS.pack(self._drive().tell())
        assert request == mtio.MTIOCTOP, hex(request)
        operation, count = mtio.MTOP.unpack(argument)
        try:
            self._operation(operation, count)
        except BlankCheck as exc:
            self._moved(eod=True)
            raise os_error(exc) from None
        except TapeError as exc:
            raise os_error(exc) from None
        return argument

    # -- st's operations ----------------------------------------------------------------

    def _operation(self, operation: int, count: int) -> None:
        drive = self._drive()
        if operation == mtio.MTSETBLK:
            assert count == 0, "LinuxDrive uses variable-length records"
            if not drive.status().loaded:
                raise NoCartridge("no tape")
            return
        if operation == mtio.MTWEOF:
            try:
                drive.weof(count)
            except EndOfMedia:
                self.eom_error = True
                raise
            self._moved()
            return
        actions = {
            mtio.MTREW: drive.rewind,
            mtio.MTOFFL: drive.unload,
            mtio.MTLOAD: drive.load,
            mtio.MTEOM: drive.eom,
            mtio.MTFSF: lambda: drive.fsf(count),
            mtio.MTBSF: lambda: drive.bsf(count),
            mtio.MTFSR: lambda: drive.fsr(count),
            mtio.MTBSR: lambda: drive.bsr(count),
            mtio.MTSEEK: lambda: drive.seek(count),
        }
        try:
            actions[operation]()
        except FilemarkCrossed:
            self._moved(filemark=operation == mtio.MTFSR, unknown_block=operation == mtio.MTBSR)
            raise
        self._moved(
            eod=operation == mtio.MTEOM,
            filemark=operation == mtio.MTFSF,
            unknown_block=operation in (mtio.MTBSF, mtio.MTSEEK),
            unknown_file=operation == mtio.MTSEEK,
        )

    def _moved(
        self,
        *,
        eod: bool = False,
        filemark: bool = False,
        unknown_block: bool = False,
        unknown_file: bool = False,
    ) -> None:
        self.at_eod, self.after_filemark = eod, filemark
        self.unknown_block, self.unknown_file = unknown_block, unknown_file
        self.eom_ok = self.eom_error = False

    def _mtget(self) -> bytes:
        status = self._drive().status()
        flags = [
            (status.loaded, mtio.GMT_ONLINE),
            (not status.loaded, mtio.GMT_DR_OPEN),
            (status.bot, mtio.GMT_BOT),
            (status.eof and not self.unknown_block, mtio.GMT_EOF),
            (self.at_eod, mtio.GMT_EOD),
            (status.early_warning, mtio.GMT_EOT),
            (status.write_protected, mtio.GMT_WR_PROT),
        ]
        gstat = sum(bit for on, bit in flags if on)
        known = status.loaded
        fileno = status.file_number if known and not self.unknown_file else None
        blkno = status.block_number if known and not self.unknown_block else None
        return mtio.MTGET.pack(
            0x72, 0, 0, gstat, 0, -1 if fileno is None else fileno, -1 if blkno is None else blkno
        )

    def _drive(self) -> VirtualDrive:
        assert self.drive is not None, "not open"
        return self.drive
