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

import errno
import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from drorch.targets.tape import awstape
from drorch.targets.tape.drive import DEFAULT_RECORD_SIZE, Drive, DriveStatus, check_count
from drorch.targets.tape.errors import (
    BeginningOfMedia,
    BlankCheck,
    DriveBusy,
    EndOfMedia,
    FilemarkCrossed,
    LibraryStateError,
    NoCartridge,
    RecordSizeError,
    TapeError,
    TapeIOError,
    WriteProtected,
)
from drorch.targets.tape.virtual import state as library_state

log = logging.getLogger(__name__)


@dataclass
class _Mount:
    """The cartridge in the drive: its open file, its blocks and the head."""

    barcode: str
    fd: int
    capacity: int
    early_warning: int
    write_protected: bool
    blocks: list[awstape.Block]
    damage: str | None
    size: int  # bytes in the file, a torn last write included
    position: int = 0  # blocks before the head
    unsynced: bool = False

    @property
    def end_of_data(self) -> int:
        return len(self.blocks)

    def offset(self) -> int:
        return self.blocks[self.position - 1].end if self.position else 0

    def previous_segment(self) -> int:
        return self.blocks[self.position - 1].last_segment if self.position else 0


class VirtualDrive(Drive):
    """Drive `number` of the virtual library in `folder`; open until close()."""

    def __init__(
        self, folder: Path, number: int = 0, *, record_size: int = DEFAULT_RECORD_SIZE
    ) -> None:
        super().__init__(record_size)
        self.folder = folder
        self.number = number
        self._lock = _lock_drive(folder, number)
        self._mount: _Mount | None = None
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
        before = mount.blocks[: mount.position]
        marks = [index for index, block in enumerate(before) if block.tapemark]
        return DriveStatus(
            loaded=True,
            bot=mount.position == 0,
            eof=bool(before) and before[-1].tapemark,
            eod=mount.position == mount.end_of_data and mount.damage is None,
            early_warning=mount.offset() >= mount.capacity - mount.early_warning,
            write_protected=mount.write_protected,
            file_number=len(marks),
            block_number=mount.position - (marks[-1] + 1 if marks else 0),
        )

    def tell(self) -> int:
        return self._mounted().position

    def seek(self, block: int) -> None:
        if block < 0:
            raise TapeError(f"a block position is 0 or more, not {block}")
        mount = self._head(flush=True)
        if block > mount.end_of_data:
            mount.position = mount.end_of_data
            raise self._end(mount)
        mount.position = block

    def rewind(self) -> None:
        self._head(flush=True).position = 0

    def eom(self) -> None:
        mount = self._head()
        mount.position = mount.end_of_data
        if mount.damage is not None:
            raise self._end(mount)

    def fsf(self, count: int = 1) -> None:
        check_count(count)
        mount = self._head()
        for _ in range(count):
            while True:
                if mount.position == mount.end_of_data:
                    raise self._end(mount)
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
                raise self._end(mount)
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
            raise self._end(mount)
        block = mount.blocks[mount.position]
        if block.tapemark:
            mount.position += 1
            return b""
        if block.length > self.record_size:
            raise RecordSizeError(
                f"{mount.barcode}: the record at block {mount.position} has {block.length} "
                f"bytes, more than the record size {self.record_size}"
            )
        stored = os.pread(mount.fd, block.end - block.offset, block.offset)
        if len(stored) != block.end - block.offset:
            raise TapeIOError(f"{mount.barcode}: record at block {mount.position} cut short")
        mount.position += 1
        return awstape.record_data(stored)

    def write_record(self, data: bytes) -> None:
        self.check_record(data)
        mount = self._head()
        parts, last = awstape.record_vectors(data, mount.previous_segment())
        self._write(mount, parts, awstape.encoded_size(len(data)), len(data), last)

    def weof(self, count: int = 1) -> None:
        check_count(count)
        mount = self._head()
        for _ in range(count):
            self._write_mark(mount)
        self._sync_data(mount)

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
        mount = self._head(flush=True)
        self._sync_data(mount)
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
                    self._write_mark(mount)
                self._sync_data(mount)
            with library_state.updating(self.folder) as state:
                drive = state.drive(self.number)
                same = mount is not None and drive.barcode == mount.barcode
                drive.position = mount.position if mount is not None and same else 0
        finally:
            self._unmount()
            self._forget_state()
            os.close(self._lock)

    # -- internals ----------------------------------------------------------------------

    def _head(self, *, flush: bool = False) -> _Mount:
        """The mounted cartridge, for an operation that moves the tape. With flush, a record
        written last is closed by a filemark first, as st does before a rewind, a backward
        space over files, a seek or an unload."""
        mount = self._mounted()
        if flush and self._after_write:
            self._after_write = False
            self._write_mark(mount)
        self._after_write = False
        return mount

    def _mounted(self) -> _Mount:
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
            current_inode = (self.folder / library_state.STATE_FILE).stat().st_ino
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
            self._mount = self._open_cartridge(drive.barcode, state, position or 0)
        else:
            current.write_protected = state.cartridges[drive.barcode].write_protected

    def _forget_state(self) -> None:
        if self._state_fd is not None:
            os.close(self._state_fd)
            self._state_fd = self._state_inode = None

    def _open_cartridge(
        self, barcode: str, state: library_state.LibraryState, position: int
    ) -> _Mount:
        path = self.folder / f"{barcode}{library_state.CARTRIDGE_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise LibraryStateError(f"cartridge file {path} is missing") from None
        try:
            size = os.fstat(fd).st_size
            found = awstape.scan(fd, size)
        except BaseException:
            os.close(fd)
            raise
        if found.damage:
            log.warning(
                "cartridge %s is unreadable after block %d: %s",
                barcode,
                len(found.blocks),
                found.damage,
            )
        cartridge = state.cartridges[barcode]
        return _Mount(
            barcode=barcode,
            fd=fd,
            capacity=cartridge.capacity,
            early_warning=cartridge.early_warning,
            write_protected=cartridge.write_protected,
            blocks=list(found.blocks),
            damage=found.damage,
            size=size,
            position=min(position, len(found.blocks)),
        )

    def _check_open(self) -> None:
        if self._closed:
            raise TapeError(f"drive {self.number} of {self.folder} is closed")

    def _unmount(self) -> None:
        if self._mount is not None:
            os.close(self._mount.fd)
            self._mount = None

    def _write_mark(self, mount: _Mount) -> None:
        mark = awstape.tapemark(mount.previous_segment())
        self._write(mount, [mark], len(mark), 0, 0)

    def _write(
        self,
        mount: _Mount,
        parts: list[bytes | memoryview],
        size: int,
        length: int,
        last_segment: int,
    ) -> None:
        """Write one block at the head; everything after the head is discarded first. A
        record that reached the tape, even to fail there, leaves the drive writing (st's
        ST_WRITING): the next rewind, unload, seek or close ends the file with a filemark."""
        if mount.write_protected:
            raise WriteProtected(f"cartridge {mount.barcode} is write-protected")
        self._after_write = length > 0
        offset = mount.offset()
        if mount.size != offset:
            os.ftruncate(mount.fd, offset)
            mount.size = offset
        del mount.blocks[mount.position :]
        mount.damage = None
        if offset + size > mount.capacity:
            raise EndOfMedia(
                f"cartridge {mount.barcode} is full: end of media at block {mount.position} "
                f"(byte {offset} of {mount.capacity})"
            )
        try:
            _pwritev_all(mount.fd, parts, offset)
        except OSError as exc:
            os.ftruncate(mount.fd, offset)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise EndOfMedia(f"cartridge {mount.barcode}: the disk under it is full") from exc
            raise TapeIOError(f"cartridge {mount.barcode}: {exc.strerror}") from exc
        mount.size = offset + size
        mount.blocks.append(
            awstape.Block(offset, offset + size, length, last_segment, tapemark=length == 0)
        )
        mount.position += 1
        mount.unsynced = True

    def _sync_data(self, mount: _Mount) -> None:
        """Flush written blocks to disk: a filemark is st's synchronisation point too."""
        if mount.unsynced:
            os.fdatasync(mount.fd)
            mount.unsynced = False

    def _end(self, mount: _Mount) -> TapeError:
        if mount.damage is not None:
            return TapeIOError(
                f"cartridge {mount.barcode} is unreadable at block {mount.position}: {mount.damage}"
            )
        return BlankCheck(f"cartridge {mount.barcode}: end of data at block {mount.position}")


def _crossed(mount: _Mount, remaining: int) -> FilemarkCrossed:
    return FilemarkCrossed(
        f"{mount.barcode}: a filemark at block {mount.position} stopped the record space",
        remaining=remaining,
    )


def _pwritev_all(fd: int, parts: list[bytes | memoryview], offset: int) -> None:
    views = [memoryview(part) for part in parts]
    while views:
        written = os.pwritev(fd, views, offset)
        offset += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


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
