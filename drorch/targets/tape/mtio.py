"""<linux/mtio.h> as Python values: the magnetic tape ioctls, their structs and status bits.

Pure: request numbers, struct packing and the reading of MTIOCGET into a DriveStatus. The
structs use the platform's native layout (struct's "@"), as the C compiler lays them out:

    struct mtop  { short mt_op; int mt_count; };                       8 bytes on LP64
    struct mtget { long mt_type, mt_resid, mt_dsreg, mt_gstat, mt_erreg;
                   __kernel_daddr_t mt_fileno, mt_blkno; };             48 bytes (daddr_t: int)
    struct mtpos { long mt_blkno; };                                    8 bytes

Request numbers follow asm-generic/ioctl.h (x86, arm, arm64, riscv): direction in bits
30-31 (write 1, read 2), size in bits 16-29, type 'm' in bits 8-15, number in bits 0-7;
MTIOCTOP = _IOW('m', 1, struct mtop) = 0x40086d01 on x86_64. Source: the kernel's
include/uapi/linux/mtio.h; tests compare with a C program where a compiler is at hand.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drorch.targets.tape.drive import DriveStatus

# struct mtop operations (mt_op)
MTFSF = 1  # forward space over filemark, to the first record of the next file
MTBSF = 2  # backward space filemark (position before the mark)
MTFSR = 3  # forward space record
MTBSR = 4  # backward space record
MTWEOF = 5  # write filemarks
MTREW = 6  # rewind
MTOFFL = 7  # rewind and put the drive offline (eject)
MTEOM = 12  # to end of recorded media, after the last filemark
MTSETBLK = 20  # set block length; 0 is variable-length records
MTSEEK = 22  # to a logical block
MTLOAD = 30  # SCSI load

# mt_gstat bits (GMT_* macros)
GMT_EOF = 0x80000000
GMT_BOT = 0x40000000
GMT_EOT = 0x20000000
GMT_SM = 0x10000000
GMT_EOD = 0x08000000
GMT_WR_PROT = 0x04000000
GMT_ONLINE = 0x01000000
GMT_DR_OPEN = 0x00040000
GMT_IM_REP_EN = 0x00010000
GMT_CLN = 0x00008000

MTOP = struct.Struct("@hi")
MTGET = struct.Struct("@lllllii")
MTPOS = struct.Struct("@l")

_IOC_WRITE = 1
_IOC_READ = 2


def _ioc(direction: int, number: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("m") << 8) | number


MTIOCTOP = _ioc(_IOC_WRITE, 1, MTOP.size)
MTIOCGET = _ioc(_IOC_READ, 2, MTGET.size)
MTIOCPOS = _ioc(_IOC_READ, 3, MTPOS.size)


@dataclass(frozen=True)
class MtGet:
    type: int
    resid: int
    dsreg: int
    gstat: int
    erreg: int
    fileno: int
    blkno: int


def mtop(operation: int, count: int) -> bytes:
    """The argument of MTIOCTOP."""
    return MTOP.pack(operation, count)


def parse_mtget(raw: bytes) -> MtGet:
    return MtGet(*MTGET.unpack(raw))


def parse_mtpos(raw: bytes) -> int:
    position: int = MTPOS.unpack(raw)[0]
    return position


def drive_status(status: MtGet) -> DriveStatus:
    """MTIOCGET in the drive interface's terms (st fills -1 where it does not know)."""
    bits = status.gstat & 0xFFFFFFFF
    return DriveStatus(
        loaded=bool(bits & GMT_ONLINE) and not bits & GMT_DR_OPEN,
        bot=bool(bits & GMT_BOT),
        eof=bool(bits & GMT_EOF),
        eod=bool(bits & GMT_EOD),
        early_warning=bool(bits & GMT_EOT),
        write_protected=bool(bits & GMT_WR_PROT),
        file_number=status.fileno if status.fileno >= 0 else None,
        block_number=status.blkno if status.blkno >= 0 else None,
        cleaning_requested=bool(bits & GMT_CLN),
    )
