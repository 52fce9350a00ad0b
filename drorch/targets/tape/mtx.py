"""A SCSI media changer through `mtx -f /dev/sgN` (mtx 1.3.12, Debian's package).

Commands are data: pure functions build the argv, `drorch.process.run` runs it, and a pure
parser reads `mtx status`. Its format is mtx.c's Status() (mtx-1.3.12/mtx.c):

      Storage Changer /dev/sg3:2 Drives, 24 Slots ( 4 Import/Export )
    Data Transfer Element 0:Full (Storage Element 3 Loaded):VolumeTag = DRO003L8
    Data Transfer Element 1:Empty
          Storage Element 1:Full :VolumeTag=DRO001L8
          Storage Element 21 IMPORT/EXPORT:Empty

The slot count includes the import/export slots. A drive loaded by hand shows "(Unknown
Storage Element Loaded)"; without barcodes (or with `nobarcode`) the ":VolumeTag" parts are
absent; a tag is the label's 36 bytes as the library sends them, padded with spaces, and
":AlternateVolumeTag" may follow it. mtx reports a refused move on stderr, "mtx: <reason>",
and exits 1; ERRORS maps its reasons (mtx.c Move(), Load(), Unload()) to typed errors.
"""

from __future__ import annotations

import re

from drorch import process
from drorch.targets.tape.changer import Changer, DriveBay, Inventory, Slot
from drorch.targets.tape.errors import (
    ChangerError,
    CleaningCartridge,
    DriveNotUnloaded,
    ElementEmpty,
    ElementFull,
    NoSuchElement,
)

MOVE_TIMEOUT = 15 * 60.0  # seconds: a robot may first scan its barcodes

_HEADER = re.compile(r"Storage Changer .*:(\d+) Drives, (\d+) Slots \( (\d+) Import/Export \)")
_TAG = r"(?::VolumeTag\s*=\s*(?P<tag>.*?))?(?::AlternateVolumeTag\s*=.*?)?\s*"
_DRIVE = re.compile(
    r"Data Transfer Element (?P<n>\d+):(?P<state>Empty|Full)"
    r"(?:\s*\((?:Storage Element (?P<source>\d+)|Unknown Storage Element) Loaded\))?" + _TAG
)
_SLOT = re.compile(
    r"Storage Element (?P<n>\d+)(?P<ie> IMPORT/EXPORT)?:(?P<state>Empty|Full)\s*" + _TAG
)

ERRORS: tuple[tuple[re.Pattern[str], type[ChangerError]], ...] = (
    (re.compile(r"Drive needs offline before move"), DriveNotUnloaded),
    (re.compile(r"Cleaning Cartridge Installed"), CleaningCartridge),
    (re.compile(r"Drive \d+ Full|is Already Full"), ElementFull),
    (re.compile(r"Element \d+ is Empty|Element Address \d+ is Empty"), ElementEmpty),
    (re.compile(r"[Ii]nvalid|illegal"), NoSuchElement),
)


def status_command(device: str, *, binary: str = "mtx") -> tuple[str, ...]:
    return (binary, "-f", device, "status")


def load_command(device: str, slot: int, drive: int, *, binary: str = "mtx") -> tuple[str, ...]:
    return (binary, "-f", device, "load", str(slot), str(drive))


def unload_command(device: str, slot: int, drive: int, *, binary: str = "mtx") -> tuple[str, ...]:
    # mtx takes the slot first and the drive second, both needed to name a drive other
    # than 0; "unload 0 ..." would not mean "the source slot" but slot -1.
    return (binary, "-f", device, "unload", str(slot), str(drive))


def transfer_command(
    device: str, source: int, destination: int, *, binary: str = "mtx"
) -> tuple[str, ...]:
    return (binary, "-f", device, "transfer", str(source), str(destination))


def parse_status(text: str) -> Inventory:
    """The inventory `mtx status` printed; ChangerError when it is not mtx's format or
    its element counts contradict its header."""
    header: tuple[int, int, int] | None = None
    drives: list[DriveBay] = []
    slots: list[Slot] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if found := _HEADER.fullmatch(line):
            header = (int(found[1]), int(found[2]), int(found[3]))
        elif found := _DRIVE.fullmatch(line):
            tag = found["tag"] or None
            source = int(found["source"]) if found["source"] else None
            drives.append(DriveBay(int(found["n"]), found["state"] == "Full", tag, source))
        elif found := _SLOT.fullmatch(line):
            tag = found["tag"] or None
            full = found["state"] == "Full"
            slots.append(Slot(int(found["n"]), full, tag, import_export=bool(found["ie"])))
        else:
            raise ChangerError(f"mtx status, line {number}: not understood: {line!r}")
    if header is None:
        raise ChangerError("mtx status: no 'Storage Changer' line")
    counted = (len(drives), len(slots), sum(slot.import_export for slot in slots))
    if counted != header:
        raise ChangerError(
            f"mtx status announces {header[0]} drives, {header[1]} slots, {header[2]} "
            f"import/export, and lists {counted[0]}, {counted[1]}, {counted[2]}"
        )
    return Inventory(drives=tuple(drives), slots=tuple(slots))


def changer_error(completed: process.Completed) -> ChangerError:
    """The typed error for a failed mtx run, from its stderr."""
    text = "\n".join(completed.stderr)
    reason = next(
        (line.removeprefix("mtx: ") for line in reversed(completed.stderr) if line.strip()),
        f"exit code {completed.returncode}",
    )
    kind = next((kind for pattern, kind in ERRORS if pattern.search(text)), ChangerError)
    if completed.timed_out:
        kind, reason = ChangerError, "timed out"
    return kind(f"{' '.join(completed.argv)}: {reason}")


class MtxChanger(Changer):
    def __init__(
        self,
        device: str,
        *,
        binary: str = "mtx",
        timeout: float = MOVE_TIMEOUT,
    ) -> None:
        self.device = device
        self.binary = binary
        self.timeout = timeout

    def inventory(self) -> Inventory:
        completed = self._mtx(status_command(self.device, binary=self.binary))
        return parse_status("\n".join(completed.stdout))

    def load(self, slot: int, drive: int = 0) -> None:
        self._mtx(load_command(self.device, slot, drive, binary=self.binary))

    def unload(self, drive: int = 0, slot: int | None = None) -> None:
        if slot is None:
            bay = self.inventory().drive(drive)
            if not bay.full:
                raise ElementEmpty(f"{self.device}: drive {drive} is empty")
            if bay.source_slot is None:
                raise ChangerError(
                    f"{self.device}: the changer does not know which slot drive {drive}'s "
                    "cartridge came from; name the slot"
                )
            slot = bay.source_slot
        self._mtx(unload_command(self.device, slot, drive, binary=self.binary))

    def transfer(self, source: int, destination: int) -> None:
        self._mtx(transfer_command(self.device, source, destination, binary=self.binary))

    def _mtx(self, argv: tuple[str, ...]) -> process.Completed:
        try:
            completed = process.run(argv, timeout=self.timeout)
        except FileNotFoundError as exc:
            raise ChangerError(f"{argv[0]} is not installed (Debian: apt-get install mtx)") from exc
        if completed.returncode != 0 or completed.timed_out:
            raise changer_error(completed)
        return completed
