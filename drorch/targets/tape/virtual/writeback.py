"""Starting the writeback of a cartridge file early: sync_file_range(SYNC_FILE_RANGE_WRITE).

A filemark makes the cartridge durable (fdatasync), as a real drive flushes its buffer to
tape at a filemark. Left alone, the kernel holds the dirty pages of a whole tape file
until then, and the filemark waits for all of them to reach the disk while nothing else
runs. Asking for their writeback every few MiB while the records are still being written
lets the disk work alongside the hashing and the writes; the filemark's fdatasync then
finds little left. The request is a hint only: it promises nothing about durability (the
fdatasync still does that) and changes no byte of the file.

Linux only: os has no binding, so libc's is called through ctypes (which releases the GIL
during the call). Elsewhere, or when the call fails (a file system that refuses it), it
does nothing and the fdatasync does all the work, as before.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)

SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of dirty pages, do not wait
STEP = 8 * 1024 * 1024  # bytes written between two requests


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range, resolved once; None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    call.restype = ctypes.c_int
    return call


class Writeback:
    """Asks for the writeback of a file's bytes in steps of `step` as they are written."""

    def __init__(self, fd: int, *, start: int = 0, step: int = STEP) -> None:
        self.fd = fd
        self.step = step
        self.started = start  # the bytes before it are on disk or handed to writeback
        self._call = _sync_file_range()

    def written(self, end: int) -> None:
        """The file holds new bytes up to `end`: start the writeback of a whole step of
        them once there is one."""
        if self._call is None or end - self.started < self.step:
            return
        if self._call(self.fd, self.started, end - self.started, SYNC_FILE_RANGE_WRITE) != 0:
            errno = ctypes.get_errno()
            log.debug("sync_file_range refused (errno %d): writeback left to fdatasync", errno)
            self._call = None
            return
        self.started = end

    def cut(self, end: int) -> None:
        """The file was cut back to `end` (a write in the middle of the tape): what is
        written from there on counts towards the next step."""
        self.started = min(self.started, end)
