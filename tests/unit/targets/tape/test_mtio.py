"""<linux/mtio.h> in Python: request numbers and struct layouts, checked against the C
compiler's where one is installed, and status bits read as mt-st reports them."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from drorch.targets.tape import mtio
from drorch.targets.tape.drive import DriveStatus

PROBE = r"""
#include <stdio.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <linux/mtio.h>
int main(void) {
    printf("%lu %lu %lu\n", (unsigned long)MTIOCTOP, (unsigned long)MTIOCGET,
           (unsigned long)MTIOCPOS);
    printf("%zu %zu %zu\n", sizeof(struct mtop), sizeof(struct mtget), sizeof(struct mtpos));
    printf("%zu %zu %zu\n", offsetof(struct mtop, mt_count), offsetof(struct mtget, mt_gstat),
           offsetof(struct mtget, mt_blkno));
    printf("%d %d %d %d %d %d %d %d %d %d %d\n", MTFSF, MTBSF, MTFSR, MTBSR, MTWEOF, MTREW,
           MTOFFL, MTEOM, MTSETBLK, MTSEEK, MTLOAD);
    printf("%lu %lu %lu %lu %lu %lu %lu %lu\n", GMT_EOF(~0UL), GMT_BOT(~0UL), GMT_EOT(~0UL),
           GMT_EOD(~0UL), GMT_WR_PROT(~0UL), GMT_ONLINE(~0UL), GMT_DR_OPEN(~0UL), GMT_CLN(~0UL));
    return 0;
}
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the numbers of x86_64")
def test_x86_64_values() -> None:
    assert (mtio.MTIOCTOP, mtio.MTIOCGET, mtio.MTIOCPOS) == (0x40086D01, 0x80306D02, 0x80086D03)
    assert (mtio.MTOP.size, mtio.MTGET.size, mtio.MTPOS.size) == (8, 48, 8)
    assert mtio.mtop(mtio.MTFSF, 3) == bytes.fromhex("0100 0000 03000000")


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_the_c_compiler_agrees(tmp_path: Path) -> None:
    source = tmp_path / "probe.c"
    source.write_text(PROBE, encoding="utf-8")
    built = subprocess.run(["cc", "-o", str(tmp_path / "probe"), str(source)], check=False)
    if built.returncode != 0:
        pytest.skip("linux/mtio.h is not installed")
    lines = subprocess.run(
        [str(tmp_path / "probe")], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    numbers = [[int(word) for word in line.split()] for line in lines]
    assert numbers[0] == [mtio.MTIOCTOP, mtio.MTIOCGET, mtio.MTIOCPOS]
    assert numbers[1] == [mtio.MTOP.size, mtio.MTGET.size, mtio.MTPOS.size]
    assert numbers[2] == [4, 24, 44]  # as struct's native layout puts them: see the next test
    assert numbers[3] == [
        mtio.MTFSF, mtio.MTBSF, mtio.MTFSR, mtio.MTBSR, mtio.MTWEOF, mtio.MTREW,
        mtio.MTOFFL, mtio.MTEOM, mtio.MTSETBLK, mtio.MTSEEK, mtio.MTLOAD,
    ]  # fmt: skip
    assert numbers[4] == [
        mtio.GMT_EOF, mtio.GMT_BOT, mtio.GMT_EOT, mtio.GMT_EOD, mtio.GMT_WR_PROT,
        mtio.GMT_ONLINE, mtio.GMT_DR_OPEN, mtio.GMT_CLN,
    ]  # fmt: skip


def test_struct_fields_sit_where_c_puts_them() -> None:
    raw = mtio.MTGET.pack(0x72, 0, 0x1234, mtio.GMT_BOT, 0, 7, 9)
    assert raw[24:32] == mtio.GMT_BOT.to_bytes(8, "little")
    assert (raw[40:44], raw[44:48]) == ((7).to_bytes(4, "little"), (9).to_bytes(4, "little"))
    assert mtio.mtop(mtio.MTSETBLK, 0)[4:] == bytes(4)


def status(gstat: int, fileno: int, blkno: int) -> DriveStatus:
    return mtio.drive_status(mtio.parse_mtget(mtio.MTGET.pack(0x72, 0, 0, gstat, 0, fileno, blkno)))


def test_a_loaded_tape_at_bot_as_mt_status_shows_it() -> None:
    # mt-st, recorded in the comments of Bacula's bacula/src/stored/faketape.c (as in
    # rkorzeniewski/bacula) after `mtx load`:
    # "file number = 0 / block number = 0 / General status bits on (41010000): BOT ONLINE
    # IM_REP_EN"
    assert status(0x41010000, 0, 0) == DriveStatus(
        loaded=True, bot=True, eof=False, eod=False, early_warning=False,
        write_protected=False, file_number=0, block_number=0,
    )  # fmt: skip


def test_an_empty_drive_as_mt_status_shows_it() -> None:
    # mt-st, recorded in birdie1/tapebackup's README: "File number=-1, block number=-1 ...
    # General status bits on (50000): DR_OPEN IM_REP_EN"
    empty = status(0x50000, -1, -1)
    assert (empty.loaded, empty.file_number, empty.block_number) == (False, None, None)


def test_each_status_bit() -> None:
    bits = status(
        mtio.GMT_EOF | mtio.GMT_EOD | mtio.GMT_EOT | mtio.GMT_WR_PROT | mtio.GMT_ONLINE
        | mtio.GMT_CLN, 3, 0,
    )  # fmt: skip
    assert bits == DriveStatus(
        loaded=True, bot=False, eof=True, eod=True, early_warning=True, write_protected=True,
        file_number=3, block_number=0, cleaning_requested=True,
    )  # fmt: skip
