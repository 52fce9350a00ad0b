"""A virtual tape library in a folder: one AWSTAPE file per cartridge and a state file.

    var/vtl/
      library.json     changer state: drives, slots, cartridges and their flags
      library.lock     flock held while the state changes
      drive0.lock      flock held by the process that has drive 0 open (its pid inside)
      DRO001L8.aws     cartridge DRO001L8, AWSTAPE; an empty file is a blank tape
      ...

The operator's hands are here too: write-protect tabs, and cartridges put into or taken
out of the library through its slots.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drorch.targets.tape.changer import is_cleaning
from drorch.targets.tape.drive import DEFAULT_RECORD_SIZE
from drorch.targets.tape.errors import (
    CartridgeNotInLibrary,
    ElementEmpty,
    ElementFull,
    LibraryStateError,
)
from drorch.targets.tape.virtual import state as library_state
from drorch.targets.tape.virtual.changer import VirtualChanger
from drorch.targets.tape.virtual.drive import VirtualDrive
from drorch.targets.tape.virtual.state import (
    CartridgeState,
    DriveState,
    LibraryState,
    SlotState,
)

EARLY_WARNING_SHARE = 50  # the early-warning zone is 1/50 (2%) of a cartridge by default


def barcode_series(count: int, *, prefix: str = "DRO", suffix: str = "L8") -> list[str]:
    """LTO-style labels: DRO001L8, DRO002L8, ... (six characters and the media type)."""
    return [f"{prefix}{number:03d}{suffix}" for number in range(1, count + 1)]


@dataclass(frozen=True)
class VirtualLibrary:
    folder: Path

    @classmethod
    def create(
        cls,
        folder: Path,
        *,
        slots: int,
        capacity: int,
        drives: int = 1,
        import_export: int = 1,
        early_warning: int | None = None,
        barcodes: Sequence[str | None] | None = None,
    ) -> VirtualLibrary:
        """A new library: `slots` storage slots holding `barcodes` (default DRO001L8, ...;
        None leaves a slot empty), then `import_export` empty mail slots, `drives` empty
        drives, and blank cartridges of `capacity` bytes."""
        if drives < 1 or slots < 1 or import_export < 0:
            raise LibraryStateError("a library has at least one drive and one slot")
        if (folder / library_state.STATE_FILE).exists():
            raise LibraryStateError(f"{folder} already holds a virtual tape library")
        labels = list(barcodes) if barcodes is not None else barcode_series(slots)
        if len(labels) > slots:
            raise LibraryStateError(f"{len(labels)} cartridges do not fit in {slots} slots")
        warning = early_warning if early_warning is not None else capacity // EARLY_WARNING_SHARE
        labels += [None] * (slots - len(labels))
        state = LibraryState(
            drives=[DriveState(number) for number in range(drives)],
            slots=[SlotState(n, label) for n, label in enumerate(labels, start=1)]
            + [SlotState(slots + n, None, import_export=True) for n in range(1, import_export + 1)],
            cartridges={
                label: CartridgeState(capacity=capacity, early_warning=warning)
                for label in labels
                if label is not None
            },
        )
        state.check()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        library = cls(folder)
        for label in state.cartridges:
            library._blank(label)
        library_state.write_state(folder, state)
        return library

    @classmethod
    def open(cls, folder: Path) -> VirtualLibrary:
        library_state.read_state(folder)
        return cls(folder)

    @classmethod
    def open_or_create(
        cls,
        folder: Path,
        *,
        slots: int,
        capacity: int,
        drives: int = 1,
        import_export: int = 1,
        early_warning: int | None = None,
    ) -> VirtualLibrary:
        """The library in `folder`, created with default cartridges when the folder is
        missing or empty; never over files that are not a library (a lost state file).
        An existing library keeps the shape it was created with."""
        if (folder / library_state.STATE_FILE).exists():
            return cls.open(folder)
        if folder.exists() and any(folder.iterdir()):
            raise LibraryStateError(
                f"{folder} holds files but no {library_state.STATE_FILE}: not starting a new "
                "library over them"
            )
        return cls.create(
            folder,
            slots=slots,
            capacity=capacity,
            drives=drives,
            import_export=import_export,
            early_warning=early_warning,
        )

    def changer(self) -> VirtualChanger:
        return VirtualChanger(self.folder)

    def drive(self, number: int = 0, *, record_size: int = DEFAULT_RECORD_SIZE) -> VirtualDrive:
        return VirtualDrive(self.folder, number, record_size=record_size)

    def cartridge_path(self, barcode: str) -> Path:
        return self.folder / f"{barcode}{library_state.CARTRIDGE_SUFFIX}"

    # -- the operator's hands -----------------------------------------------------------

    def set_write_protect(self, barcode: str, protected: bool = True) -> None:
        with library_state.updating(self.folder) as state:
            if barcode not in state.cartridges:
                raise CartridgeNotInLibrary(barcode)
            state.cartridges[barcode].write_protected = protected

    def remove(self, slot: int) -> str:
        """Take the cartridge out of `slot` (usually an import/export slot): it leaves the
        library, its file stays, and `insert` can bring it back. Returns its barcode."""
        with library_state.updating(self.folder) as state:
            element = state.slot(slot)
            if element.barcode is None:
                raise ElementEmpty(f"slot {slot} is empty")
            barcode, element.barcode = element.barcode, None
            state.outside.append(barcode)
        return barcode

    def insert(self, barcode: str, slot: int, *, capacity: int | None = None) -> None:
        """Put a cartridge into `slot`: one taken out before, or a new blank one (of
        `capacity` bytes, default that of the library's other cartridges)."""
        with library_state.updating(self.folder) as state:
            element = state.slot(slot)
            if element.barcode is not None:
                raise ElementFull(f"slot {slot} already holds {element.barcode}")
            if barcode in state.outside:
                state.outside.remove(barcode)
            elif barcode in state.cartridges:
                raise LibraryStateError(f"cartridge {barcode} is already in the library")
            else:
                size = capacity or max((c.capacity for c in state.cartridges.values()), default=0)
                if size < 1:
                    raise LibraryStateError(f"a capacity is needed for the new cartridge {barcode}")
                warning = size // EARLY_WARNING_SHARE
                state.cartridges[barcode] = CartridgeState(capacity=size, early_warning=warning)
                state.check()
                self._blank(barcode)
            element.barcode = barcode

    def _blank(self, barcode: str) -> None:
        if is_cleaning(barcode):
            return  # a cleaning cartridge holds no data
        fd = os.open(self.cartridge_path(barcode), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
