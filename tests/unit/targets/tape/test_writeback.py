"""The early writeback of cartridge files: asked for in steps as records are written, never
a change to a byte, and nothing at all where the kernel refuses it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from drorch.targets.tape import awstape
from drorch.targets.tape.virtual import VirtualDrive, VirtualLibrary
from drorch.targets.tape.virtual import writeback as writeback_module
from drorch.targets.tape.virtual.writeback import Writeback

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range")


@linux_only
def test_writeback_is_asked_for_once_a_whole_step_is_written(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "cartridge", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        early = Writeback(fd, step=8192)
        os.pwrite(fd, b"x" * 5000, 0)
        early.written(5000)
        assert early.started == 0  # less than a step: left for later
        os.pwrite(fd, b"y" * 5000, 5000)
        early.written(10000)
        assert early.started == 10000  # the kernel took the request for both writes
        os.ftruncate(fd, 4096)  # a rewrite cuts the file back: the next step counts from there
        early.cut(4096)
        os.pwrite(fd, b"z" * 8192, 4096)
        early.written(4096 + 8192)
        assert early.started == 4096 + 8192
        assert os.pread(fd, 16, 4090) == b"xxxxxxzzzzzzzzzz"
    finally:
        os.close(fd)


@linux_only
def test_a_file_that_refuses_it_is_left_to_fdatasync(caplog: pytest.LogCaptureFixture) -> None:
    read, write = os.pipe()  # sync_file_range refuses a pipe (ESPIPE)
    try:
        early = Writeback(write, step=1)
        with caplog.at_level("DEBUG", logger=writeback_module.__name__):
            early.written(10)
            early.written(20)  # not asked again once refused, and no error either
        assert [r.getMessage() for r in caplog.records] == [
            "sync_file_range refused (errno 29): writeback left to fdatasync"
        ]
        assert early.started == 0  # nothing handed over: the fdatasync does it all
    finally:
        os.close(read)
        os.close(write)


@linux_only
def test_the_cartridge_starts_writeback_as_records_go_to_it(tmp_path: Path) -> None:
    record = 256 * 1024
    library = VirtualLibrary.create(tmp_path / "vtl", slots=1, capacity=64 * 1024 * 1024)
    library.changer().load(1, 0)
    with library.drive(0, record_size=record) as drive:
        assert isinstance(drive, VirtualDrive)
        mount = drive._mounted()  # the cartridge behind the drive
        for number in range(writeback_module.STEP // record):
            drive.write_record(bytes([number % 251]) * record)
        # 32 records and their segment headers: a step and a bit, handed over to the end
        assert mount.writeback.started == mount.size == 32 * awstape.encoded_size(record)
