"""What the compliance rules need from the catalog, read in a handful of aggregate queries.

Each query groups by job in SQL, so evaluating thousands of jobs over millions of runs
moves only a few rows per job out of the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from drorch.catalog import Catalog, RunStatus
from drorch.catalog import models as m

FAILED = (RunStatus.FAILED, RunStatus.INTERRUPTED)
RESTORE_TEST = "restore-test"


@dataclass(frozen=True)
class LastRun:
    """The newest finished run of one action of a job."""

    id: int
    status: RunStatus
    at: datetime  # finished_at, else started_at, else created_at
    details: dict[str, Any] | None


@dataclass(frozen=True)
class Failures:
    """Failed or interrupted runs of one action since its last success."""

    count: int
    first_at: datetime


@dataclass
class JobFacts:
    """Everything the rules know about one job, from the catalog alone."""

    newest_on: dict[str, datetime] = field(default_factory=dict)  # target -> newest snapshot
    last_finished: dict[str, LastRun] = field(default_factory=dict)  # action -> run
    last_success: dict[str, LastRun] = field(default_factory=dict)  # action -> run
    failures: dict[str, Failures] = field(default_factory=dict)  # action -> since last success
    missed: dict[str, Failures] = field(default_factory=dict)  # action -> slots since success
    verified_snapshot_at: datetime | None = None  # newest snapshot a restore test passed

    @property
    def ran(self) -> bool:
        return bool(self.last_finished)


def _at(row: Any) -> datetime:
    return row.finished_at or row.started_at or row.created_at  # type: ignore[no-any-return]


def read_facts(catalog: Catalog, jobs: set[str] | None = None) -> dict[str, JobFacts]:
    """The facts of every job in the catalog (or only of `jobs`), keyed by job name."""
    facts: dict[str, JobFacts] = {}

    def of(job: str) -> JobFacts:
        found = facts.get(job)
        return found if found is not None else facts.setdefault(job, JobFacts())

    def only(column: Any, query: Any) -> Any:
        return query if jobs is None else query.where(column.in_(sorted(jobs)))

    run, last = m.Run, aliased(m.Run)
    finished = [s for s in RunStatus if s.finished and s is not RunStatus.CANCELED]
    pairs = only(run.job, select(run.job, run.action).group_by(run.job, run.action)).subquery()

    def newest_id(statuses: Sequence[RunStatus]) -> Any:
        # Walks the (job, action, id) index backwards: a row or two per pair, not a scan.
        return (
            select(last.id)
            .where(last.job == pairs.c.job, last.action == pairs.c.action)
            .where(last.status.in_(statuses))
            .order_by(last.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    newest = select(newest_id(finished), newest_id([RunStatus.SUCCEEDED]))
    cols = (run.id, run.job, run.action, run.status, run.details)
    times = (run.created_at, run.started_at, run.finished_at)
    failed = only(run.job, select(run.job, run.action, run.id).where(run.status.in_(FAILED)))
    tested = aliased(m.Snapshot)
    verified = only(
        run.job,
        select(run.job, func.max(tested.time))
        .join(tested, and_(tested.target == run.target, tested.snapshot_id == run.snapshot_id))
        .where(run.action == RESTORE_TEST, run.status == RunStatus.SUCCEEDED)
        .group_by(run.job),
    )
    gap = m.MissedSlot
    missed = only(gap.job, select(gap.job, gap.action, gap.slot_at))
    snap = m.Snapshot
    on_targets = only(
        snap.job,
        select(snap.job, snap.target, func.max(snap.time)).group_by(snap.job, snap.target),
    )
    with catalog.session() as session:
        ids = session.execute(newest.select_from(pairs)).all()
        finished_ids = {f for f, _ in ids if f is not None}
        success_ids = {s for _, s in ids if s is not None}
        wanted = sorted(finished_ids | success_ids)
        success_of: dict[tuple[str, str], int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for row in session.execute(select(*cols, *times).where(run.id.in_(chunk))):
                record = LastRun(row.id, row.status, _at(row), row.details)
                if row.id in finished_ids:
                    of(row.job).last_finished[row.action] = record
                if row.id in success_ids:
                    of(row.job).last_success[row.action] = record
                    success_of[(row.job, row.action)] = row.id
        counts: dict[tuple[str, str], list[int]] = {}
        for job, action, run_id in session.execute(failed):
            if run_id > success_of.get((job, action), 0):
                counts.setdefault((job, action), []).append(run_id)
        first_ids = {min(v): (k, len(v)) for k, v in counts.items()}
        firsts = sorted(first_ids)
        for start in range(0, len(firsts), 500):
            chunk = firsts[start : start + 500]
            for row in session.execute(select(run.id, *times).where(run.id.in_(chunk))):
                (job, action), count = first_ids[row.id]
                of(job).failures[action] = Failures(count, _at(row))
        for job, at in session.execute(verified):
            of(job).verified_snapshot_at = at
        slots: dict[tuple[str, str], list[datetime]] = {}
        for job, action, slot in session.execute(missed):
            success = facts.get(job, JobFacts()).last_success.get(action)
            if success is None or slot > success.at:
                slots.setdefault((job, action), []).append(slot)
        for (job, action), found in slots.items():
            of(job).missed[action] = Failures(len(found), min(found))
        for job, target, at in session.execute(on_targets):
            of(job).newest_on[target] = at
    return facts
