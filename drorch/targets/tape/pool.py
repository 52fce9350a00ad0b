"""Which cartridge a tape target writes next: pure logic over the pool's config, what the
library holds and what the catalog knows; no I/O.

    allocation = allocate(
        pool_name="weekly", pool=settings.pool("weekly"), target="vault",
        inventory=changer.inventory(), cartridges=..., media_sets=..., now=utc_now(),
    )

In order: append to the last cartridge of the target's open media set while the set is
younger than the pool's `media_set.max_age` and the cartridge is not full; else continue
the set on a new cartridge; else (no open set, or it grew too old and is closed) start a
new set. A new cartridge is, by preference, one known to be blank, then one never read,
then one whose media set expired longest ago; never a cleaning cartridge, one outside the
pool's barcode patterns, one labelled for another pool or by someone else, or one holding
a media set that has not expired. Write-protected cartridges are skipped with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from drorch.catalog.models import CartridgeState
from drorch.catalog.tape import CartridgeRecord, MediaSetRecord
from drorch.config.model import Pool
from drorch.targets.tape.changer import Inventory, is_cleaning
from drorch.targets.tape.errors import TapeError


class NoCartridgeForPool(TapeError):
    """No cartridge of the library may be written for the pool; says why for each."""

    def __init__(self, pool: str, target: str, refusals: Mapping[str, str]) -> None:
        self.pool, self.target, self.refusals = pool, target, dict(refusals)
        reasons = "; ".join(f"{code}: {why}" for code, why in sorted(refusals.items()))
        super().__init__(
            f"pool {pool} has no cartridge to write for target {target}: "
            + (reasons or "the library holds no cartridge")
        )


@dataclass(frozen=True)
class Allocation:
    """Where the next write goes. `media_set_id` None: open a new media set (closing
    `close_media_set` first when given); `label`: write the label of `sequence` first;
    `unread`: the cartridge was never read, so the caller reads it before labelling and
    refuses it if it holds anything (it becomes FOREIGN or BLANK in the catalog)."""

    barcode: str
    media_set_id: str | None
    sequence: int
    label: bool
    unread: bool = False
    close_media_set: str | None = None
    warnings: tuple[str, ...] = ()


def expires_at(pool: Pool, media_set: MediaSetRecord) -> datetime | None:
    """When a media set's cartridges may be reused: the later of its recorded expiry and
    its last write (or opening) plus the pool's retention now; None is never."""
    if pool.retention is None or media_set.expires_at is None:
        return None
    last = media_set.last_written_at or media_set.opened_at
    return max(media_set.expires_at, last + pool.retention)


def allocate(
    *,
    pool_name: str,
    pool: Pool,
    target: str,
    inventory: Inventory,
    cartridges: Mapping[str, CartridgeRecord],
    media_sets: Mapping[str, MediaSetRecord],
    now: datetime,
) -> Allocation:
    """The cartridge to write next for `target`; NoCartridgeForPool when none fits.
    `cartridges` and `media_sets` are the catalog's, by barcode and by id."""
    warnings: list[str] = []
    present = _present(inventory)
    current, close = _open_set(pool_name, pool, target, media_sets, now)
    sequence = 1
    if current is not None:
        members = sorted(
            (c for c in cartridges.values() if c.media_set_id == current.id),
            key=lambda c: c.sequence or 0,
        )
        last = members[-1] if members else None
        if last is not None:
            sequence = (last.sequence or 0) + 1
            if last.state is CartridgeState.LABELLED and last.barcode in present:
                if not last.write_protected:
                    return Allocation(last.barcode, current.id, last.sequence or 1, label=False)
                warnings.append(
                    f"{last.barcode} is write-protected: the media set continues on another "
                    "cartridge"
                )
    refusals: dict[str, str] = {}
    ranked: list[tuple[tuple[int, str], str, bool]] = []
    for barcode in sorted(present):
        why, rank = _judge(barcode, present[barcode], pool_name, pool, cartridges, media_sets, now)
        if why is not None:
            refusals[barcode] = why
            if why == WRITE_PROTECTED:
                warnings.append(f"{barcode} is write-protected: skipped")
            continue
        record = cartridges.get(barcode)
        ranked.append(
            ((rank, _order_key(record, pool, media_sets, barcode)), barcode, rank == _UNREAD)
        )
    if not ranked:
        raise NoCartridgeForPool(pool_name, target, refusals)
    _, barcode, unread = min(ranked)
    return Allocation(
        barcode,
        current.id if current is not None else None,
        sequence if current is not None else 1,
        label=True,
        unread=unread,
        close_media_set=close,
        warnings=tuple(warnings),
    )


