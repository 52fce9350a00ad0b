"""Pool allocation: one table of situations, each changing which cartridge is written next
or why none may be."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from drorch.catalog.models import CartridgeLocation, CartridgeState
from drorch.catalog.tape import CartridgeRecord, MediaSetRecord
from drorch.config.model import Pool
from drorch.targets.tape.changer import DriveBay, Inventory, Slot
from drorch.targets.tape.pool import Allocation, NoCartridgeForPool, allocate, expires_at

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WEEKLY = Pool(retention="28d", media_set={"max_age": "7d"})


def media_set(
    id: str, *, age: int = 1, last: int | None = None, closed: bool = False,
    target: str = "vault", pool: str = "weekly", expires: timedelta | None = 28 * DAY,
) -> MediaSetRecord:  # fmt: skip
    """A media set opened `age` days ago, last written `last` days ago (default: when
    opened), expiring 28 days after that by default."""
    written = NOW - (last if last is not None else age) * DAY
    return MediaSetRecord(
        id=id,
        pool=pool,
        target=target,
        opened_at=NOW - age * DAY,
        last_written_at=written,
        closed_at=written if closed else None,
        expires_at=None if expires is None else written + expires,
    )


def cartridge(
    barcode: str, state: CartridgeState = CartridgeState.BLANK, *, media_set: str | None = None,
    sequence: int | None = None, pool: str | None = None, protected: bool = False,
) -> CartridgeRecord:  # fmt: skip
    return CartridgeRecord(
        barcode=barcode,
        pool=pool if pool is not None else ("weekly" if media_set else None),
        media_set_id=media_set,
        sequence=sequence,
        state=state,
        write_protected=protected,
        location=CartridgeLocation.SLOT,
        element=None,
        last_seen_at=NOW,
        bytes_written=0,
        labelled_at=NOW if media_set else None,
    )


def library(*slots: str | None, mail: str | None = None, drive: str | None = None) -> Inventory:
    storage = [Slot(n, code is not None, code) for n, code in enumerate(slots, start=1)]
    ie = Slot(len(slots) + 1, mail is not None, mail, import_export=True)
    return Inventory(drives=(DriveBay(0, drive is not None, drive),), slots=(*storage, ie))


@dataclass(frozen=True)
class Case:
    inventory: Inventory
    cartridges: tuple[CartridgeRecord, ...] = ()
    sets: tuple[MediaSetRecord, ...] = ()
    pool: Pool = WEEKLY
    expected: Allocation | None = None
    error: str | None = None


LIB = library("DRO001L8", "DRO002L8")
LABELLED, FULL = CartridgeState.LABELLED, CartridgeState.FULL

CASES = {
    "a new library: a new set on the first cartridge, read before labelling": Case(
        LIB, expected=Allocation("DRO001L8", None, 1, label=True, unread=True)
    ),
    "a cartridge known blank before one never read": Case(
        LIB, (cartridge("DRO002L8"),), expected=Allocation("DRO002L8", None, 1, label=True)
    ),
    "append to the open set's cartridge": Case(
        LIB,
        (cartridge("DRO001L8", LABELLED, media_set="S", sequence=1),),
        (media_set("S", age=6),),
        expected=Allocation("DRO001L8", "S", 1, label=False),
    ),
    "a set older than max_age is closed; a new one starts elsewhere": Case(
        LIB,
        (cartridge("DRO001L8", LABELLED, media_set="S", sequence=1),),
        (media_set("S", age=7),),
        expected=Allocation("DRO002L8", None, 1, label=True, unread=True, close_media_set="S"),
    ),
    "a full cartridge: the set continues on the next": Case(
        LIB,
        (cartridge("DRO001L8", FULL, media_set="S", sequence=1),),
        (media_set("S"),),
        expected=Allocation("DRO002L8", "S", 2, label=True, unread=True),
    ),
    "the set's cartridge left the library: the set continues on the next": Case(
        library(None, "DRO002L8"),
        (cartridge("DRO001L8", LABELLED, media_set="S", sequence=1),),
        (media_set("S"),),
        expected=Allocation("DRO002L8", "S", 2, label=True, unread=True),
    ),
    "the set's cartridge is write-protected: the set continues, with a warning": Case(
        LIB,
        (cartridge("DRO001L8", LABELLED, media_set="S", sequence=1, protected=True),),
        (media_set("S"),),
        expected=Allocation(
            "DRO002L8",
            "S",
            2,
            label=True,
            unread=True,
            warnings=("DRO001L8 is write-protected: the media set continues on another cartridge",),
        ),
    ),
    "another target's open set of the pool is not appended to": Case(
        LIB,
        (cartridge("DRO001L8", LABELLED, media_set="S", sequence=1),),
        (media_set("S", target="other"),),
        expected=Allocation("DRO002L8", None, 1, label=True, unread=True),
    ),
    "an expired set's cartridge is reused, the longest expired first": Case(
        LIB,
        (
            cartridge("DRO001L8", FULL, media_set="A", sequence=1),
            cartridge("DRO002L8", FULL, media_set="B", sequence=1),
        ),
        (
            media_set("A", age=40, last=30, closed=True),
            media_set("B", age=50, last=40, closed=True),
        ),
        expected=Allocation("DRO002L8", None, 1, label=True),
    ),
    "a shorter retention in the config does not shorten a recorded expiry": Case(
        library("DRO001L8"),
        (cartridge("DRO001L8", FULL, media_set="A", sequence=1),),
        (media_set("A", age=40, last=30, closed=True, expires=60 * DAY),),
        error="DRO001L8: holds media set A, kept until 2027-01-05T02:00:00+00:00",
    ),
    "a longer retention in the config keeps a set past its recorded expiry": Case(
        library("DRO001L8"),
        (cartridge("DRO001L8", FULL, media_set="A", sequence=1),),
        (media_set("A", age=40, last=30, closed=True),),
        pool=Pool(retention="35d"),
        error="DRO001L8: holds media set A, kept until 2026-12-11T02:00:00+00:00",
    ),
    "retention forever: never reused": Case(
        library("DRO001L8"),
        (cartridge("DRO001L8", FULL, media_set="A", sequence=1),),
        (media_set("A", age=400, last=390, closed=True),),
        pool=Pool(retention="forever"),
        error="DRO001L8: holds media set A, kept forever",
    ),
    "a set unknown to the catalog keeps its cartridge": Case(
        library("DRO001L8"),
        (cartridge("DRO001L8", FULL, media_set="GONE", sequence=1),),
        error="DRO001L8: its media set GONE is not in the catalog",
    ),
    "cleaning, foreign, retired, other pool, mail slot: none is taken": Case(
        library("CLN001L1", "DRO003L8", "DRO004L8", "DRO005L8", mail="DRO006L8"),
        (
            cartridge("DRO003L8", CartridgeState.FOREIGN),
            cartridge("DRO004L8", CartridgeState.RETIRED),
            cartridge("DRO005L8", FULL, media_set="M", sequence=1, pool="monthly"),
        ),
        (media_set("M", age=400, last=390, closed=True, pool="monthly"),),
        error="CLN001L1: a cleaning cartridge; "
        "DRO003L8: holds a label or data that drorch did not write; DRO004L8: retired; "
        "DRO005L8: labelled for pool monthly; "
        "DRO006L8: in import/export slot 5, on its way in or out",
    ),
    "the pool's barcodes only": Case(
        library("DRO001L8", "VAULT2L8"),
        pool=Pool(retention="28d", barcodes="VAULT*"),
        expected=Allocation("VAULT2L8", None, 1, label=True, unread=True),
    ),
    "the pool's barcodes only, and none is there": Case(
        library("DRO001L8"),
        pool=Pool(retention="28d", barcodes=["VAULT*", "WK*"]),
        error="DRO001L8: not one of the pool's barcodes (VAULT*, WK*)",
    ),
    "a write-protected cartridge is skipped with a warning": Case(
        LIB,
        (cartridge("DRO001L8", protected=True),),
        expected=Allocation(
            "DRO002L8",
            None,
            1,
            label=True,
            unread=True,
            warnings=("DRO001L8 is write-protected: skipped",),
        ),
    ),
    "a cartridge in a drive is in the library": Case(
        library(None, drive="DRO009L8"),
        expected=Allocation("DRO009L8", None, 1, label=True, unread=True),
    ),
    "an empty library": Case(library(None), error="the library holds no cartridge"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_allocation(case: Case) -> None:
    def run() -> Allocation:
        return allocate(
            pool_name="weekly",
            pool=case.pool,
            target="vault",
            inventory=case.inventory,
            cartridges={c.barcode: c for c in case.cartridges},
            media_sets={m.id: m for m in case.sets},
            now=NOW,
        )

    if case.error is not None:
        with pytest.raises(NoCartridgeForPool) as caught:
            run()
        assert str(caught.value) == (
            f"pool weekly has no cartridge to write for target vault: {case.error}"
        )
        assert (caught.value.pool, caught.value.target) == ("weekly", "vault")
        return
    assert run() == case.expected


def test_a_failure_still_names_the_skipped_write_protected_cartridge() -> None:
    with pytest.raises(NoCartridgeForPool) as caught:
        allocate(
            pool_name="weekly", pool=WEEKLY, target="vault", inventory=library("DRO001L8"),
            cartridges={"DRO001L8": cartridge("DRO001L8", protected=True)}, media_sets={},
            now=NOW,
        )  # fmt: skip
    assert caught.value.refusals == {"DRO001L8": "write-protected"}


def test_expiry_is_the_later_of_recorded_and_configured() -> None:
    written = media_set("A", age=10, last=10)
    assert expires_at(WEEKLY, written) == NOW + 18 * DAY
    assert expires_at(Pool(retention="40d"), written) == NOW + 30 * DAY
    assert expires_at(WEEKLY, dataclasses.replace(written, expires_at=None)) is None
