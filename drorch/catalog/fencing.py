"""Fenced writes and slot claims, inside a transaction of the caller's.

A daemon writes with a Fence (its node name and the epoch it won): its run starts and
evidence appends carry the epoch, and in their own transaction read the leadership row
with a share lock (PostgreSQL: FOR SHARE, so that a takeover's UPDATE waits for the fenced
writes in flight, and every later fenced write sees the new epoch). A row whose epoch is
not the fence's refuses the write with Deposed, and the transaction is rolled back. An
operator's command writes without a fence (epoch NULL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from drorch.catalog import models
from drorch.catalog.models import RunStatus
from drorch.errors import Deposed, SlotTaken

LEADERSHIP_ID = 1

_LEADERSHIP = cast(Table, models.Leadership.__table__)
_CLAIMS = cast(Table, models.SlotClaim.__table__)
_RUNS = cast(Table, models.Run.__table__)

READ_EPOCH = (  # share-locks the row until the transaction ends
    select(_LEADERSHIP.c.epoch, _LEADERSHIP.c.node)
    .where(_LEADERSHIP.c.id == LEADERSHIP_ID)
    .with_for_update(read=True)
)


@dataclass
class Fence:
    """This daemon's node name and the epoch it leads at (None: it does not lead, and every
    fenced write is refused). Set by the daemon's leadership; read by the writers."""

    node: str
    epoch: int | None = None

    def held(self) -> int:
        """The epoch, or Deposed when this node does not lead."""
        epoch = self.epoch
        if epoch is None:
            raise Deposed(f"node {self.node} does not lead")
        return epoch


def check_fence(session: Session, epoch: int) -> None:
    """Raise Deposed unless the leadership row's epoch is `epoch` (the one this write
    carries). Share-locks the row until the caller's transaction ends."""
    row = session.execute(READ_EPOCH).one()
    if row.epoch != epoch:
        raise Deposed(
            f"leadership lost to {row.node or 'another node'} at epoch {row.epoch}",
            leader=row.node,
            epoch=row.epoch,
        )


def insert_claim(session: Session, **values: Any) -> bool:
    """Insert a slot claim (job, action, slot_at, epoch, node, run_id, claimed_at) unless
    its slot has one; whether it was inserted."""
    dialect = session.bind.dialect.name  # type: ignore[union-attr]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement: Any = insert(_CLAIMS).values(values).on_conflict_do_nothing()
    return session.execute(statement.returning(_CLAIMS.c.id)).first() is not None


def claim_slot(
    session: Session,
    *,
    job: str,
    action: str,
    slot_at: datetime,
    run_id: int,
    epoch: int | None,
    node: str | None,
    now: datetime,
) -> None:
    """Claim the slot for run `run_id`; SlotTaken when another run holds it. A claim whose
    run was INTERRUPTED (its node died) moves to this run: compare-and-swap on the run's
    status, so that one slot never has two live runs. So does a claim the leader assigned
    to this run's node and no run took yet (see `assign`)."""
    if insert_claim(
        session,
        job=job,
        action=action,
        slot_at=slot_at,
        epoch=epoch,
        node=node,
        run_id=run_id,
        claimed_at=now,
    ):
        return
    interrupted = exists().where(
        _RUNS.c.id == _CLAIMS.c.run_id, _RUNS.c.status == RunStatus.INTERRUPTED
    )
    waiting_here = and_(_CLAIMS.c.run_id.is_(None), _CLAIMS.c.node == bindparam("c_node"))
    moved = session.execute(
        update(_CLAIMS)
        .where(
            and_(
                _CLAIMS.c.job == bindparam("c_job"),
                _CLAIMS.c.action == bindparam("c_action"),
                _CLAIMS.c.slot_at == bindparam("c_slot", type_=_CLAIMS.c.slot_at.type),
                or_(interrupted, waiting_here),
            )
        )
        .values(run_id=run_id, epoch=epoch, node=node, claimed_at=now),
        {"c_job": job, "c_action": action, "c_slot": slot_at, "c_node": node},
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise SlotTaken(f"the {slot_at.isoformat()} slot of {action} of {job} is taken")
