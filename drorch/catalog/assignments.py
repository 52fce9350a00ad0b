"""Slots the leader assigns to another node (node affinity): a slot claim that names the
node and no run yet. That node's daemon finds it, and its run takes the claim in the
transaction that records the run (fencing.claim_slot moves a waiting claim of its node to
it), fenced by the epoch of the leader that assigned it: a slot still runs once, wherever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, exists, select, update

from drorch.catalog import models
from drorch.catalog.fencing import check_fence, insert_claim
from drorch.catalog.models import RunStatus
from drorch.catalog.store import Catalog, utc_now

_CLAIMS = cast(Table, models.SlotClaim.__table__)
_RUNS = cast(Table, models.Run.__table__)


@dataclass(frozen=True)
class Assignment:
    id: int
    job: str
    action: str
    slot_at: datetime
    epoch: int | None  # the assigning leader's: the run is fenced by it
    node: str


def assign(catalog: Catalog, *, job: str, action: str, slot_at: datetime, node: str) -> bool:
    """The leader's (its catalog carries its fence): claim the slot for `node` to run. A
    slot whose run was INTERRUPTED (its node died) is assigned again, by compare-and-swap
    on that run's status. False when the slot is claimed already (it ran or runs, or was
    assigned); Deposed when this daemon no longer leads, and nothing is written."""
    epoch = None if catalog.fence is None else catalog.fence.held()
    now = utc_now()
    with catalog.session() as session, session.begin():
        made = insert_claim(
            session,
            job=job,
            action=action,
            slot_at=slot_at,
            epoch=epoch,
            node=node,
            run_id=None,
            claimed_at=now,
        )
        if not made:
            interrupted = exists().where(
                _RUNS.c.id == _CLAIMS.c.run_id, _RUNS.c.status == RunStatus.INTERRUPTED
            )
            again = session.execute(
                update(_CLAIMS)
                .where(
                    _CLAIMS.c.job == job,
                    _CLAIMS.c.action == action,
                    _CLAIMS.c.slot_at == slot_at,
                    interrupted,
                )
                .values(run_id=None, node=node, epoch=epoch, claimed_at=now)
            )
            made = again.rowcount == 1  # type: ignore[attr-defined]
        if epoch is not None:
            check_fence(session, epoch)
    return made


def waiting_for(catalog: Catalog, node: str) -> list[Assignment]:
    """The slots assigned to `node` that no run took yet, oldest first."""
    query = (
        select(_CLAIMS)
        .where(_CLAIMS.c.run_id.is_(None), _CLAIMS.c.node == node)
        .order_by(_CLAIMS.c.slot_at, _CLAIMS.c.id)
    )
    with catalog.session() as session:
        return [
            Assignment(row.id, row.job, row.action, row.slot_at, row.epoch, row.node)
            for row in session.execute(query)
        ]


def adopt(catalog: Catalog, epoch: int) -> None:
    """A new leader's: the waiting assignments now carry its epoch (their runs are fenced
    by it; under the old one they would be refused)."""
    with catalog.session() as session, session.begin():
        session.execute(update(_CLAIMS).where(_CLAIMS.c.run_id.is_(None)).values(epoch=epoch))


def move(catalog: Catalog, claim_id: int, node: str) -> bool:
    """Give a waiting assignment to `node` (its node is gone); False if a run took it."""
    with catalog.session() as session, session.begin():
        moved = session.execute(
            update(_CLAIMS)
            .where(_CLAIMS.c.id == claim_id, _CLAIMS.c.run_id.is_(None))
            .values(node=node)
        )
        return bool(moved.rowcount)  # type: ignore[attr-defined]