WRITE_PROTECTED = "write-protected"
_BLANK, _UNREAD, _EXPIRED = 0, 1, 2


def _present(inventory: Inventory) -> dict[str, str | None]:
    """Barcodes in a drive or a storage slot (None), or in a mail slot (the reason)."""
    present: dict[str, str | None] = {}
    for drive in inventory.drives:
        if drive.barcode:
            present[drive.barcode] = None
    for slot in inventory.slots:
        if slot.barcode:
            present[slot.barcode] = (
                f"in import/export slot {slot.number}, on its way in or out"
                if slot.import_export
                else None
            )
    return present


def _open_set(
    pool_name: str,
    pool: Pool,
    target: str,
    media_sets: Mapping[str, MediaSetRecord],
    now: datetime,
) -> tuple[MediaSetRecord | None, str | None]:
    """The target's newest open set of the pool, and the id of one too old to append to."""
    mine = [
        m
        for m in media_sets.values()
        if m.target == target and m.pool == pool_name and not m.closed
    ]
    if not mine:
        return None, None
    newest = max(mine, key=lambda m: (m.opened_at, m.id))
    if now - newest.opened_at >= pool.media_set.max_age:
        return None, newest.id
    return newest, None


def _judge(
    barcode: str,
    place: str | None,
    pool_name: str,
    pool: Pool,
    cartridges: Mapping[str, CartridgeRecord],
    media_sets: Mapping[str, MediaSetRecord],
    now: datetime,
) -> tuple[str | None, int]:
    """Why the cartridge may not start (or continue) a media set, or None and its rank."""
    if is_cleaning(barcode):
        return "a cleaning cartridge", 0
    if not pool.takes(barcode):
        return f"not one of the pool's barcodes ({', '.join(pool.barcodes)})", 0
    if place is not None:
        return place, 0
    record = cartridges.get(barcode)
    if record is None or record.state is CartridgeState.UNKNOWN:
        return (WRITE_PROTECTED, 0) if record and record.write_protected else (None, _UNREAD)
    if record.state is CartridgeState.RETIRED:
        return "retired", 0
    if record.state is CartridgeState.FOREIGN:
        return "holds a label or data that drorch did not write", 0
    if record.pool is not None and record.pool != pool_name:
        return f"labelled for pool {record.pool}", 0
    if record.media_set_id is not None:
        held = media_sets.get(record.media_set_id)
        if held is None:
            return f"its media set {record.media_set_id} is not in the catalog", 0
        until = expires_at(pool, held)
        if until is None:
            return f"holds media set {held.id}, kept forever", 0
        if now < until:
            return f"holds media set {held.id}, kept until {until.isoformat()}", 0
    if record.write_protected:
        return WRITE_PROTECTED, 0
    return None, _BLANK if record.state is CartridgeState.BLANK else _EXPIRED


def _order_key(
    record: CartridgeRecord | None,
    pool: Pool,
    media_sets: Mapping[str, MediaSetRecord],
    barcode: str,
) -> str:
    """Within a rank: the set that expired longest ago first, then by barcode."""
    held = media_sets.get(record.media_set_id) if record and record.media_set_id else None
    until = expires_at(pool, held) if held is not None else None
    return f"{until.isoformat() if until else ''}|{barcode}"
