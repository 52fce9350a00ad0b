"""LinuxDrive call by call: the exact ioctls and system calls it makes, and how it reads
each errno st can return. (The drive contract runs it through a whole imitation of st.)"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

import pytest

from drorch.targets.tape import mtio
from drorch.targets.tape.errors import (
    BlankCheck,
    DriveBusy,
    EndOfMedia,
    NoCartridge,
    RecordSizeError,
    TapeIOError,
    WriteProtected,
)
from drorch.targets.tape.st import LinuxDrive

Reply = bytes | int | OSError


def fail(number: int) -> OSError:
    return OSError(number, os.strerror(number))


def mtget(gstat: int, fileno: int = 0, blkno: int = 0) -> bytes:
    return mtio.MTGET.pack(0x72, 0, 0, gstat, 0, fileno, blkno)


class ScriptedDevice:
    """Records every call; answers from a script of replies, else success."""

    def __init__(self, **replies: list[Reply]) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.replies = replies

    def _next(self, name: str, default: Reply) -> Reply:
        queue = self.replies.get(name, [])
        reply = queue.pop(0) if queue else default
        if isinstance(reply, OSError):
            raise reply
        return reply

    def open(self, path: str, flags: int) -> int:
        self.calls.append(("open", path, flags))
        reply = self._next("open", 3)
        assert isinstance(reply, int)
        return reply

    def close(self, fd: int) -> None:
        self.calls.append(("close", fd))

    def read(self, fd: int, size: int) -> bytes:
        self.calls.append(("read", fd, size))
        reply = self._next("read", b"")
        assert isinstance(reply, bytes)
        return reply

    def write(self, fd: int, data: bytes) -> int:
        self.calls.append(("write", fd, len(data)))
        reply = self._next("write", len(data))
        assert isinstance(reply, int)
        return reply

    def ioctl(self, fd: int, request: int, argument: bytes) -> bytes:
        self.calls.append(("ioctl", fd, request, argument))
        name = {mtio.MTIOCGET: "mtget", mtio.MTIOCPOS: "mtpos"}.get(request, "mtop")
        reply = self._next(name, argument)
        assert isinstance(reply, bytes)
        return reply


def opened(device: ScriptedDevice, record_size: int = 65536) -> LinuxDrive:
    """The drive, opened; the script starts after the open."""
    device.replies.setdefault("mtop", []).insert(0, mtio.mtop(mtio.MTSETBLK, 0))
    drive = LinuxDrive("/dev/nst0", record_size=record_size, io=device)
    device.calls.clear()
    return drive


def op(operation: int, count: int) -> tuple[object, ...]:
    return ("ioctl", 3, mtio.MTIOCTOP, mtio.mtop(operation, count))


def test_open_is_non_blocking_read_write_in_variable_block_mode() -> None:
    device = ScriptedDevice()
    LinuxDrive("/dev/nst0", io=device)
    assert device.calls == [
        ("open", "/dev/nst0", os.O_RDWR | os.O_NONBLOCK),
        op(mtio.MTSETBLK, 0),
    ]


def test_open_without_a_cartridge_sets_the_block_mode_at_load() -> None:
    device = ScriptedDevice(mtop=[fail(errno.ENOMEDIUM)])
    drive = LinuxDrive("/dev/nst0", io=device)
    device.calls.clear()
    drive.load()
    assert device.calls == [op(mtio.MTLOAD, 1), op(mtio.MTSETBLK, 0)]


def test_open_of_a_drive_another_process_holds_is_busy() -> None:
    with pytest.raises(DriveBusy, match="/dev/nst0"):
        LinuxDrive("/dev/nst0", io=ScriptedDevice(open=[fail(errno.EBUSY)]))


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda d: d.rewind(), op(mtio.MTREW, 1)),
        (lambda d: d.fsf(3), op(mtio.MTFSF, 3)),
        (lambda d: d.bsf(2), op(mtio.MTBSF, 2)),
        (lambda d: d.fsr(5), op(mtio.MTFSR, 5)),
        (lambda d: d.bsr(1), op(mtio.MTBSR, 1)),
        (lambda d: d.eom(), op(mtio.MTEOM, 1)),
        (lambda d: d.weof(2), op(mtio.MTWEOF, 2)),
        (lambda d: d.seek(1234), op(mtio.MTSEEK, 1234)),
        (lambda d: d.unload(), op(mtio.MTOFFL, 1)),
    ],
)
def test_each_operation_is_one_mtioctop(
    call: Callable[[LinuxDrive], None], expected: tuple[object, ...]
) -> None:
    device = ScriptedDevice()
    call(opened(device))
    assert device.calls == [expected]


def test_tell_and_status_read_mtiocpos_and_mtiocget() -> None:
    device = ScriptedDevice(mtpos=[mtio.MTPOS.pack(42)], mtget=[mtget(mtio.GMT_ONLINE, 2, 5)])
    drive = opened(device)
    assert drive.tell() == 42
    status = drive.status()
    assert (status.loaded, status.file_number, status.block_number) == (True, 2, 5)
    assert device.calls[0] == ("ioctl", 3, mtio.MTIOCPOS, bytes(8))
    assert device.calls[1] == ("ioctl", 3, mtio.MTIOCGET, bytes(48))


def test_a_record_is_one_read_of_the_record_size() -> None:
    device = ScriptedDevice(read=[b"data"])
    assert opened(device, record_size=4096).read_record() == b"data"
    assert device.calls == [("read", 3, 4096)]


def test_zero_bytes_is_a_filemark_unless_st_says_end_of_data() -> None:
    device = ScriptedDevice(read=[b"", b""], mtget=[mtget(mtio.GMT_EOF, 1), mtget(mtio.GMT_EOD)])
    drive = opened(device)
    assert drive.read_record() == b""
    with pytest.raises(BlankCheck):
        drive.read_record()


def test_eio_at_end_of_data_is_blank_check_and_elsewhere_a_medium_error() -> None:
    device = ScriptedDevice(
        read=[fail(errno.EIO), fail(errno.EIO)], mtget=[mtget(mtio.GMT_EOD), mtget(0)]
    )
    drive = opened(device)
    with pytest.raises(BlankCheck):
        drive.read_record()
    with pytest.raises(TapeIOError):
        drive.read_record()


def test_a_record_longer_than_the_buffer_is_a_record_size_error() -> None:
    with pytest.raises(RecordSizeError):
        opened(ScriptedDevice(read=[fail(errno.ENOMEM)])).read_record()


def test_the_write_after_the_early_warning_refusal_is_retried_once() -> None:
    device = ScriptedDevice(write=[fail(errno.ENOSPC)])
    opened(device).write_record(b"x" * 100)
    assert device.calls == [("write", 3, 100), ("write", 3, 100)]


@pytest.mark.parametrize("second", [fail(errno.ENOSPC), fail(errno.EIO), 10])
def test_a_refused_retry_or_a_short_write_is_the_end_of_media(second: Reply) -> None:
    device = ScriptedDevice(write=[fail(errno.ENOSPC), second])
    with pytest.raises(EndOfMedia):
        opened(device).write_record(b"x" * 100)


def test_a_filemark_in_the_early_warning_zone_is_retried_once_too() -> None:
    device = ScriptedDevice(mtop=[fail(errno.ENOSPC)])
    opened(device).weof()
    assert device.calls == [op(mtio.MTWEOF, 1), op(mtio.MTWEOF, 1)]


@pytest.mark.parametrize(
    ("number", "kind"),
    [(errno.EACCES, WriteProtected), (errno.ENOMEDIUM, NoCartridge), (errno.EIO, TapeIOError)],
)
def test_write_errnos(number: int, kind: type[Exception]) -> None:
    device = ScriptedDevice(write=[fail(number)])
    with pytest.raises(kind):
        opened(device).write_record(b"x")
    assert len([call for call in device.calls if call[0] == "write"]) == 1


def test_spacing_into_end_of_data_is_blank_check() -> None:
    device = ScriptedDevice(mtop=[fail(errno.EIO)], mtget=[mtget(mtio.GMT_EOD | mtio.GMT_ONLINE)])
    with pytest.raises(BlankCheck):
        opened(device).fsf(9)


def test_close_closes_once() -> None:
    device = ScriptedDevice()
    drive = opened(device)
    drive.close()
    drive.close()
    assert device.calls == [("close", 3)]
