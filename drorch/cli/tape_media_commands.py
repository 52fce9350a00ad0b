"""Handlers of the tape commands that move or write cartridges: `tape label`, `tape
export`, `tape import` and `tape scan` (re-exported by commands).

Every argument is checked before the first cartridge moves: a barcode not in the
library, a cleaning cartridge, too few free slots refuse the whole command (exit 2 for
bad usage, 1 for what the library cannot do).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from drorch.actions.rebuild import CopiesRead, read_back_copies
from drorch.catalog import Catalog, utc_now
from drorch.cli.opening import open_command_catalog
from drorch.cli.render import iso_utc, local, print_json, print_table
from drorch.cli.tape_commands import open_tape
from drorch.config import Config, load_config, resolve_root
from drorch.config.model import Pool
from drorch.errors import EXIT_FAILED, DrorchError, UsageError
from drorch.targets.tape.changer import Changer, Inventory, is_cleaning
from drorch.targets.tape.labelling import Outcome, label_cartridges
from drorch.targets.tape.library import TapeLibrary
from drorch.targets.tape.scan import ScanResult, scan_cartridges, scannable
from drorch.targets.tape.vault import Move, export_cartridges, import_cartridges


def _target_and_barcodes(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """The config, and TARGET BARCODE... with TARGET optional: the first word is the
    target when drorch.yaml names a target so."""
    words: list[str] = list(args.names)
    config = load_config(resolve_root(args.config))
    if words and words[0] in config.targets:
        args.target = words.pop(0)
    else:
        args.target = None
    return config, words


def _require_changer(name: str, library: TapeLibrary) -> Changer:
    if library.changer is None:
        raise UsageError(f"tape target {name!r} has a lone drive and no changer")
    return library.changer


def _inventory(name: str, library: TapeLibrary) -> Inventory:
    return _require_changer(name, library).inventory()


def _check_present(inventory: Inventory, barcodes: Sequence[str]) -> None:
    missing = [b for b in barcodes if b not in inventory.barcodes()]
    if missing:
        raise UsageError(
            f"not in the library: {', '.join(missing)} (it holds "
            f"{', '.join(inventory.barcodes()) or 'no cartridge'})"
        )


def cmd_tape_label(args: argparse.Namespace) -> int:
    loaded, barcodes = _target_and_barcodes(args)
    if bool(barcodes) == bool(args.all_blank):
        raise UsageError("name the cartridges to label, or give --all-blank (not both)")
    if args.all_blank and args.force:
        raise UsageError("--all-blank labels blank cartridges only: --force does not apply")
    config, name, library = open_tape(args, loaded)
    target = config.targets[name]
    pool_name = args.pool or target.pool  # type: ignore[union-attr]  # a tape target
    pool = _pool(config, pool_name)
    inventory = _inventory(name, library)
    if args.all_blank:
        barcodes = [b for b in scannable(inventory) if pool.takes(b)]
    _check_present(inventory, barcodes)
    cleaning = [b for b in barcodes if is_cleaning(b)]
    if cleaning:
        raise UsageError(f"cleaning cartridges are never labelled: {', '.join(cleaning)}")
    outside = [b for b in barcodes if not pool.takes(b)]
    if outside:
        raise UsageError(
            f"pool {pool_name} takes barcodes {', '.join(pool.barcodes)}, not " + ", ".join(outside)
        )
    catalog = open_command_catalog(config)
    try:
        results = label_cartridges(
            library,
            catalog,
            barcodes,
            pool_name=pool_name,
            pool_of=config.settings.pool,
            force=args.force,
            blank_only=args.all_blank,
            now=utc_now(),
        )
    finally:
        catalog.close()
    refused = any(r.outcome is Outcome.REFUSED for r in results)
    if args.json:
        print_json(
            {
                "target": name,
                "pool": pool_name,
                "cartridges": [
                    {"barcode": r.barcode, "outcome": r.outcome.value, "found": r.found,
                     "detail": r.detail or None}
                    for r in results
                ],
            }
        )  # fmt: skip
    else:
        print_table(
            ["barcode", "outcome", "found", "detail"],
            [(r.barcode, r.outcome.value, r.found, r.detail) for r in results],
            empty="no cartridge to label",
        )
    return EXIT_FAILED if refused else 0


def _pool(config: Config, pool_name: str) -> Pool:
    pools = config.settings.pools
    names = {t.pool for t in config.targets.values() if t.kind == "tape"}
    if pools is not None:
        names |= set(pools)
    if pool_name not in names:
        raise UsageError(f"no pool {pool_name!r} (pools: {', '.join(sorted(names))})")
    return config.settings.pool(pool_name)


def cmd_tape_export(args: argparse.Namespace) -> int:
    loaded, barcodes = _target_and_barcodes(args)
    if not barcodes:
        raise UsageError("name the cartridges to export")
    config, name, library = open_tape(args, loaded)
    _check_present(_inventory(name, library), barcodes)
    catalog = open_command_catalog(config)
    try:
        moves = export_cartridges(library, catalog, barcodes, at=utc_now())
    finally:
        catalog.close()
    _moves(name, moves, args.json, "take the cartridges out of the import/export slots")
    return 0


def cmd_tape_import(args: argparse.Namespace) -> int:
    config, name, library = open_tape(args)
    _require_changer(name, library)  # import_cartridges reads the inventory
    catalog = open_command_catalog(config)
    try:
        moves = import_cartridges(library, catalog, args.slots, at=utc_now())
    finally:
        catalog.close()
    _moves(name, moves, args.json, "the import/export slots held no cartridge")
    return 0


def _moves(name: str, moves: list[Move], as_json: bool, note: str) -> None:
    if as_json:
        print_json(
            {
                "target": name,
                "moved": [
                    {"barcode": m.barcode, "from": m.source, "to_slot": m.slot} for m in moves
                ],
            }
        )
        return
    print_table(
        ["barcode", "from", "to slot"],
        [(m.barcode, m.source, m.slot) for m in moves],
        empty=note,
    )


def cmd_tape_scan(args: argparse.Namespace) -> int:
    loaded, barcodes = _target_and_barcodes(args)
    config, name, library = open_tape(args, loaded)
    inventory = _inventory(name, library)
    if not barcodes:
        barcodes = scannable(inventory)
    _check_present(inventory, barcodes)
    cleaning = [b for b in barcodes if is_cleaning(b)]
    if cleaning:
        raise UsageError(f"cleaning cartridges hold no data: {', '.join(cleaning)}")
    catalog = open_command_catalog(config)
    try:
        results = scan_cartridges(
            library, catalog, barcodes, target=name, pool_of=config.settings.pool, now=utc_now()
        )
        copies, failed = _read_back(config, catalog, name, results)
    finally:
        catalog.close()
    if args.json:
        print_json(
            {
                "target": name,
                "cartridges": [
                    {
                        "barcode": r.barcode,
                        "found": r.found,
                        "recorded": r.recorded,
                        "media_set": r.media_set,
                        "sequence": r.sequence,
                        "archives": r.archives,
                        "files": r.files,
                    }
                    for r in results
                ],
                "snapshots": _copies_json(copies, failed),
            }
        )
    else:
        print_table(
            ["barcode", "found", "media set", "seq", "archives", "files", "recorded"],
            [
                (r.barcode, r.found, r.media_set, r.sequence, r.archives, r.files,
                 "yes" if r.recorded else "NO")
                for r in results
            ],
            empty="no cartridge to scan",
        )  # fmt: skip
        _print_copies(name, copies, failed)
    ok = all(r.recorded for r in results) and failed is None
    return 0 if ok else EXIT_FAILED


def _read_back(
    config: Config, catalog: Catalog, name: str, results: Sequence[ScanResult]
) -> tuple[CopiesRead | None, str | None]:
    """The snapshots the target's newest media set holds, recorded in the catalog, once
    the scan found a media set; (None, why) when they could not be read."""
    if not any(r.media_set for r in results):
        return None, None
    try:
        return read_back_copies(config, catalog, name), None
    except DrorchError as exc:
        return None, str(exc)


def _copies_json(copies: CopiesRead | None, failed: str | None) -> dict[str, Any] | None:
    if copies is None:
        return None if failed is None else {"error": failed}
    return {
        "recorded": [
            {"job": s.job, "snapshot": s.snapshot_id, "original": s.original_id,
             "time": iso_utc(s.time), "status": s.status.value}
            for s in copies.recorded
        ],
        "known": copies.known,
        "skipped": list(copies.skipped),
    }  # fmt: skip


def _print_copies(name: str, copies: CopiesRead | None, failed: str | None) -> None:
    if failed is not None:
        print(f"snapshots on {name} not read back: {failed}")
    if copies is None:
        return
    print(
        f"snapshots on {name}: {len(copies.recorded)} recorded from the newest media set, "
        f"{copies.known} known already"
    )
    if copies.recorded:
        print_table(
            ["job", "snapshot", "copy of", "time", "status"],
            [
                (s.job, s.short_id, s.original_id[:8] if s.original_id else None, local(s.time),
                 s.status.value)
                for s in copies.recorded
            ],
        )  # fmt: skip
    for skipped in copies.skipped:
        print(f"not recorded, on {name}: {skipped}")
