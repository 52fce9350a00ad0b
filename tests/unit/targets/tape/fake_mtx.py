"""`mtx` over a virtual library, for the changer contract: `fake_mtx.py -f FOLDER COMMAND`.

There is no changer here, so this stands in for mtx 1.3.12 the way the real one talks:
`status` printed with mtx.c Status()'s printf formats, moves announced on stdout as mtx.c
Load() and Unload() do, and refusals as FatalError() reports them ("mtx: <reason>" on
stderr, exit 1) with the reasons of mtx.c Move(), Load(), Unload() and Transfer(). Element
addresses in messages are slot numbers plus 1000, as a library's internal addresses
differ from mtx's numbering.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import drorch

# drorch/targets/__init__.py imports the disk target and with it the catalog and SQLAlchemy
# (half a second per run); the tape package needs none of it, so this run skips it.
_targets = types.ModuleType("drorch.targets")
_targets.__path__ = [str(Path(drorch.__file__).parent / "targets")]
sys.modules.setdefault("drorch.targets", _targets)

from drorch.targets.tape.changer import Inventory  # noqa: E402
from drorch.targets.tape.errors import (  # noqa: E402
    CleaningCartridge,
    DriveNotUnloaded,
    ElementEmpty,
    ElementFull,
    NoSuchElement,
)
from drorch.targets.tape.virtual import VirtualChanger  # noqa: E402


def status(device: str, inventory: Inventory) -> str:
    ie = len(inventory.import_export_slots)
    lines = [
        f"  Storage Changer {device}:{len(inventory.drives)} Drives, "
        f"{len(inventory.slots)} Slots ( {ie} Import/Export )"
    ]
    for drive in inventory.drives:
        text = f"Data Transfer Element {drive.number}:"
        if not drive.full:
            lines.append(text + "Empty")
            continue
        if drive.source_slot:
            text += f"Full (Storage Element {drive.source_slot} Loaded)"
        else:
            text += "Full (Unknown Storage Element Loaded)"
        lines.append(text + (f":VolumeTag = {drive.barcode:<36}" if drive.barcode else ""))
    for slot in inventory.slots:
        kind = " IMPORT/EXPORT" if slot.import_export else ""
        text = f"      Storage Element {slot.number}{kind}:"
        text += "Full " if slot.full else "Empty"
        lines.append(text + (f":VolumeTag={slot.barcode:<36}" if slot.barcode else ""))
    return "\n".join(lines) + "\n"


def fail(message: str) -> int:
    print(f"mtx: {message}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "-f":
        return fail("Usage: mtx [-f <scsi-generic-device>] command")
    device, command, numbers = argv[1], argv[2], [int(arg) for arg in argv[3:]]
    changer = VirtualChanger(Path(device))
    inventory = changer.inventory()
    if command == "status":
        print(status(device, inventory), end="")
        return 0
    if command == "load":
        slot, drive = numbers
        if not 1 <= slot <= len(inventory.slots):
            return fail(f"Invalid <storage-element-number> argument '{slot}' to 'load' command")
        if not 0 <= drive < len(inventory.drives):
            return fail(f"illegal <drive-number> argument '{drive}' to 'load' command")
        bay = inventory.drive(drive)
        if bay.full:
            return fail(f"Drive {drive} Full (Storage Element {bay.source_slot} loaded)")
        print(f"Loading media from Storage Element {slot} into drive {drive}...", end="")
        try:
            changer.load(slot, drive)
        except ElementEmpty:
            return fail(f"Source Element Address {1000 + slot} is Empty")
        except CleaningCartridge:
            return fail("Cleaning Cartridge Installed and Ejected")
        print("done")
        return 0
    if command == "unload":
        slot, drive = numbers
        if not 0 <= drive < len(inventory.drives):
            return fail(f"illegal <drive-number> argument '{drive}' to 'unload' command")
        if not 1 <= slot <= len(inventory.slots):
            return fail(f"illegal <storage-element-number> argument '{slot}' to 'unload' command")
        if not inventory.drive(drive).full:
            return fail(f"Data Transfer Element {drive} is Empty")
        if inventory.slot(slot).full:
            return fail(f"Storage Element {slot} is Already Full")
        print(f"Unloading drive {drive} into Storage Element {slot}...", end="")
        try:
            changer.unload(drive, slot)
        except DriveNotUnloaded:
            return fail("Drive needs offline before move")
        print("done")
        return 0
    if command == "transfer":
        source, destination = numbers
        for number, role in ((source, "source"), (destination, "destination")):
            if not 1 <= number <= len(inventory.slots):
                return fail(f"Invalid {role}")
        try:
            changer.transfer(source, destination)
        except ElementEmpty:
            return fail(f"Source Element Address {1000 + source} is Empty")
        except ElementFull:
            return fail(f"Destination Element Address {1000 + destination} is Already Full")
        except NoSuchElement as exc:
            return fail(str(exc))
        return 0
    return fail(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
