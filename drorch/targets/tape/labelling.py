"""`drorch tape label`: give blank cartridges a pool's scratch label, refuse the rest.

A scratch label is a drorch label (format/label.py) whose media set is the nil UUID: the
cartridge belongs to the pool but holds no media set yet. The catalog records it BLANK
for that pool; tape-out writes the label of a media set over it.

Nothing on a cartridge is written over without `force`; with it, still never a cartridge
the catalog says holds a media set that has not expired under its pool's retention.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from drorch.catalog import Catalog
from drorch.catalog.tape import CartridgeRecord, cartridge, media_set
from drorch.catalog.tape_media import mark_scratch
from drorch.config.model import Pool
from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import TapeError
from drorch.targets.tape.format.errors import ForeignLabel, TapeFormatError
from drorch.targets.tape.format.label import LABEL_RECORD, Label, read_label, write_label
from drorch.targets.tape.library import TapeLibrary
from drorch.targets.tape.mount import borrowed
from drorch.targets.tape.pool import expires_at

SCRATCH_MEDIA_SET = uuid.UUID(int=0)


def is_scratch(label: Label) -> bool:
    return label.media_set == SCRATCH_MEDIA_SET


class Outcome(enum.StrEnum):
    LABELLED = "labelled"
    ALREADY = "already labelled"  # a scratch label of the same pool: nothing written
    SKIPPED = "skipped"  # write-protected, or not blank under --all-blank
    REFUSED = "refused"


@dataclass(frozen=True)
class LabelResult:
    barcode: str
    outcome: Outcome
    found: str  # what file 0 held: "blank", "a scratch label of pool weekly", ...
    detail: str = ""


def describe(label: Label) -> str:
    if is_scratch(label):
        return f"a scratch label of pool {label.pool}"
    return (
        f"the label of media set {label.media_set} (pool {label.pool}, cartridge {label.sequence})"
    )


def label_cartridges(
    library: TapeLibrary,
    catalog: Catalog,
    barcodes: Sequence[str],
    *,
    pool_name: str,
    pool_of: Callable[[str], Pool],
    force: bool,
    blank_only: bool,
    now: datetime,
) -> list[LabelResult]:
    """Label each cartridge in turn (loaded, read, written, unloaded back); a refusal is
    reported and the next cartridge is done. `blank_only` (--all-blank) skips, rather
    than refuses, a cartridge that is not blank."""
    results = []
    for barcode in barcodes:
        with borrowed(library, barcode) as drive:
            if drive.status().write_protected:
                results.append(
                    LabelResult(barcode, Outcome.SKIPPED, "-", "write-protected: not labelled")
                )
                continue
            label, found = _read(drive)
            if label is not None and is_scratch(label) and label.pool == pool_name:
                mark_scratch(catalog, barcode, pool=pool_name, at=label.written_at,
                             label_bytes=LABEL_RECORD)  # fmt: skip
                results.append(LabelResult(barcode, Outcome.ALREADY, found))
                continue
            if found != "blank":
                if blank_only:
                    results.append(LabelResult(barcode, Outcome.SKIPPED, found, "not blank"))
                    continue
                why = _refusal(catalog, barcode, label, pool_of, force=force, now=now)
                if why is not None:
                    results.append(LabelResult(barcode, Outcome.REFUSED, found, why))
                    continue
            write_label(
                drive,
                Label(barcode, pool_name, SCRATCH_MEDIA_SET, 1, now, drive.record_size),
            )
        mark_scratch(catalog, barcode, pool=pool_name, at=now, label_bytes=LABEL_RECORD)
        results.append(LabelResult(barcode, Outcome.LABELLED, found))
    return results


def _read(drive: Drive) -> tuple[Label | None, str]:
    try:
        label = read_label(drive)
    except ForeignLabel as exc:
        return None, f"a label drorch did not write ({exc.found})"
    except (TapeFormatError, TapeError) as exc:
        return None, f"a label drorch cannot read ({exc})"
    return label, "blank" if label is None else describe(label)


def _refusal(
    catalog: Catalog,
    barcode: str,
    label: Label | None,
    pool_of: Callable[[str], Pool],
    *,
    force: bool,
    now: datetime,
) -> str | None:
    """Why a cartridge that is not blank is not labelled; None when --force may."""
    held = _unexpired(catalog, cartridge(catalog, barcode), label, pool_of, now)
    if held is not None:
        return held + ": not written over, even with --force"
    return None if force else "not written over without --force"


def _unexpired(
    catalog: Catalog,
    record: CartridgeRecord | None,
    label: Label | None,
    pool_of: Callable[[str], Pool],
    now: datetime,
) -> str | None:
    ids = {record.media_set_id} if record is not None and record.media_set_id else set()
    if label is not None and not is_scratch(label):
        ids.add(str(label.media_set))
    for media_set_id in sorted(ids):
        held = media_set(catalog, media_set_id)
        if held is None:
            continue  # another catalog's set: --force is the operator's word on it
        try:
            until = expires_at(pool_of(held.pool), held)
        except KeyError:  # a pool no longer configured: the set's own expiry
            until = held.expires_at
        if until is None:
            return f"the catalog keeps its media set {held.id} forever"
        if now < until:
            return f"the catalog keeps its media set {held.id} until {until.isoformat()}"
    return None
