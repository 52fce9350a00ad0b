"""The last state of every compliance rule of every job, and its transitions.

A rule that goes from ok to violated, or back, is written compare-and-swap on its old
state, so two daemons evaluating at once record it once, and a restart does not record
it again. A rule seen for the first time counts as a transition only when it is
violated: a job that never ran is news; one that is fine is not.

A row keeps `recorded_seq` NULL until the transition's evidence record is written and
its notifications enqueued (`record`), so a crash in between is picked up again. While a
transition is pending its row does not change: a rule that flips back before it was
recorded is recorded twice (violated, then restored), never lost. An evaluation older
than the row's (`now` before `checked_at`) never overwrites it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from drorch.catalog import Catalog
from drorch.catalog.models import RuleState
from drorch.catalog.outbox import Outgoing, enqueue

VIOLATION = "policy-violation"
RESTORED = "policy-restored"
_RULE_STATES = cast(Table, RuleState.__table__)

State = tuple[bool, datetime]  # ok, since


@dataclass(frozen=True)
class Observed:
    """One rule of one job as an evaluation found it."""

    job: str
    rule: str
    ok: bool
    since: datetime | None
    result: dict[str, Any]  # JSON-ready, kept with the transition


@dataclass(frozen=True)
class Transition:
    job: str
    rule: str
    ok: bool
    noticed_at: datetime
    result: dict[str, Any]

    @property
    def kind(self) -> str:
        return RESTORED if self.ok else VIOLATION


def known(catalog: Catalog, jobs: Sequence[str] | None = None) -> dict[tuple[str, str], bool]:
    """(job, rule) -> ok, for every rule ever evaluated (of `jobs`, or all)."""
    query = select(RuleState.job, RuleState.rule, RuleState.ok)
    if jobs is not None:
        query = query.where(RuleState.job.in_(sorted(jobs)))
    with catalog.session() as session:
        return {(job, rule): ok for job, rule, ok in session.execute(query)}


def write(
    catalog: Catalog,
    observed: Iterable[Observed],
    now: datetime,
    *,
    jobs: Sequence[str] | None = None,
) -> int:
    """Write the states that changed (`observed` covers all jobs, or only `jobs`); how many
    transitions this call found."""
    before = known(catalog, jobs)
    first: list[Observed] = []
    changed: list[Observed] = []
    for item in observed:
        was = before.get((item.job, item.rule))
        if was is None:
            first.append(item)
        elif was != item.ok:
            changed.append(item)
    return _change(catalog, changed, now) + _first(catalog, first, now)


def _first(catalog: Catalog, items: Sequence[Observed], now: datetime) -> int:
    """Insert rules seen for the first time, in one transaction (thousands on a first start);
    one by one when another daemon inserted some of them meanwhile."""
    rows = [
        {
            "job": item.job,
            "rule": item.rule,
            "ok": item.ok,
            "since": item.since or now,
            "checked_at": now,
            "result": item.result,
            "recorded_seq": 0 if item.ok else None,
        }
        for item in items
    ]
    if not rows:
        return 0
    try:
        with catalog.session() as session, session.begin():
            session.execute(insert(_RULE_STATES), rows)  # Core: no ORM bookkeeping per row
        return sum(1 for row in rows if not row["ok"])
    except IntegrityError:
        pass
    found = 0
    for row in rows:
        try:
            with catalog.session() as session, session.begin():
                session.execute(insert(RuleState).values(**row))
        except IntegrityError:
            continue  # another daemon wrote it first, and records it
        found += not row["ok"]
    return found


def _change(catalog: Catalog, items: Sequence[Observed], now: datetime) -> int:
    """Flip the rules whose state changed, compare-and-swap on the state they had, in one
    transaction and one UPDATE run for all (a slot's burst of runs flips hundreds); a row
    another daemon changed meanwhile, one still pending, or one a newer evaluation wrote is
    left alone. How many flipped."""
    if not items:
        return 0
    table = _RULE_STATES
    statement = (
        update(table)
        .where(
            table.c.job == bindparam("w_job"),
            table.c.rule == bindparam("w_rule"),
            table.c.ok == bindparam("w_was"),
            table.c.recorded_seq.is_not(None),
            table.c.checked_at <= now,
        )
        .values(
            ok=bindparam("w_ok"),
            since=bindparam("w_since", type_=table.c.since.type),
            checked_at=now,
            result=bindparam("w_result", type_=table.c.result.type),
            recorded_seq=None,
        )
    )
    rows = [
        {
            "w_job": item.job,
            "w_rule": item.rule,
            "w_was": not item.ok,
            "w_ok": item.ok,
            "w_since": item.since or now,
            "w_result": item.result,
        }
        for item in items
    ]
    with catalog.session() as session, session.begin():
        done = session.execute(statement, rows)
    return int(done.rowcount)  # type: ignore[attr-defined]


def pending(
    catalog: Catalog, *, jobs: Sequence[str] | None = None, limit: int | None = None
) -> list[Transition]:
    """Transitions whose evidence and notifications are not written yet, oldest first."""
    table = _RULE_STATES
    query = select(table.c.job, table.c.rule, table.c.ok, table.c.checked_at, table.c.result)
    query = query.where(table.c.recorded_seq.is_(None))
    if jobs is not None:
        query = query.where(table.c.job.in_(sorted(jobs)))
    query = query.order_by(table.c.checked_at, table.c.job, table.c.rule).limit(limit)
    with catalog.session() as session:
        return [
            Transition(job, rule, ok, checked_at, dict(result))
            for job, rule, ok, checked_at, result in session.execute(query)
        ]


NO_EVIDENCE = -1  # recorded_seq of a transition announced while evidence could not be written


Recorded = tuple[Transition, int, Sequence[Outgoing]]  # the transition, its seq, its sends


def record(catalog: Catalog, recorded: Sequence[Recorded], now: datetime) -> int:
    """In one transaction (thousands at a first start, one fsync): note the evidence record
    of each transition (or NO_EVIDENCE) and enqueue its notifications. A transition another
    recorder already noted is skipped; how many this call noted.

    Three statements however many transitions: the rows still pending, locked (SQLite's
    transaction holds the write lock from its start); one UPDATE run for all of them; one
    INSERT of their notifications."""
    if not recorded:
        return 0
    table = _RULE_STATES
    with catalog.session() as session, session.begin():
        waiting = {
            tuple(row)
            for row in session.execute(
                select(table.c.job, table.c.rule, table.c.ok, table.c.checked_at)
                .where(
                    table.c.job.in_(sorted({t.job for t, _, _ in recorded})),
                    table.c.recorded_seq.is_(None),
                )
                .with_for_update()
            )
        }
        noted = [
            (transition, seq, sends)
            for transition, seq, sends in recorded
            if (transition.job, transition.rule, transition.ok, transition.noticed_at) in waiting
        ]
        if noted:
            session.execute(
                update(table)
                .where(
                    table.c.job == bindparam("w_job"),
                    table.c.rule == bindparam("w_rule"),
                    table.c.recorded_seq.is_(None),
                )
                .values(recorded_seq=bindparam("w_seq")),
                [{"w_job": t.job, "w_rule": t.rule, "w_seq": seq} for t, seq, _ in noted],
            )
            enqueue(session, [send for _, _, sends in noted for send in sends], now)
    return len(noted)


def states(catalog: Catalog, job: str | None = None) -> dict[tuple[str, str], State]:
    """(job, rule) -> (ok, since) as the daemon last saw them."""
    query = select(RuleState.job, RuleState.rule, RuleState.ok, RuleState.since)
    if job is not None:
        query = query.where(RuleState.job == job)
    with catalog.session() as session:
        return {(j, r): (ok, since) for j, r, ok, since in session.execute(query)}
