"""A drive of the virtual library: reads and writes the AWSTAPE file of the cartridge the
changer state says it holds, with the behaviour of a Linux st drive.

The drive keeps its head position in memory while a process has it open. On close, the
position goes to the state file and the next opener finds the head where it was, as a
real drive keeps its tape where it is between two processes on the non-rewinding device:
code that forgets to position the tape fails here as it would on hardware. A process that
died with the drive open leaves no position behind; the next opener starts at BOT and the
log says so.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from drorch.targets.tape.drive import DEFAULT_RECORD_SIZE, Drive, DriveStatus, check_count
from drorch.targets.tape.errors import (
    BeginningOfMedia,
    DriveBusy,
    FilemarkCrossed,
    LibraryStateError,
    NoCartridge,
    RecordSizeError,
    TapeError,
    WriteProtected,
)
from drorch.targets.tape.virtual import state as library_state
from drorch.targets.tape.virtual.cartridge import Cartridge

log = logging.getLogger(__name__)


class VirtualDrive(Drive):
    """Drive `number` of the virtual library in `folder`; open until close()."""

    def __init__(
        self, folder: Path, number: int = 0, *, record_size: int = DEFAULT_RECORD_SIZE
    ) -> None:
        super().__init__(record_size)
        self.folder = folder
        self.number = number
        self._state_path = str(folder / library_state.STATE_FILE)  # stat before each operation
        self._lock = _lock_drive(folder, number)
        self._mount: Cartridge | None = None
        self._state_fd: int | None = None
        self._state_inode: int | None = None
        self._after_write = False  # the last operation wrote a record (st's ST_WRITING)
        self._closed = False
        try:
            with library_state.updating(folder) as state:
                drive = state.drive(number)
                kept, drive.position = drive.position, None
                if kept is None and drive.barcode and not drive.ejected:
                    log.warning(
                        "drive %d of %s: the last process that had it open died; "
                        "the tape of %s is taken to be at BOT",
                        number,
                        folder,
                        drive.barcode,
                    )
            self._sync(position=kept or 0)
        except BaseException:
            self._unmount()
            self._forget_state()
            os.close(self._lock)
            raise

    # -- status and position ------------------------------------------------------------

    def status(self) -> DriveStatus:
        self._check_open()
        self._sync()
        mount = self._mount
        if mount is None:
            return DriveStatus(False, False, False, False, False, False, None, None)
        file_number, block_number = mount.file_and_block()
        return DriveStatus(
            loaded=True,
            bot=mount.position == 0,
            eof=mount.position > 0 and mount.blocks[mount.position - 1].tapemark,
            eod=mount.position == mount.end_of_data and mount.damage is None,
            early_warning=mount.in_early_warning(),
            write_protected=mount.write_protected,
            file_number=file_number,
            block_number=block_number,
        )

    def tell(self) -> int:
        return self._mounted().position

    def seek(self, block: int) -> None:
        if block < 0:
            raise TapeError(f"a block position is 0 or more, not {block}")
        mount = self._head(flush=True)
        if block > mount.end_of_data:
            mount.position = mount.end_of_data
            raise mount.end()
        mount.position = block

    def rewind(self) -> None:
        self._head(flush=True).position = 0

    def eom(self) -> None:
        mount = self._head()
        mount.position = mount.end_of_data
        if mount.damage is not None:
            raise mount.end()

    def fsf(self, count: int = 1) -> None:
        check_count(count)
        mount = self._head()
        for _ in range(count):
            while True:
                if mount.position == mount.end_of_data:
                    raise mount.end()
                mount.position += 1
                if mount.blocks[mount.position - 1].tapemark:
                    break

    def bsf(self, count: int = 1) -> None:
        check_count(count)
        mount = self._head(flush=True)
        for _ in range(count):
            while True:
                if mount.position == 0:
                    raise BeginningOfMedia(f"{mount.barcode}: beginning of tape reached")
                mount.position -= 1
                if mount.blocks[mount.position].tapemark:
                    break

    def fsr(self, count: int = 1) -> None:
        check_count(count)
        mount = self._head()
        for done in range(count):
            if mount.position == mount.end_of_data:
                raise mount.end()
            mount.position += 1
            if mount.blocks[mount.position - 1].tapemark:
                raise _crossed(mount, count - done)

    def bsr(self, count: int = 1) -> None:
        check_count(count)
        mount = self._head()
        for done in range(count):
            if mount.position == 0:
                raise BeginningOfMedia(f"{mount.barcode}: beginning of tape reached")
            mount.position -= 1
            if mount.blocks[mount.position].tapemark:
                raise _crossed(mount, count - done)

    # -- data ---------------------------------------------------------------------------

    def read_record(self) -> bytes:
        mount = self._head()
        if mount.position == mount.end_of_data:
            raise mount.end()
        block = mount.blocks[mount.position]
        if block.tapemark:
            mount.position += 1
            return b""
        if block.length > self.record_size:
            raise RecordSizeError(
                f"{mount.barcode}: the record at block {mount.position} has {block.length} "
                f"bytes, more than the record size {self.record_size}"
            )
        return mount.read_block()

    def write_record(self, data: bytes) -> None:
        self.check_record(data)
        self._writable(self._head(), record=True).write_record(data)

    def write_record_in_early_warning(self, data: bytes) -> bool:
        # one look at the state file for both (the writer asks after every record); the
        # status part reads only what this process changes: the head on its cartridge
        self.check_record(data)
        mount = self._writable(self._head(), record=True)
        mount.write_record(data)
        return mount.in_early_warning()

    def write_records(
        self, data: memoryview, record_size: int, *, stop_at_early_warning: bool
    ) -> tuple[int, bool]:
        # one pwritev for the lot: the same bytes as one write_record each, fewer calls
        if len(data) % record_size:
            raise RecordSizeError(f"{len(data)} bytes are not records of {record_size} bytes")
        self.check_record(data[:record_size])  # type: ignore[arg-type]
        mount = self._writable(self._head(), record=True)
        stop_after = mount.capacity - mount.early_warning if stop_at_early_warning else None
        written = 0
        while written * record_size < len(data):
            view = data[written * record_size :]
            written += mount.write_records(view, record_size, stop_after=stop_after)
            if stop_at_early_warning and mount.in_early_warning():
                return written, True
        return written, False

    def weof(self, count: int = 1) -> None:
        check_count(count)
        mount = self._writable(self._head(), record=False)
        for _ in range(count):
            mount.write_mark()
        mount.sync()

    # -- cartridge ----------------------------------------------------------------------

    def load(self) -> None:
        self._sync()
        if self._mount is not None:
            self._head(flush=True).position = 0
            return
        with library_state.updating(self.folder) as state:
            drive = state.drive(self.number)
            if drive.barcode is None:
                raise NoCartridge(f"drive {self.number} of {self.folder} holds no cartridge")
            drive.ejected = False
            drive.position = None
        self._sync(position=0)

    def unload(self) -> None:
        self._head(flush=True).sync()
        with library_state.updating(self.folder) as state:
            drive = state.drive(self.number)
            drive.ejected = True
            drive.position = 0
        self._sync()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._sync()
            mount = self._mount
            if mount is not None:
                if self._after_write:
                    self._writable(mount, record=False).write_mark()
                mount.sync()
            with library_state.updating(self.folder) as state:
                drive = state.drive(self.number)
                same = mount is not None and drive.barcode == mount.barcode
                drive.position = mount.position if mount is not None and same else 0
        finally:
            self._unmount()
            self._forget_state()
            os.close(self._lock)

    # -- internals ----------------------------------------------------------------------

    def _head(self, *, flush: bool = False) -> Cartridge:
        """The mounted cartridge, for an operation that moves the tape. With flush, a record
        written last is closed by a filemark first, as st does before a rewind, a backward
        space over files, a seek or an unload."""
        mount = self._mounted()
        if flush and self._after_write:
            self._writable(mount, record=False).write_mark()
        self._after_write = False
        return mount

    def _mounted(self) -> Cartridge:
        self._check_open()
        self._sync()
        if self._mount is None:
            raise NoCartridge(f"drive {self.number} of {self.folder} holds no loaded cartridge")
        return self._mount

    def _sync(self, *, position: int | None = None) -> None:
        """Follow the state file: mount the cartridge it puts in this drive, unmount one it
        took away. One stat when it did not change: the version last read is held open,
        so a newer one has another inode."""
        try:
            current_inode = os.stat(self._state_path).st_ino
        except FileNotFoundError:
            raise LibraryStateError(f"the virtual library at {self.folder} is gone") from None
        if current_inode == self._state_inode and position is None:
            return
        fd = library_state.open_state(self.folder)
        try:
            state = library_state.read_open_state(fd, self.folder)
        except BaseException:
            os.close(fd)
            raise
        self._forget_state()
        self._state_fd, self._state_inode = fd, os.fstat(fd).st_ino
        drive = state.drive(self.number)
        current = self._mount
        if drive.barcode is None or drive.ejected:
            self._unmount()
        elif current is None or current.barcode != drive.barcode:
            self._unmount()
            cartridge = state.cartridges[drive.barcode]
            self._mount = Cartridge.open(
                self.folder / f"{drive.barcode}{library_state.CARTRIDGE_SUFFIX}",
                drive.barcode,
                capacity=cartridge.capacity,
                early_warning=cartridge.early_warning,
                write_protected=cartridge.write_protected,
                position=position or 0,
            )
        else:
            current.write_protected = state.cartridges[drive.barcode].write_protected

    def _forget_state(self) -> None:
        if self._state_fd is not None:
            os.close(self._state_fd)
            self._state_fd = self._state_inode = None

    def _check_open(self) -> None:
        if self._closed:
            raise TapeError(f"drive {self.number} of {self.folder} is closed")

    def _unmount(self) -> None:
        if self._mount is not None:
            self._mount.close()
            self._mount = None

    def _writable(self, mount: Cartridge, *, record: bool) -> Cartridge:
        """The cartridge, once it is known to take a write. A record that reaches the tape,
        even to fail there, leaves the drive writing (st's ST_WRITING): the next rewind,
        unload, seek or close ends the file with a filemark."""
        if mount.write_protected:
            raise WriteProtected(f"cartridge {mount.barcode} is write-protected")
        self._after_write = record
        return mount


def _crossed(mount: Cartridge, remaining: int) -> FilemarkCrossed:
    return FilemarkCrossed(
        f"{mount.barcode}: a filemark at block {mount.position} stopped the record space",
        remaining=remaining,
    )


def _lock_drive(folder: Path, number: int) -> int:
    """Hold drive `number` for this process (flock: per open file, gone with the process);
    DriveBusy names the holder when another has it."""
    library_state.read_state(folder).drive(number)  # the library and the drive exist
    path = folder / f"drive{number}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        pid = int(holder) if holder.isdigit() else None
        raise DriveBusy(
            f"drive {number} of the virtual library at {folder} is in use"
            + (f" by pid {pid}" if pid else ""),
            holder_pid=pid,
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
