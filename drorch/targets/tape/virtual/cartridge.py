"""One cartridge of the virtual library, open in a drive: its AWSTAPE file, the blocks on
it, and the head. Tape physics only (capacity, what a write leaves behind); the st
driver's manners are the drive's."""

from __future__ import annotations

import bisect
import errno
import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from drorch.targets.tape import awstape
from drorch.targets.tape.errors import (
    BlankCheck,
    EndOfMedia,
    LibraryStateError,
    TapeError,
    TapeIOError,
)
from drorch.targets.tape.virtual.writeback import Writeback

log = logging.getLogger(__name__)

IOV_MAX = 1024  # Linux's UIO_MAXIOV: the most parts one pwritev takes


@dataclass
class Cartridge:
    barcode: str
    fd: int
    capacity: int
    early_warning: int
    write_protected: bool
    blocks: list[awstape.Block]
    damage: str | None  # why the bytes after the last block are not blocks
    size: int  # bytes in the file, a torn last write included
    position: int = 0  # blocks before the head
    unsynced: bool = False
    # the indexes of the tapemarks in `blocks`, ascending: a drive's status is asked after
    # every record, and counting the filemarks before the head must not walk the tape
    marks: list[int] = field(default_factory=list)
    writeback: Writeback = field(init=False)

    def __post_init__(self) -> None:
        self.marks = [index for index, block in enumerate(self.blocks) if block.tapemark]
        self.writeback = Writeback(self.fd, start=self.size)

    @classmethod
    def open(
        cls,
        path: Path,
        barcode: str,
        *,
        capacity: int,
        early_warning: int,
        write_protected: bool,
        position: int,
    ) -> Cartridge:
        """Read the file's headers into its blocks; the head at `position` (or at EOD)."""
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
        return cls(
            barcode=barcode,
            fd=fd,
            capacity=capacity,
            early_warning=early_warning,
            write_protected=write_protected,
            blocks=list(found.blocks),
            damage=found.damage,
            size=size,
            position=min(position, len(found.blocks)),
        )

    @property
    def end_of_data(self) -> int:
        return len(self.blocks)

    def file_and_block(self) -> tuple[int, int]:
        """The filemarks before the head, and the records between the last of them (or
        BOT) and the head."""
        file_number = bisect.bisect_left(self.marks, self.position)
        start = self.marks[file_number - 1] + 1 if file_number else 0
        return file_number, self.position - start

    def offset(self) -> int:
        """Where the head is in the file."""
        return self.blocks[self.position - 1].end if self.position else 0

    def in_early_warning(self) -> bool:
        return self.offset() >= self.capacity - self.early_warning

    def previous_segment(self) -> int:
        return self.blocks[self.position - 1].last_segment if self.position else 0

    def read_block(self) -> bytes:
        """The data of the record at the head (the caller has checked there is one)."""
        block = self.blocks[self.position]
        stored = os.pread(self.fd, block.end - block.offset, block.offset)
        if len(stored) != block.end - block.offset:
            raise TapeIOError(f"{self.barcode}: record at block {self.position} cut short")
        self.position += 1
        return awstape.record_data(stored)

    def write_record(self, data: bytes) -> None:
        """One record of 1 or more bytes (the drive has checked its size)."""
        self.write_records(memoryview(data), len(data), stop_after=None)

    def write_records(self, data: memoryview, record_size: int, *, stop_after: int | None) -> int:
        """The records of `record_size` bytes in `data`, in one pwritev: as many as fit
        before the capacity and, with `stop_after` (a file offset), up to the first that
        ends at or past it. The records written; EndOfMedia when the capacity stopped them
        (those before it are written)."""
        offset = self.offset()
        previous = self.previous_segment()
        parts: list[bytes | memoryview] = []
        blocks: list[tuple[int, int, int]] = []
        end = offset
        for start in range(0, len(data), record_size):
            headers, bounds, size, last = _layout(record_size, previous)
            if end + size > self.capacity and blocks:
                break  # the records before it first; the next call raises EndOfMedia
            view = data[start : start + record_size]
            for header, (first, stop) in zip(headers, bounds, strict=True):
                parts += (header, view[first:stop])
            blocks.append((size, record_size, last))
            end += size
            previous = last
            if stop_after is not None and end >= stop_after:
                break
        self._write(parts, blocks)
        return len(blocks)

    def write_mark(self) -> None:
        mark = awstape.tapemark(self.previous_segment())
        self._write([mark], [(len(mark), 0, 0)])

    def _write(self, parts: list[bytes | memoryview], blocks: list[tuple[int, int, int]]) -> None:
        """Blocks at the head, each (size in the file, data length, last segment's length),
        their bytes in `parts`. Everything after the head is gone first, as a tape head
        overwrites it; past the capacity nothing is written and end of data is the head."""
        offset = self.offset()
        if self.size != offset:
            os.ftruncate(self.fd, offset)
            self.writeback.cut(offset)
            self.size = offset
        del self.blocks[self.position :]
        del self.marks[bisect.bisect_left(self.marks, self.position) :]
        self.damage = None
        size = sum(block[0] for block in blocks)
        if offset + size > self.capacity:
            raise EndOfMedia(
                f"cartridge {self.barcode} is full: end of media at block {self.position} "
                f"(byte {offset} of {self.capacity})"
            )
        try:
            _pwritev_all(self.fd, parts, size, offset)
        except OSError as exc:
            os.ftruncate(self.fd, offset)
            self.writeback.cut(offset)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise EndOfMedia(f"cartridge {self.barcode}: the disk under it is full") from exc
            raise TapeIOError(f"cartridge {self.barcode}: {exc.strerror}") from exc
        self.size = offset + size
        self.writeback.written(self.size)
        for block_size, length, last_segment in blocks:
            self.blocks.append(
                awstape.Block(
                    offset, offset + block_size, length, last_segment, tapemark=length == 0
                )
            )
            if length == 0:
                self.marks.append(self.position)
            offset += block_size
            self.position += 1
        self.unsynced = True

    def sync(self) -> None:
        """Flush written blocks to disk."""
        if self.unsynced:
            os.fdatasync(self.fd)
            self.unsynced = False

    def end(self) -> TapeError:
        """What the head meets past the last block: end of data, or the damage."""
        if self.damage is not None:
            return TapeIOError(
                f"cartridge {self.barcode} is unreadable at block {self.position}: {self.damage}"
            )
        return BlankCheck(f"cartridge {self.barcode}: end of data at block {self.position}")

    def close(self) -> None:
        os.close(self.fd)


