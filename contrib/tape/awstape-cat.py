#!/usr/bin/env python3
"""Print one tape file of an AWSTAPE cartridge image, as a tape drive would read it.

    awstape-cat.py CARTRIDGE.aws N > file-N.tar      the records of tape file N, in order
    awstape-cat.py --list CARTRIDGE.aws              tape files and their records

drorch's virtual library keeps each cartridge as an AWSTAPE file (the format of the
Hercules emulator): every block is stored as segments, each behind a 6-byte header:
data length (2 bytes, little-endian), previous segment's length (2 bytes), flags
(0x80 first segment of a record, 0x20 last, 0x40 tapemark), and a zero byte. This script
knows only that, and the Python standard library: it proves that a cartridge is read
without drorch. Pipe a data file to tar:

    awstape-cat.py DRO001L8.aws 2 | tar -x -C staging
"""

from __future__ import annotations

import argparse
import struct
import sys
from collections.abc import Iterator
from typing import BinaryIO

HEADER = struct.Struct("<HHBB")
NEWREC, TAPEMARK, ENDREC = 0x80, 0x40, 0x20


def blocks(image: BinaryIO) -> Iterator[bytes | None]:
    """The records of the image in order, None for each tapemark."""
    record: list[bytes] = []
    while True:
        header = image.read(HEADER.size)
        if not header:
            break
        if len(header) < HEADER.size:
            raise SystemExit("awstape-cat: the image ends inside a block header")
        length, _previous, flags, _ = HEADER.unpack(header)
        if flags & TAPEMARK:
            yield None
            continue
        if bool(flags & NEWREC) != (not record):
            raise SystemExit("awstape-cat: segments out of order: not an AWSTAPE image")
        data = image.read(length)
        if len(data) < length:
            raise SystemExit("awstape-cat: the image ends inside a record")
        record.append(data)
        if flags & ENDREC:
            yield b"".join(record)
            record = []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list tape files and records")
    parser.add_argument("image", help="the cartridge's AWSTAPE file")
    parser.add_argument("file", nargs="?", type=int, help="tape file number, 0 is the first")
    args = parser.parse_args()
    if not args.list and args.file is None:
        parser.error("name a tape file number, or --list")
    number, count, size = 0, 0, 0
    out = sys.stdout.buffer
    with open(args.image, "rb", buffering=1 << 20) as image:
        for block in blocks(image):
            if block is None:
                if args.list:
                    print(f"file {number}: {count} records, {size} bytes")
                elif number == args.file:
                    return 0
                number, count, size = number + 1, 0, 0
                continue
            count, size = count + 1, size + len(block)
            if not args.list and number == args.file:
                out.write(block)
    if args.list and count:
        print(f"file {number}: {count} records, {size} bytes (no filemark after it)")
    if not args.list and (args.file > number or (args.file == number and not count)):
        print(f"awstape-cat: the image holds no tape file {args.file}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
