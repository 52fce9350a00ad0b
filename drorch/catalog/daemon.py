"""Catalog records of the daemon itself: its heartbeat, missed slots, runs left behind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update

from drorch.catalog import models
from drorch.catalog.models import RunStatus, StepStatus
from drorch.catalog.runbooks import end_steps
from drorch.catalog.store import Catalog, RunRecord, SnapshotRecord, _record, utc_now

HEARTBEAT = timedelta(seconds=10)  # how often a daemon writes its heartbeat
UP_WITHIN = 3 * HEARTBEAT  # a daemon silent for longer is not up


def register_node(
    catalog: Catalog, *, host: str, pid: int, version: str, name: str | None = None
) -> int:
    """Record this daemon (node `name`, default its host); also the first write, so a
    read-only catalog fails here."""
    now = utc_now()
    with catalog.session() as session, session.begin():
        row = models.Node(
            host=host,
            name=name or host,
            pid=pid,
            started_at=now,
            heartbeat_at=now,
            version=version,
        )
        session.add(row)
        session.flush()
        return row.id


def heartbeat(catalog: Catalog, node_id: int, *, stopped: bool = False) -> None:
    now = utc_now()
    values: dict[str, datetime] = {"heartbeat_at": now}
    if stopped:
        values["stopped_at"] = now
    with catalog.session() as session, session.begin():
        session.execute(update(models.Node).where(models.Node.id == node_id).values(**values))


def record_missed_slots(
    catalog: Catalog,
    job: str,
    action: str,
    slots: Sequence[datetime],
    *,
    caught_up_by: int | None = None,
) -> None:
    """Record `slots` of a job's action as missed, less those a run claimed: a slot that
    ran is never missed (the clock stepped back over it, then forward again)."""
    now = utc_now()
    claims = models.SlotClaim
    with catalog.session() as session, session.begin():
        claimed: set[datetime] = set()
        for start in range(0, len(slots), 500):
            query = select(claims.slot_at).where(
                claims.job == job,
                claims.action == action,
                claims.slot_at.in_(slots[start : start + 500]),
            )
            claimed.update(session.scalars(query))
        session.add_all(
            models.MissedSlot(
                job=job, action=action, slot_at=slot, recorded_at=now, caught_up_by=caught_up_by
            )
            for slot in slots
            if slot not in claimed
        )


def missed_slots(catalog: Catalog, *, job: str | None = None) -> list[tuple[str, str, datetime]]:
    query = select(models.MissedSlot).order_by(models.MissedSlot.slot_at)
    if job is not None:
        query = query.where(models.MissedSlot.job == job)
    with catalog.session() as session:
        return [(row.job, row.action, row.slot_at) for row in session.scalars(query)]


def running_on(catalog: Catalog, host: str) -> list[RunRecord]:
    """The runs RUNNING on host: one query on the runs' status index."""
    query = select(models.Run).where(
        models.Run.status == RunStatus.RUNNING, models.Run.host == host
    )
    with catalog.session() as session:
        return [_record(RunRecord, row) for row in session.scalars(query)]


def interrupt_run(
    catalog: Catalog, run_id: int, *, error: str, orphans: Sequence[SnapshotRecord] = ()
) -> RunRecord | None:
    """Mark a RUNNING run INTERRUPTED, and record the snapshots it left (`orphans`, those
    the catalog lacks), in one transaction; None when the run was no longer RUNNING.

    Compare-and-swap on the status: several processes may find the same dead run at once
    (every drorch command looks), and only the first records it and its snapshots.
    """
    now = utc_now()
    with catalog.session() as session, session.begin():
        done = session.execute(
            update(models.Run)
            .where(models.Run.id == run_id, models.Run.status == RunStatus.RUNNING)
            .values(status=RunStatus.INTERRUPTED, finished_at=now, error=error)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return None
        # A runbook run's step that was running died with it: said where its steps are read.
        end_steps(session, run_id, (StepStatus.RUNNING,), StepStatus.INTERRUPTED, error)
        for orphan in orphans:
            known = select(models.Snapshot.id).where(
                models.Snapshot.target == orphan.target,
                models.Snapshot.snapshot_id == orphan.snapshot_id,
            )
            if session.scalar(known) is None:
                values = {
                    name: getattr(orphan, name) for name in SnapshotRecord.__dataclass_fields__
                }
                session.add(
                    models.Snapshot(
                        **{**values, "paths": list(orphan.paths), "tags": list(orphan.tags)},
                        recorded_at=now,
                    )
                )
        record: RunRecord = _record(RunRecord, session.get_one(models.Run, run_id))
    return record