@functools.lru_cache(maxsize=16)
def _layout(
    length: int, previous: int
) -> tuple[tuple[bytes, ...], tuple[tuple[int, int], ...], int, int]:
    """How a record of `length` bytes after a segment of `previous` bytes is stored: its
    segment headers, the data's bounds for each, its size in the file and its last
    segment's length. The same few for every record of a tape file: worked out once."""
    parts, last = awstape.record_vectors(bytes(length), previous)
    headers = tuple(bytes(part) for part in parts[0::2])
    bounds = []
    start = 0
    for part in parts[1::2]:
        bounds.append((start, start + len(part)))
        start += len(part)
    return headers, tuple(bounds), awstape.encoded_size(length), last


def _pwritev_all(fd: int, parts: list[bytes | memoryview], size: int, offset: int) -> None:
    """All `size` bytes of `parts` at `offset`: one pwritev of at most IOV_MAX parts, and
    more only for what the kernel left (a regular file takes all unless its disk fills or a
    signal comes) or for the parts past IOV_MAX."""
    while size := size - (written := os.pwritev(fd, parts[:IOV_MAX], offset)):
        offset += written
        parts = _skip(parts, written)


def _skip(parts: list[bytes | memoryview], count: int) -> list[bytes | memoryview]:
    """`parts` without their first `count` bytes."""
    views = [memoryview(part) for part in parts]
    while views and count >= len(views[0]):
        count -= len(views.pop(0))
    if views and count:
        views[0] = views[0][count:]
    return list(views)
