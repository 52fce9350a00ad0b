"""What the compliance rules need from the catalog, read in a handful of aggregate queries.

Each query groups by job in SQL, so evaluating thousands of jobs over millions of runs
moves only a few rows per job out of the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from drorch.catalog import Catalog, RunStatus, SnapshotStatus
from drorch.catalog import models as m

# What failed_runs counts since an action's last success: a PARTIAL snapshot run is not one.
FAILED = (RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.PARTIAL)
COMPLETE = SnapshotStatus.COMPLETE
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
    """Failed, interrupted or PARTIAL runs of one action since its last success (or, for
    missed slots, the slots); `partial` the ids of the PARTIAL runs among them."""

    count: int
    first_at: datetime
    partial: tuple[int, ...] = ()


@dataclass(frozen=True)
class Incomplete:
    """A snapshot that is not COMPLETE, newer than the newest complete one on its copy."""

    snapshot_id: str
    status: SnapshotStatus
    run_id: int | None  # the run that wrote it, or, for a copy, the one that wrote its original
    time: datetime


@dataclass
class JobFacts:
    """Everything the rules know about one job, from the catalog alone."""

    newest_on: dict[str, datetime] = field(default_factory=dict)  # target -> newest COMPLETE
    held_on: dict[str, datetime] = field(default_factory=dict)  # target -> newest of any status
    incomplete: dict[str, list[Incomplete]] = field(default_factory=dict)  # target -> newer
    last_finished: dict[str, LastRun] = field(default_factory=dict)  # action -> run
    last_success: dict[str, LastRun] = field(default_factory=dict)  # action -> run
    failures: dict[str, Failures] = field(default_factory=dict)  # action -> since last success
    missed: dict[str, Failures] = field(default_factory=dict)  # action -> slots since success
    verified_snapshot_at: datetime | None = None  # newest COMPLETE one a restore test passed

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
    failed = only(
        run.job, select(run.job, run.action, run.id, run.status).where(run.status.in_(FAILED))
    )
    tested = aliased(m.Snapshot)
    verified = only(
        run.job,
        select(run.job, func.max(tested.time))
        .join(
            tested,
            and_(
                tested.target == run.target,
                tested.snapshot_id == run.snapshot_id,
                tested.status == COMPLETE,  # a partial snapshot proves the restore, not the RPO
            ),
        )
        .where(run.action == RESTORE_TEST, run.status == RunStatus.SUCCEEDED)
        .group_by(run.job),
    )
    gap = m.MissedSlot
    missed = only(gap.job, select(gap.job, gap.action, gap.slot_at))
    snap, done = m.Snapshot, aliased(m.Snapshot)
    copies = only(
        snap.job,
        select(snap.job, snap.target, func.max(snap.time).label("newest")).group_by(
            snap.job, snap.target
        ),
    ).subquery()
    # Walks the (job, target, time) index backwards to the first COMPLETE row: one or two
    # rows per copy, as long as snapshots that are not complete stay rare.
    newest_complete = (
        select(done.time)
        .where(done.job == copies.c.job, done.target == copies.c.target)
        .where(done.status == COMPLETE)
        .order_by(done.time.desc())
        .limit(1)
        .scalar_subquery()
    )
    # Snapshot times are whole seconds: more than one snapshot in the newest second may hide
    # an incomplete one behind a complete one of the same time (an index lookup, one row).
    same_second = (
        select(func.count())
        .where(done.job == copies.c.job, done.target == copies.c.target)
        .where(done.time == copies.c.newest)
        .scalar_subquery()
    )
    on_targets = select(
        copies.c.job, copies.c.target, copies.c.newest, newest_complete, same_second
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
        partial: dict[tuple[str, str], list[int]] = {}
        for job, action, run_id, status in session.execute(failed):
            if run_id > success_of.get((job, action), 0):
                counts.setdefault((job, action), []).append(run_id)
                if status is RunStatus.PARTIAL:
                    partial.setdefault((job, action), []).append(run_id)
        first_ids = {min(v): (k, len(v)) for k, v in counts.items()}
        firsts = sorted(first_ids)
        for start in range(0, len(firsts), 500):
            chunk = firsts[start : start + 500]
            for row in session.execute(select(run.id, *times).where(run.id.in_(chunk))):
                key, count = first_ids[row.id]
                partial_ids = tuple(sorted(partial.get(key, ())))
                of(key[0]).failures[key[1]] = Failures(count, _at(row), partial_ids)
        for job, at in session.execute(verified):
            of(job).verified_snapshot_at = at
        slots: dict[tuple[str, str], list[datetime]] = {}
        for job, action, slot in session.execute(missed):
            success = facts.get(job, JobFacts()).last_success.get(action)
            if success is None or slot > success.at:
                slots.setdefault((job, action), []).append(slot)
        for (job, action), found in slots.items():
            of(job).missed[action] = Failures(len(found), min(found))
        behind: list[tuple[str, str, datetime | None]] = []  # copies with newer incomplete
        for job, target, newest, complete, in_newest_second in session.execute(on_targets):
            of(job).held_on[target] = newest
            if complete is not None:
                of(job).newest_on[target] = complete
            if complete is None or newest > complete or in_newest_second > 1:
                behind.append((job, target, complete))
        for start in range(0, len(behind), 200):
            query = _incomplete(behind[start : start + 200])
            for job, target, snapshot_id, status, run_id, at in session.execute(query):
                newer = Incomplete(snapshot_id, status, run_id, at)
                of(job).incomplete.setdefault(target, []).append(newer)
    return facts


def _incomplete(copies: Sequence[tuple[str, str, datetime | None]]) -> Any:
    """The snapshots that are not COMPLETE on each (job, target) not older than its newest
    complete one (all of them when there is none), oldest first, each with the run that
    wrote it or, for a copy, its original."""
    snap, original = m.Snapshot, aliased(m.Snapshot)
    newer = [
        and_(snap.job == job, snap.target == target, *([snap.time >= after] if after else []))
        for job, target, after in copies
    ]
    return (
        select(
            snap.job,
            snap.target,
            snap.snapshot_id,
            snap.status,
            func.coalesce(snap.run_id, original.run_id),
            snap.time,
        )
        .outerjoin(
            original, and_(original.job == snap.job, original.snapshot_id == snap.original_id)
        )
        .where(snap.status != COMPLETE, or_(*newer))
        .order_by(snap.time, snap.id)
    )
