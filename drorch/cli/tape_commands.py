"""Handlers of `drorch tape inventory` and `drorch tape status` (re-exported by commands).

Both ask the hardware (the changer's inventory, each drive's status), never the catalog:
they show what the library holds now, whatever drorch believes it wrote there.
"""

from __future__ import annotations

import argparse
from typing import Any

from drorch.cli.render import print_json, print_table
from drorch.config import Config, load_config, resolve_root
from drorch.errors import UsageError
from drorch.targets.tape.changer import Inventory
from drorch.targets.tape.drive import DriveStatus
from drorch.targets.tape.errors import DriveBusy, NoSuchElement
from drorch.targets.tape.library import TapeLibrary, open_library


def tape_target_name(config: Config, given: str | None) -> str:
    """The tape target a command is about: the one named, or the only one there is."""
    names = sorted(name for name, target in config.targets.items() if target.kind == "tape")
    if given is not None:
        if given not in config.targets:
            raise UsageError(f"no target {given!r} in drorch.yaml (tape targets: {_list(names)})")
        if given not in names:
            raise UsageError(
                f"target {given!r} is not a tape target (tape targets: {_list(names)})"
            )
        return given
    if len(names) != 1:
        raise UsageError(
            "name the tape target: drorch.yaml has "
            + (f"{len(names)} ({', '.join(names)})" if names else "none")
        )
    return names[0]


def _list(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def _library(args: argparse.Namespace) -> tuple[str, TapeLibrary]:
    config = load_config(resolve_root(args.config))
    name = tape_target_name(config, args.target)
    target = config.targets[name]
    return name, open_library(target)  # type: ignore[arg-type]  # a tape target, checked above


def cmd_tape_inventory(args: argparse.Namespace) -> int:
    name, library = _library(args)
    if library.changer is None:
        raise UsageError(f"tape target {name!r} has a lone drive and no changer: no inventory")
    inventory = library.changer.inventory()
    if args.json:
        print_json({"target": name, **inventory_json(inventory)})
        return 0
    rows: list[tuple[Any, ...]] = [
        (f"drive {d.number}", "full" if d.full else "empty", d.barcode, _kind(d.barcode, d.full))
        for d in inventory.drives
    ]
    rows += [
        (
            f"{'import/export' if s.import_export else 'slot'} {s.number}",
            "full" if s.full else "empty",
            s.barcode,
            _kind(s.barcode, s.full),
        )
        for s in inventory.slots
    ]
    print_table(["element", "state", "barcode", "note"], rows, empty="no elements")
    return 0


def _kind(barcode: str | None, full: bool) -> str:
    if not full:
        return ""
    if barcode is None:
        return "no readable barcode"
    return "cleaning cartridge" if barcode.upper().startswith("CLN") else ""


def inventory_json(inventory: Inventory) -> dict[str, Any]:
    return {
        "drives": [
            {
                "drive": d.number,
                "full": d.full,
                "barcode": d.barcode,
                "source_slot": d.source_slot,
            }
            for d in inventory.drives
        ],
        "slots": [
            {
                "slot": s.number,
                "full": s.full,
                "barcode": s.barcode,
                "import_export": s.import_export,
                "cleaning": s.cleaning,
            }
            for s in inventory.slots
        ],
    }


def cmd_tape_status(args: argparse.Namespace) -> int:
    name, library = _library(args)
    bays = library.changer.inventory().drives if library.changer is not None else ()
    count = max(len(bays), 1)
    drives: list[dict[str, Any]] = []
    for number in range(count):
        barcode = bays[number].barcode if bays else None
        try:
            with library.open_drive(number) as drive:
                drives.append(_drive_json(number, barcode, drive.status(), None))
        except (DriveBusy, NoSuchElement) as exc:
            drives.append(_drive_json(number, barcode, None, str(exc)))
    if args.json:
        print_json({"target": name, "drives": drives})
        return 0
    print_table(
        ["drive", "cartridge", "loaded", "position", "flags", "note"],
        [
            (
                d["drive"],
                d["barcode"],
                "-" if d["loaded"] is None else ("yes" if d["loaded"] else "no"),
                _position(d),
                " ".join(d["flags"]),
                d["note"],
            )
            for d in drives
        ],
        empty="no drives",
    )
    return 0


FLAGS = ("bot", "eof", "eod", "early_warning", "write_protected", "cleaning_requested")


def _drive_json(
    number: int, barcode: str | None, status: DriveStatus | None, note: str | None
) -> dict[str, Any]:
    return {
        "drive": number,
        "barcode": barcode,
        "loaded": None if status is None else status.loaded,
        "file_number": None if status is None else status.file_number,
        "block_number": None if status is None else status.block_number,
        "flags": [] if status is None else [f for f in FLAGS if getattr(status, f)],
        "note": note,
    }


def _position(drive: dict[str, Any]) -> str:
    if drive["file_number"] is None:
        return "-"
    return f"file {drive['file_number']}, block {drive['block_number']}"
