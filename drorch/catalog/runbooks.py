"""Runbook runs and the attempts at their steps: the only SQL for them.

A runbook run is a row of `runs` with action "runbook" and no job; its details name the
runbook, its file's SHA-256 and the parameters it was given. Each attempt at a step is a
row of `runbook_steps`: a step resumed after a failure gets a new attempt, and the earlier
one stays, so that the record shows every failure the run went through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from drorch.catalog import models
from drorch.catalog.models import StepStatus
from drorch.catalog.store import RUNBOOK, Catalog, RunRecord, _record, utc_now
from drorch.errors import CatalogError


@dataclass(frozen=True)
class StepRecord:
    id: int
    run_id: int
    position: int
    attempt: int
    name: str
    kind: str
    status: StepStatus
    actor: str
    started_at: datetime
    finished_at: datetime | None
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    summary: str | None
    error: str | None
    approved_by: str | None
    approved_at: datetime | None

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def start_step(
    catalog: Catalog,
    run_id: int,
    *,
    position: int,
    name: str,
    kind: str,
    actor: str,
    inputs: Mapping[str, Any],
) -> StepRecord:
    """Record a new attempt at step `position` of run `run_id`, RUNNING."""
    with catalog.session() as session, session.begin():
        tried = session.scalar(
            select(func.max(models.RunbookStep.attempt)).where(
                models.RunbookStep.run_id == run_id, models.RunbookStep.position == position
            )
        )
        row = models.RunbookStep(
            run_id=run_id,
            position=position,
            attempt=(tried or 0) + 1,
            name=name,
            kind=kind,
            status=StepStatus.RUNNING,
            actor=actor,
            started_at=utc_now(),
            inputs=dict(inputs),
        )
        session.add(row)
        session.flush()
        record: StepRecord = _record(StepRecord, row)
    return record


def finish_step(
    catalog: Catalog,
    step_id: int,
    status: StepStatus,
    *,
    outputs: Mapping[str, Any] | None = None,
    summary: str | None = None,
    error: str | None = None,
) -> StepRecord:
    """End a RUNNING attempt (WAITING leaves it open for an approval)."""
    values: dict[str, Any] = {"status": status, "summary": summary, "error": error}
    if outputs is not None:
        values["outputs"] = dict(outputs)
    if status is not StepStatus.WAITING:
        values["finished_at"] = utc_now()
    return _swap(catalog, step_id, StepStatus.RUNNING, values)


def approve_step(catalog: Catalog, step_id: int, *, by: str) -> StepRecord:
    """Record `by`'s approval of a WAITING step; CatalogError when it no longer waits (an
    approval given twice at once is taken once)."""
    now = utc_now()
    values = {
        "status": StepStatus.SUCCEEDED,
        "approved_by": by,
        "approved_at": now,
        "finished_at": now,
        "summary": f"approved by {by}",
    }
    return _swap(catalog, step_id, StepStatus.WAITING, values)


def end_open_steps(catalog: Catalog, run_id: int, status: StepStatus, error: str) -> int:
    """Mark `status` the attempts of a run still RUNNING or WAITING: those of a run found
    dead, or aborted. Returns how many."""
    with catalog.session() as session, session.begin():
        return end_steps(session, run_id, (StepStatus.RUNNING, StepStatus.WAITING), status, error)


def end_steps(
    session: Session, run_id: int, now: Sequence[StepStatus], status: StepStatus, error: str
) -> int:
    """In `session`'s transaction: mark `status` the attempts of a run that are `now` in one
    of those statuses. Returns how many."""
    done = session.execute(
        update(models.RunbookStep)
        .where(models.RunbookStep.run_id == run_id, models.RunbookStep.status.in_(now))
        .values(status=status, error=error, finished_at=utc_now())
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


def steps_of(catalog: Catalog, run_id: int) -> list[StepRecord]:
    """Every attempt at every step of a run, in order."""
    query = (
        select(models.RunbookStep)
        .where(models.RunbookStep.run_id == run_id)
        .order_by(models.RunbookStep.position, models.RunbookStep.attempt)
    )
    with catalog.session() as session:
        return [_record(StepRecord, row) for row in session.scalars(query)]


def runbook_runs(
    catalog: Catalog, *, runbook: str | None = None, limit: int | None = None
) -> list[RunRecord]:
    """Runbook runs, newest first; of one runbook when named."""
    runs = catalog.runs(action=RUNBOOK)
    if runbook is not None:
        runs = [r for r in runs if (r.details or {}).get("runbook") == runbook]
    return runs[:limit] if limit is not None else runs


def _swap(
    catalog: Catalog, step_id: int, expected: StepStatus, values: Mapping[str, Any]
) -> StepRecord:
    with catalog.session() as session, session.begin():
        done = session.execute(
            update(models.RunbookStep)
            .where(models.RunbookStep.id == step_id, models.RunbookStep.status == expected)
            .values(**values)
        )
        row = session.get(models.RunbookStep, step_id)
        if row is None:
            raise CatalogError(f"no runbook step {step_id} in the catalog")
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise CatalogError(
                f"step {row.name} of run {row.run_id} is {row.status.value}, not {expected.value}"
            )
        session.refresh(row)
        record: StepRecord = _record(StepRecord, row)
    return record
