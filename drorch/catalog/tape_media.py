"""The operator's tape writes to the catalog: scratch labels, vaulting, and which tape
targets hold a copy that is out of the library (offline, for compliance).

    mark_scratch(catalog, "DRO004L8", pool="weekly", at=now, label_bytes=10240)
    mark_exported(catalog, "DRO001L8", slot=9, at=now)
    vaulted_targets(catalog)            # {"vault"}: a media set of it is all exported

Coming back into the library is a sighting (drorch.catalog.tape.see_cartridges), which
turns EXPORTED back into FULL (a vaulted set is not appended to) or UNKNOWN.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from drorch.catalog import models
from drorch.catalog.models import CartridgeLocation, CartridgeState
from drorch.catalog.store import Catalog
from drorch.catalog.tape import CartridgeRecord, _cartridge, _forget_content


def _row(session: Session, barcode: str) -> models.Cartridge:
    """The cartridge's row, new (UNKNOWN) when the catalog never saw it."""
    row = session.get(models.Cartridge, barcode, with_for_update=True)
    if row is None:
        row = models.Cartridge(
            barcode=barcode, state=CartridgeState.UNKNOWN, write_protected=False, bytes_written=0
        )
        session.add(row)
    return row


def mark_scratch(
    catalog: Catalog, barcode: str, *, pool: str, at: datetime, label_bytes: int
) -> CartridgeRecord:
    """The cartridge holds only a scratch label of `pool` (no media set): BLANK for the
    pool's allocator, which writes the label of a media set over it. What the catalog
    knew to be on it before is forgotten."""
    with catalog.session() as session, session.begin():
        row = _row(session, barcode)
        _forget_content(session, row)
        session.flush()
        row.state, row.pool, row.labelled_at = CartridgeState.BLANK, pool, at
        row.bytes_written = label_bytes
        return _cartridge(row)


def mark_exported(catalog: Catalog, barcode: str, *, slot: int, at: datetime) -> CartridgeRecord:
    """The cartridge went to import/export slot `slot` to leave the library: EXPORTED,
    its location EXPORTED (element: the mail slot it left by)."""
    with catalog.session() as session, session.begin():
        row = _row(session, barcode)
        row.state, row.location = CartridgeState.EXPORTED, CartridgeLocation.EXPORTED
        row.element, row.last_seen_at = slot, at
        return _cartridge(row)


def vaulted_targets(catalog: Catalog) -> set[str]:
    """Tape targets with at least one media set holding archives whose every cartridge is
    exported: a copy out of the library, offline."""
    sets, carts, files = models.MediaSet, models.Cartridge, models.TapeFile
    query = (
        select(sets.target, sets.id, carts.state)
        .join(carts, carts.media_set_id == sets.id)
        .where(
            select(files.id)
            .where(files.media_set_id == sets.id, files.kind == models.TapeFileKind.ARCHIVE)
            .exists()
        )
    )
    exported: dict[tuple[str, str], bool] = {}
    with catalog.session() as session:
        for target, media_set_id, state in session.execute(query):
            key = (target, media_set_id)
            exported[key] = exported.get(key, True) and state is CartridgeState.EXPORTED
    return {target for (target, _), out in exported.items() if out}
