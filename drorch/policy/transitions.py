"""Transitions of compliance rules, each found once.

The last state of every (job, rule) is kept in the catalog's rule_states. A rule that goes
from ok to violated, or back, is written there compare-and-swap on its old state, so two
daemons evaluating at once record it once, and a restart does not record it again. A rule
seen for the first time counts as a transition only when it is violated: a new job that
never ran is news; one that is fine is not.

The row keeps `recorded_seq` NULL until the transition's evidence record and notifications
are written (`pending` / `mark_recorded`), so a crash in between is picked up again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drorch.catalog import Catalog
from drorch.catalog.models import RuleState
from drorch.evidence.canonical import utc_iso
from drorch.policy.rules import JobCompliance, RuleResult

VIOLATION = "policy-violation"
RESTORED = "policy-restored"


@dataclass(frozen=True)
class Transition:
    job: str
    rule: str
    ok: bool
    noticed_at: datetime
    result: dict[str, Any]  # the rule's result at the transition, JSON-ready

    @property
    def kind(self) -> str:
        return RESTORED if self.ok else VIOLATION


def result_json(result: RuleResult) -> dict[str, Any]:
    return {
        "rule": result.rule,
        "ok": result.ok,
        "value": result.value,
        "limit": result.limit,
        "since": utc_iso(result.since) if result.since else None,
        "detail": result.detail,
    }


def find(catalog: Catalog, results: Sequence[JobCompliance], now: datetime) -> int:
    """Write the rule states that changed; how many transitions this call found."""
    jobs = {r.job for r in results}
    with catalog.session() as session:
        known = {
            (job, rule): ok
            for job, rule, ok in session.execute(
                select(RuleState.job, RuleState.rule, RuleState.ok)
            )
            if job in jobs
        }
    first: list[tuple[str, RuleResult]] = []
    found = 0
    for compliance in results:
        for result in compliance.rules:
            before = known.get((compliance.job, result.rule))
            if before is None:
                first.append((compliance.job, result))
            elif before != result.ok:
                found += _change(catalog, compliance.job, result, before, now)
    return found + _first(catalog, first, now)


def _first(catalog: Catalog, results: list[tuple[str, RuleResult]], now: datetime) -> int:
    """Insert rules seen for the first time, in one transaction (thousands on a first start);
    one by one when another daemon inserted some of them meanwhile."""
    rows = [
        {
            "job": job,
            "rule": result.rule,
            "ok": result.ok,
            "since": result.since or now,
            "checked_at": now,
            "result": result_json(result),
            "recorded_seq": 0 if result.ok else None,
        }
        for job, result in results
    ]
    if not rows:
        return 0
    try:
        with catalog.session() as session, session.begin():
            session.execute(insert(RuleState), rows)
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


def _change(catalog: Catalog, job: str, result: RuleResult, before: bool, now: datetime) -> int:
    with catalog.session() as session, session.begin():
        changed = session.execute(
            update(RuleState)
            .where(RuleState.job == job, RuleState.rule == result.rule, RuleState.ok == before)
            .values(
                ok=result.ok,
                since=result.since or now,
                checked_at=now,
                result=result_json(result),
                recorded_seq=None,
            )
        )
    return int(changed.rowcount == 1)  # type: ignore[attr-defined]


def pending(catalog: Catalog) -> list[Transition]:
    """Transitions whose evidence and notifications are not written yet, oldest first."""
    with catalog.session() as session:
        rows = session.execute(
            select(RuleState)
            .where(RuleState.recorded_seq.is_(None))
            .order_by(RuleState.checked_at, RuleState.job, RuleState.rule)
        ).scalars()
        return [Transition(r.job, r.rule, r.ok, r.checked_at, dict(r.result)) for r in rows]


def mark_recorded(session: Session, transition: Transition, seq: int) -> bool:
    """Note the evidence record of `transition`, unless the rule changed again since."""
    done = session.execute(
        update(RuleState)
        .where(
            RuleState.job == transition.job,
            RuleState.rule == transition.rule,
            RuleState.ok == transition.ok,
            RuleState.checked_at == transition.noticed_at,
            RuleState.recorded_seq.is_(None),
        )
        .values(recorded_seq=seq)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


State = tuple[bool, datetime]  # ok, since


def states(catalog: Catalog, job: str | None = None) -> dict[tuple[str, str], State]:
    """(job, rule) -> (ok, since) as the daemon last saw them."""
    query = select(RuleState.job, RuleState.rule, RuleState.ok, RuleState.since)
    if job is not None:
        query = query.where(RuleState.job == job)
    with catalog.session() as session:
        return {(j, r): (ok, since) for j, r, ok, since in session.execute(query)}
