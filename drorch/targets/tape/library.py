"""A tape target's hardware, chosen once from its config: a changer and its drives.

    library = open_library(target)          # TapeTarget: `virtual:` or `drive:`/`changer:`
    library.changer.load(3, 0)              # None for a lone drive without a changer
    with library.open_drive(0) as drive:
        ...

Everything above this asks the library for what it needs and never tests its kind, so
pointing a target at /dev/nst0 and /dev/sg3 instead of a folder is a change of config.
"""

from __future__ import annotations

import abc

from drorch.config.model import TapeTarget
from drorch.targets.tape.changer import Changer
from drorch.targets.tape.drive import DEFAULT_RECORD_SIZE, Drive
from drorch.targets.tape.errors import NoSuchElement
from drorch.targets.tape.mtx import MtxChanger
from drorch.targets.tape.st import LinuxDrive
from drorch.targets.tape.virtual import VirtualLibrary


class TapeLibrary(abc.ABC):
    changer: Changer | None
    record_size: int  # the target's, used when open_drive is not told another

    @abc.abstractmethod
    def open_drive(self, number: int = 0, *, record_size: int | None = None) -> Drive:
        """Open drive `number` (the changer's numbering) for this process."""


class VirtualTapeLibrary(TapeLibrary):
    def __init__(self, library: VirtualLibrary, *, record_size: int = DEFAULT_RECORD_SIZE) -> None:
        self.library = library
        self.changer = library.changer()
        self.record_size = record_size

    def open_drive(self, number: int = 0, *, record_size: int | None = None) -> Drive:
        return self.library.drive(number, record_size=record_size or self.record_size)


class LinuxTapeLibrary(TapeLibrary):
    """st drives (/dev/nstN), behind an mtx changer or one on its own (its number is 0)."""

    def __init__(
        self,
        drives: tuple[str, ...],
        changer: Changer | None,
        *,
        record_size: int = DEFAULT_RECORD_SIZE,
    ) -> None:
        self.drives = drives
        self.changer = changer
        self.record_size = record_size

    def open_drive(self, number: int = 0, *, record_size: int | None = None) -> Drive:
        if not 0 <= number < len(self.drives):
            raise NoSuchElement(f"no drive {number} is configured ({', '.join(self.drives)})")
        return LinuxDrive(self.drives[number], record_size=record_size or self.record_size)


def open_library(target: TapeTarget) -> TapeLibrary:
    if target.virtual is not None:
        virtual = target.virtual
        library = VirtualLibrary.open_or_create(
            virtual.path,
            slots=virtual.slots,
            capacity=virtual.capacity,
            drives=virtual.drives,
            import_export=virtual.import_export,
            early_warning=virtual.early_warning.bytes_of(virtual.capacity),
        )
        return VirtualTapeLibrary(library, record_size=target.record_size)
    changer = MtxChanger(target.changer) if target.changer else None
    return LinuxTapeLibrary(target.devices, changer, record_size=target.record_size)
