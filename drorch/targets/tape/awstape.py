"""The AWSTAPE format: a tape as one disk file, the format of the Hercules emulator.

Every block on tape is stored as one or more segments, each preceded by a 6-byte header:

    bytes 0-1  length of this segment's data, little-endian (0 for a tapemark)
    bytes 2-3  length of the previous segment's data, little-endian (0 at the start)
    byte  4    flags: 0x80 first segment of a record, 0x20 last segment of a record,
               0x40 tapemark (a filemark; length 0, no other flag)
    byte  5    flags, 0 (Hercules' HET format uses it for compression; AWSTAPE does not)

A record of up to 65535 bytes is one segment flagged 0xA0; a longer one is split into
segments of 65535 bytes and a shorter last one, flagged 0x80, 0x00, ..., 0x20. End of data
is the end of the file. Source: Hercules tapedev.h (AWSTAPE_BLKHDR, AWSTAPE_FLAG1_*) and
awstape.c (read_awstape, write_awstape, write_awsmark), hercules-390/hyperion on GitHub.

Pure functions only: encoding, and a scan of a file's headers into the blocks it holds.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

HEADER = struct.Struct("<HHBB")
NEWREC = 0x80
TAPEMARK = 0x40
ENDREC = 0x20
MAX_SEGMENT = 0xFFFF


@dataclass(frozen=True)
class Block:
    """One object on tape as the file stores it: a record or a tapemark."""

    offset: int  # where its first header starts
    end: int  # just past its last byte: where the next block starts
    length: int  # data bytes (0 for a tapemark)
    last_segment: int  # data length of its last segment, the next header's "previous"
    tapemark: bool


@dataclass(frozen=True)
class Scan:
    """The blocks of a cartridge file, up to the first byte that is not one.

    `end` is where the last whole block ends. Bytes after it are either a write that never
    completed (`torn`: the file ends inside a block, as after a crash; the tape's end of
    data is `end`) or `damage`, a reason: headers that do not chain (an unreadable spot).
    """

    blocks: tuple[Block, ...]
    end: int
    size: int
    damage: str | None = None

    @property
    def torn(self) -> bool:
        return self.damage is None and self.size > self.end


def segment_lengths(length: int) -> list[int]:
    full, rest = divmod(length, MAX_SEGMENT)
    return [MAX_SEGMENT] * full + ([rest] if rest else [])


def record_vectors(data: bytes | memoryview, previous: int) -> tuple[list[bytes | memoryview], int]:
    """The headers and data slices that store one record (for os.pwritev, no copy of the
    data), and the length of its last segment. `previous` is the data length of the
    segment before it on tape (0 at BOT)."""
    view = memoryview(data)
    lengths = segment_lengths(len(view))
    parts: list[bytes | memoryview] = []
    start = 0
    for index, length in enumerate(lengths):
        flags = (NEWREC if index == 0 else 0) | (ENDREC if index == len(lengths) - 1 else 0)
        parts.append(HEADER.pack(length, previous, flags, 0))
        parts.append(view[start : start + length])
        start += length
        previous = length
    return parts, previous


def encoded_size(length: int) -> int:
    """Bytes a record of `length` data bytes takes in the file."""
    return length + HEADER.size * len(segment_lengths(length))


def tapemark(previous: int) -> bytes:
    return HEADER.pack(0, previous, TAPEMARK, 0)


def record_data(stored: bytes) -> bytes:
    """The data of one stored record (its segments, headers included), headers removed."""
    view = memoryview(stored)
    parts = []
    position = 0
    while position < len(view):
        length = HEADER.unpack_from(view, position)[0]
        position += HEADER.size
        parts.append(view[position : position + length])
        position += length
    return b"".join(parts)


def scan(fd: int, size: int) -> Scan:
    """Read the headers of a cartridge file (not its data) into its blocks."""
    blocks: list[Block] = []
    offset = 0
    previous = 0
    while offset < size:
        block = _block_at(fd, size, offset, previous)
        if isinstance(block, str) or block is None:
            return Scan(tuple(blocks), offset, size, damage=block)
        blocks.append(block)
        offset, previous = block.end, block.last_segment
    return Scan(tuple(blocks), offset, size)


def _block_at(fd: int, size: int, offset: int, previous: int) -> Block | str | None:
    """The block at `offset`; None when the file ends inside it (a torn write); a reason
    when its headers are not AWSTAPE."""
    position = offset
    length = 0
    first = True
    while True:
        if position + HEADER.size > size:
            return None
        current, before, flags, flags2 = HEADER.unpack(os.pread(fd, HEADER.size, position))
        where = f"at byte {position}"
        if before != previous:
            return f"{where}: previous length {before}, the block before holds {previous}"
        if flags2 != 0 or flags & 0x1F:
            return f"{where}: flags {flags:#04x} {flags2:#04x} are not AWSTAPE's"
        if flags & TAPEMARK:
            if not first or current or flags != TAPEMARK:
                return f"{where}: a tapemark with data or other flags ({flags:#04x})"
            return Block(offset, position + HEADER.size, 0, 0, tapemark=True)
        if bool(flags & NEWREC) != first or current == 0:
            return f"{where}: segment of {current} bytes with flags {flags:#04x} out of order"
        position += HEADER.size + current
        if position > size:
            return None
        length += current
        previous = current
        first = False
        if flags & ENDREC:
            return Block(offset, position, length, current, tapemark=False)
