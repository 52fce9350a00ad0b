"""Handlers of `drorch tape inventory`, `tape status` and `tape list` (re-exported by
commands).

`inventory` and `status` ask the hardware (the changer's inventory, each drive's status)
where cartridges are; `inventory` adds beside each barcode what the catalog knows of it.
`list` is the catalog's view: media sets and their cartridges.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from drorch.catalog.tape import CartridgeRecord, MediaSetRecord, cartridges, media_sets
from drorch.cli.opening import open_command_catalog
from drorch.cli.render import iso_utc, local, print_json, print_table
from drorch.config import Config, load_config, resolve_root
from drorch.config.model import Pool
from drorch.config.units import format_size
from drorch.errors import UsageError
from drorch.targets.tape.changer import Inventory
from drorch.targets.tape.drive import DriveStatus
from drorch.targets.tape.errors import DriveBusy, NoSuchElement
from drorch.targets.tape.library import TapeLibrary, open_library
from drorch.targets.tape.pool import expires_at


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
    _, name, library = open_tape(args)
    return name, library


def open_tape(
    args: argparse.Namespace, config: Config | None = None
) -> tuple[Config, str, TapeLibrary]:
    """The config (loaded unless given), the tape target's name, and its library."""
    config = config or load_config(resolve_root(args.config))
    name = tape_target_name(config, args.target)
    target = config.targets[name]
    return config, name, open_library(target)  # type: ignore[arg-type]  # a tape target


def cmd_tape_inventory(args: argparse.Namespace) -> int:
    config, name, library = open_tape(args)
    if library.changer is None:
        raise UsageError(f"tape target {name!r} has a lone drive and no changer: no inventory")
    inventory = library.changer.inventory()
    catalog = open_command_catalog(config)
    try:
        known = {c.barcode: c for c in cartridges(catalog)}
    finally:
        catalog.close()
    if args.json:
        shown = inventory_json(inventory)
        for element in (*shown["drives"], *shown["slots"]):
            element["catalog"] = _catalog_json(known.get(element["barcode"] or ""))
        print_json({"target": name, **shown})
        return 0
    rows: list[tuple[Any, ...]] = [
        (f"drive {d.number}", "full" if d.full else "empty", d.barcode, *_known(known, d.barcode),
         _kind(d.barcode, d.full))
        for d in inventory.drives
    ]  # fmt: skip
    rows += [
        (
            f"{'import/export' if s.import_export else 'slot'} {s.number}",
            "full" if s.full else "empty",
            s.barcode,
            *_known(known, s.barcode),
            _kind(s.barcode, s.full),
        )
        for s in inventory.slots
    ]
    print_table(
        ["element", "state", "barcode", "pool", "media set", "seq", "catalog", "note"],
        rows,
        empty="no elements",
    )
    return 0


def _catalog_json(record: CartridgeRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "pool": record.pool,
        "media_set": record.media_set_id,
        "sequence": record.sequence,
        "state": record.state.value,
    }


def _known(known: dict[str, CartridgeRecord], barcode: str | None) -> tuple[Any, ...]:
    record = known.get(barcode or "")
    if record is None:
        return (None, None, None, "unknown" if barcode else None)
    short = record.media_set_id[:8] if record.media_set_id else None
    return (record.pool, short, record.sequence, record.state.value.lower())


def cmd_tape_list(args: argparse.Namespace) -> int:
    config, name, _ = open_tape(args)
    catalog = open_command_catalog(config)
    try:
        sets = media_sets(catalog, target=name)
        members = {m.id: cartridges(catalog, media_set_id=m.id) for m in sets}
        loose = [c for c in cartridges(catalog) if c.media_set_id is None]
    finally:
        catalog.close()
    settings = config.settings
    expiry = {m.id: _expiry(settings.pool, m) for m in sets}
    if args.json:
        print_json(
            {
                "target": name,
                "media_sets": [
                    {
                        "id": m.id,
                        "pool": m.pool,
                        "opened_at": iso_utc(m.opened_at),
                        "last_written_at": iso_utc(m.last_written_at),
                        "closed_at": iso_utc(m.closed_at),
                        "expires_at": iso_utc(expiry[m.id]),
                        "kept_forever": expiry[m.id] is None,
                        "cartridges": [_cartridge_json(c) for c in members[m.id]],
                    }
                    for m in sets
                ],
                "cartridges_without_media_set": [_cartridge_json(c) for c in loose],
            }
        )
        return 0
    rows: list[tuple[Any, ...]] = [
        (
            m.id[:8], m.pool, c.sequence, c.barcode, c.state.value.lower(), _where(c),
            format_size(c.bytes_written), local(m.last_written_at),
            "forever" if expiry[m.id] is None else local(expiry[m.id]),
        )
        for m in sets
        for c in members[m.id]
    ]  # fmt: skip
    rows += [
        ("-", c.pool, None, c.barcode, c.state.value.lower(), _where(c),
         format_size(c.bytes_written), None, None)
        for c in loose
    ]  # fmt: skip
    print_table(
        ["set", "pool", "seq", "barcode", "state", "location", "bytes", "written", "expires"],
        rows,
        empty=f"the catalog knows no cartridge of target {name}",
    )
    return 0


def _expiry(pool_of: Callable[[str], Pool], media_set: MediaSetRecord) -> datetime | None:
    try:
        return expires_at(pool_of(media_set.pool), media_set)
    except KeyError:
        return media_set.expires_at


def _where(record: CartridgeRecord) -> str:
    if record.location is None:
        return "-"
    place = record.location.value.lower().replace("_", "/")
    return place if record.element is None else f"{place} {record.element}"


def _cartridge_json(record: CartridgeRecord) -> dict[str, Any]:
    return {
        "barcode": record.barcode,
        "pool": record.pool,
        "media_set": record.media_set_id,
        "sequence": record.sequence,
        "state": record.state.value,
        "write_protected": record.write_protected,
        "location": None if record.location is None else record.location.value,
        "element": record.element,
        "bytes_written": record.bytes_written,
        "labelled_at": iso_utc(record.labelled_at),
        "last_seen_at": iso_utc(record.last_seen_at),
    }


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
