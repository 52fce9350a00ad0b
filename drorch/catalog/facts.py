"""What the compliance rules (and `drorch status`) need from the catalog, read in a handful
of aggregate queries.

Each query groups by job in SQL, so evaluating thousands of jobs over millions of runs
moves only a few rows per job out of the database; and each reads small tables or indexes
(latest_runs, covering and partial indexes) rather than a page of `runs` a row, so that a
catalog out of the page cache is read in few pages (issue 14).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
    union,
)
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
    details: dict[str, Any] | None  # a restore test's only (its evidence); None for others


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

    run = m.Run
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
        # From ix_runs_restore_tested, not a page of the table a run: its condition
        # (m.RESTORE_TESTED) in literals, as SQLite uses a partial index only for a WHERE
        # that implies its own.
        .where(run.action == literal_column(f"'{RESTORE_TEST}'"))
        .where(run.status == literal_column(f"'{RunStatus.SUCCEEDED.value}'"))
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
    # Walks the (job, target, time, status) index backwards to the first COMPLETE row: one
    # or two entries per copy, as long as snapshots that are not complete stay rare.
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
        # Plain rows through the connection, fetched at once: none of the ORM's row handling.
        connection = session.connection()
        success_of: dict[tuple[str, str], int] = {}
        for key, finished, success in _newest_runs(session, jobs):
            if finished is not None:
                of(key[0]).last_finished[key[1]] = finished
            if success is not None:
                of(key[0]).last_success[key[1]] = success
                success_of[key] = success.id
        counts: dict[tuple[str, str], list[int]] = {}
        partial: dict[tuple[str, str], list[int]] = {}
        for job, action, run_id, status in connection.execute(failed).all():
            if run_id > success_of.get((job, action), 0):
                counts.setdefault((job, action), []).append(run_id)
                if status is RunStatus.PARTIAL:
                    partial.setdefault((job, action), []).append(run_id)
        first_ids = {min(v): (k, len(v)) for k, v in counts.items()}
        firsts = sorted(first_ids)
        for start in range(0, len(firsts), 500):
            chunk = firsts[start : start + 500]
            for row in connection.execute(select(run.id, *times).where(run.id.in_(chunk))).all():
                key, count = first_ids[row.id]
                partial_ids = tuple(sorted(partial.get(key, ())))
                of(key[0]).failures[key[1]] = Failures(count, _at(row), partial_ids)
        for job, at in connection.execute(verified).all():
            of(job).verified_snapshot_at = at
        slots: dict[tuple[str, str], list[datetime]] = {}
        for job, action, slot in connection.execute(missed).all():
            success = facts.get(job, JobFacts()).last_success.get(action)
            if success is None or slot > success.at:
                slots.setdefault((job, action), []).append(slot)
        for (job, action), found in slots.items():
            of(job).missed[action] = Failures(len(found), min(found))
        behind: list[tuple[str, str, datetime | None]] = []  # copies with newer incomplete
        for job, target, newest, complete, in_newest_second in connection.execute(on_targets).all():
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


NEWEST_FINISHED = tuple(s for s in RunStatus if s.finished and s is not RunStatus.CANCELED)
Pair = tuple[str, str]  # (job, action)


def _newest_runs(
    session: Any, jobs: set[str] | None
) -> Iterator[tuple[Pair, LastRun | None, LastRun | None]]:
    """Each (job, action) with its newest finished run (CANCELED aside) and its newest
    SUCCEEDED one. From latest_runs, a few rows per (job, action); one whose run is not
    what latest_runs says it is (changed by hand) is read from the runs themselves."""
    latest = m.LatestRun

    def only(query: Any) -> Any:
        return query if jobs is None else query.where(latest.job.in_(sorted(jobs)))

    entries: dict[Pair, dict[RunStatus, int]] = {}
    query = only(select(latest.job, latest.action, latest.status, latest.run_id))
    for job, action, status, run_id in session.connection().execute(query).all():
        entries.setdefault((job, action), {})[status] = run_id
    # (job, action) -> ((id, status) of the newest finished run, id of the newest success)
    named = {pair: _newest_of(by_status) for pair, by_status in entries.items()}
    # The same ids, chosen in SQL and joined to their runs there: one statement, read in id
    # order, instead of IN lists of 500 ids (10,000 bound values to render, 0.2 s of CPU).
    newest = only(
        select(func.max(latest.run_id))
        .where(latest.status.in_(NEWEST_FINISHED))
        .group_by(latest.job, latest.action)
    )
    success = only(select(latest.run_id).where(latest.status == RunStatus.SUCCEEDED))
    runs = _runs_of(session, union(newest, success).subquery())

    def said(pair: Pair, run_id: int | None, status: RunStatus) -> LastRun | None:
        found = None if run_id is None else runs.get(run_id)
        return found[1] if found and found[0] == pair and found[1].status is status else None

    for pair, (finished, succeeded) in named.items():
        last = said(pair, *finished) if finished else None
        good = said(pair, succeeded, RunStatus.SUCCEEDED)
        if (finished and last is None) or (succeeded is not None and good is None):
            ids = _newest_by_runs(session, pair)
            known = [i for i in ids if i is not None]
            again = _runs_of(session, select(m.Run.id).where(m.Run.id.in_(known)).subquery())
            last, good = (None if i is None else again[i][1] for i in ids)
        yield pair, last, good


def _newest_of(
    by_status: dict[RunStatus, int],
) -> tuple[tuple[int, RunStatus] | None, int | None]:
    finished = [(i, s) for s, i in by_status.items() if s in NEWEST_FINISHED]
    return (max(finished) if finished else None), by_status.get(RunStatus.SUCCEEDED)


def _newest_by_runs(session: Any, pair: Pair) -> tuple[int | None, int | None]:
    """The same from the runs of one (job, action): the slow way, for a stale entry."""
    run = m.Run

    def newest(statuses: Sequence[RunStatus]) -> int | None:
        query = select(func.max(run.id)).where(run.job == pair[0], run.action == pair[1])
        return session.execute(query.where(run.status.in_(statuses))).scalar()  # type: ignore[no-any-return]

    return newest(NEWEST_FINISHED), newest([RunStatus.SUCCEEDED])


def _runs_of(session: Any, ids: Any) -> dict[int, tuple[Pair, LastRun]]:
    """The runs whose ids the one-column subquery `ids` gives, each with its (job, action)
    and LastRun; its time comes as one (COALESCE in SQL), and details for restore tests
    only: a datetime and a JSON document less to decode a run. Through the connection, not
    the ORM: 10,000 rows of plain columns need none of its row handling."""
    run = m.Run
    at = func.coalesce(run.finished_at, run.started_at, run.created_at)
    details = type_coerce(case((run.action == RESTORE_TEST, run.details)), run.details.type)
    query = select(run.id, run.job, run.action, run.status, at, details).join(
        ids, run.id == next(iter(ids.c))
    )
    return {
        run_id: ((job, action), LastRun(run_id, status, when, evidence))
        for run_id, job, action, status, when, evidence in session.connection().execute(query).all()
    }


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


# --- what `drorch status` shows ---------------------------------------------------------------


def replication_lags(
    catalog: Catalog, copies: Iterable[tuple[str, str, str]], now: datetime
) -> dict[tuple[str, str], timedelta]:
    """For each (job, source target, copy target): the age of the newest snapshot on the
    source whose copy is not on the copy target, keyed by (job, copy target); a copy in
    step is left out. One query per (source, copy target), every job at once. A snapshot
    dated after `now` (the clock stepped back since) is as new as can be: its lag is 0,
    never negative.

    Each job's snapshots on the source are walked newest first, along the index, until one
    has no copy: a job behind by one snapshot costs a probe or two, not one per snapshot it
    has ever kept (a job in step still costs one per snapshot, as it must)."""
    snap, copy = m.Snapshot, aliased(m.Snapshot)
    by_route: dict[tuple[str, str], list[str]] = {}
    for job, source, dest in copies:
        by_route.setdefault((source, dest), []).append(job)
    lags: dict[tuple[str, str], timedelta] = {}
    with catalog.session() as session:
        for (source, dest), unsorted in sorted(by_route.items()):
            jobs = sorted(set(unsorted))
            for start in range(0, len(jobs), 500):
                # The jobs with a snapshot on the source, from an expanding IN (a statement
                # compiled once) rather than a VALUES list rendered anew each call.
                held = aliased(m.Snapshot)
                wanted = (
                    select(held.job)
                    .where(held.job.in_(jobs[start : start + 500]), held.target == source)
                    .where(_copies_index(held))
                    .distinct()
                    .subquery()
                )
                copied = select(copy.id).where(
                    copy.target == dest,
                    copy.original_id == snap.snapshot_id,
                    copy.job == snap.job,
                )
                newest = (
                    select(snap.time)
                    .where(snap.job == wanted.c.job, snap.target == source)
                    .where(_copies_index(snap), ~copied.exists())
                    .order_by(snap.time.desc())
                    .limit(1)
                    .scalar_subquery()
                )
                query = select(wanted.c.job, newest)
                for job, time in session.connection().execute(query).all():
                    if time is not None:
                        lags[(job, dest)] = max(now - time, timedelta(0))
    return lags


def _copies_index(snap: Any) -> Any:
    """ix_snapshots_copies's condition (true of every row): stated, it lets the planner
    walk a job's snapshots and their ids from that index alone, a probe each instead of a
    page of the table each (drorch.catalog.models)."""
    return snap.snapshot_id.is_not(None)  # m.COPIES_WHERE
