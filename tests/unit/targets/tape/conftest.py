"""Rigs for the tape contract suites: one library, every implementation in front of it.

Drives: "virtual" is VirtualDrive; "linux-st" is LinuxDrive talking to FakeSt, an
imitation of the st driver over the same virtual drive, so that LinuxDrive's reading of
errnos and status bits runs through the whole contract. Changers: "virtual" is
VirtualChanger; "mtx" is MtxChanger running fake_mtx.py, which prints what mtx prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drorch.targets.tape.changer import Changer
from drorch.targets.tape.drive import Drive
from drorch.targets.tape.mtx import MtxChanger
from drorch.targets.tape.st import LinuxDrive
from drorch.targets.tape.virtual import VirtualChanger, VirtualDrive, VirtualLibrary
from tests.unit.targets.tape.fake_st import FakeSt

RECORD = 4096
# 64 whole records and a filemark, with the early warning five records before the end
CAPACITY = 64 * (RECORD + 6) + 6
EARLY_WARNING = 5 * (RECORD + 6)
BARCODES = ["DRO001L8", "DRO002L8", "DRO003L8", "CLN001L1"]


@dataclass
class DriveRig:
    kind: str
    library: VirtualLibrary
    opened: list[Drive] = field(default_factory=list)

    def open(self, record_size: int = RECORD) -> Drive:
        drive: Drive
        if self.kind == "virtual":
            drive = VirtualDrive(self.library.folder, 0, record_size=record_size)
        else:
            drive = LinuxDrive("/dev/nst0", record_size=record_size, io=FakeSt(self.library))
        self.opened.append(drive)
        return drive

    def close_all(self) -> None:
        for drive in self.opened:
            drive.close()


def make_library(folder: Path) -> VirtualLibrary:
    return VirtualLibrary.create(
        folder,
        slots=6,
        capacity=CAPACITY,
        drives=2,
        import_export=2,
        early_warning=EARLY_WARNING,
        barcodes=BARCODES,
    )


@pytest.fixture
def library(tmp_path: Path) -> VirtualLibrary:
    return make_library(tmp_path / "vtl")


@pytest.fixture(params=["virtual", "linux-st"])
def rig(request: pytest.FixtureRequest, library: VirtualLibrary) -> Iterator[DriveRig]:
    """A library with DRO001L8 loaded in drive 0 (blank), opened by no one yet."""
    library.changer().load(1, 0)
    made = DriveRig(request.param, library)
    yield made
    made.close_all()


@pytest.fixture
def drive(rig: DriveRig) -> Drive:
    return rig.open()


@pytest.fixture
def fake_mtx(tmp_path: Path) -> Path:
    script = tmp_path / "bin" / "mtx"
    script.parent.mkdir()
    program = Path(__file__).with_name("fake_mtx.py")
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{program}" "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return script


ChangerFactory = Callable[[], Changer]


@pytest.fixture(params=["virtual", "mtx"])
def open_changer(
    request: pytest.FixtureRequest, library: VirtualLibrary, fake_mtx: Path
) -> ChangerFactory:
    """A way to open the library's changer anew (a fresh object, as a new process would)."""
    if request.param == "virtual":
        return lambda: VirtualChanger(library.folder)
    return lambda: MtxChanger(str(library.folder), binary=str(fake_mtx))


@pytest.fixture
def changer(open_changer: ChangerFactory) -> Changer:
    return open_changer()
