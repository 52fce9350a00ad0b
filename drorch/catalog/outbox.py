"""The outbox of notifications: deliveries waiting in the catalog, claimed and settled
compare-and-swap. drorch.notify's sender drains it; anything may fill it.

    enqueue(session, [webhook(...), ping(...)], now)   # in the caller's transaction
    batch = claim(catalog, now)                       # due deliveries, leased to us
    settle(catalog, delivery, now, error=None)        # delivered, or retried later

Deliveries go out in order per endpoint: a webhook's URL, or a job's healthchecks check
(its /start, success and /fail URLs are one endpoint). Only the oldest pending delivery
of an endpoint (its head) is ever claimed, and only when nothing of that endpoint is
leased or waiting for a retry: an endpoint that is down holds back its own news, never
another endpoint's. Of a check's pending pings only the newest state is sent; the older
ones are superseded (settled unsent, told apart from the given-up by `last_error`).

Several daemons may share the catalog: a claim moves `next_attempt_at` forward by a
lease with a compare-and-swap, so only one of them sends a given delivery, and none sends
a newer one to that endpoint meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import ColumnElement, case, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from drorch.catalog import Catalog
from drorch.catalog.models import Delivery

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a claimed delivery is sent within this, or claimed again
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
GIVE_UP = timedelta(days=7)  # then it is logged as lost and counted, not retried
SUPERSEDED = "superseded by"  # last_error of a ping settled unsent: a newer state went instead


class Kind(StrEnum):
    WEBHOOK = "webhook"
    PING = "ping"


@dataclass(frozen=True)
class Outgoing:
    """A delivery to enqueue."""

    kind: Kind
    url: str
    event: str
    job: str | None
    payload: Mapping[str, Any] | None


@dataclass(frozen=True)
class Claimed:
    """A delivery this process holds the lease of."""

    id: int
    kind: Kind
    url: str
    event: str
    job: str | None
    payload: dict[str, Any] | None
    created_at: datetime
    attempts: int
    lease_until: datetime
    superseded: int = 0  # older states of the same check settled unsent in its favour


def webhook(url: str, event: str, payload: Mapping[str, Any]) -> Outgoing:
    return Outgoing(Kind.WEBHOOK, url, event, payload.get("job"), payload)


def ping(url: str, event: str, job: str, body: str = "") -> Outgoing:
    """A healthchecks-style ping: URL/start, URL (success) or URL/fail, the body a log line."""
    suffix = {"start": "/start", "success": "", "fail": "/fail"}[event]
    parts = urlsplit(url)
    address = urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))
    payload = {"body": body} if body else None
    return Outgoing(Kind.PING, address, event, job, payload)


def enqueue(session: Session, items: Iterable[Outgoing], now: datetime) -> list[Delivery]:
    """Add the deliveries to the caller's transaction; the new rows."""
    rows = [
        Delivery(
            kind=str(item.kind),
            url=item.url,
            event=item.event,
            job=item.job,
            payload=dict(item.payload) if item.payload is not None else None,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
        for item in items
    ]
    session.add_all(rows)
    return rows


def enqueue_now(catalog: Catalog, items: Iterable[Outgoing], now: datetime) -> list[int]:
    """Enqueue in a transaction of its own; the ids of the new deliveries."""
    with catalog.session() as session, session.begin():
        rows = enqueue(session, items, now)
        session.flush()
        return [row.id for row in rows]


def _pending(row: Any = Delivery) -> Any:
    return row.delivered_at.is_(None) & row.gave_up_at.is_(None)


def _endpoint(row: Any = Delivery) -> ColumnElement[str]:
    """What deliveries are ordered by: a job's check for its pings, else the URL."""
    return case((row.kind == str(Kind.PING), func.coalesce(row.job, row.url)), else_=row.url)


def _blocked(now: datetime) -> Any:
    """An older delivery to the outer row's endpoint is leased or waits for its retry: the
    claim's compare-and-swap, against a sender that took one meanwhile."""
    other = aliased(Delivery)
    return exists().where(
        _pending(other),
        other.next_attempt_at > now,
        other.id < Delivery.id,
        other.kind == Delivery.kind,
        _endpoint(other) == _endpoint(),
    )


def _heads(now: datetime, limit: int, only: Collection[int] | None = None) -> Any:
    """Per endpoint with deliveries due, its oldest and newest due, and the oldest of those
    not due (leased, or waiting for its retry) if any: an endpoint whose oldest pending
    delivery is due. Both sides are reduced to one row per endpoint before they meet, so
    the backlog queued behind an endpoint that is down is read once, not once per other
    endpoint, whatever plan the database picks."""

    def per_endpoint(when: Any) -> Any:
        endpoint = _endpoint().label("endpoint")
        rows = select(Delivery.id, Delivery.kind, endpoint).where(_pending(), when).subquery()
        first, last = func.min(rows.c.id).label("first"), func.max(rows.c.id).label("last")
        return (
            select(rows.c.kind, rows.c.endpoint, first, last)
            .group_by(rows.c.kind, rows.c.endpoint)
            .subquery()
        )

    due = per_endpoint(Delivery.next_attempt_at <= now)
    held = per_endpoint(Delivery.next_attempt_at > now)
    same = (held.c.kind == due.c.kind) & (held.c.endpoint == due.c.endpoint)
    query = (
        select(due.c.kind, due.c.endpoint, due.c.first, due.c.last, held.c.first)
        .select_from(due.outerjoin(held, same))
        .where(held.c.first.is_(None) | (due.c.first < held.c.first))
        .order_by(due.c.kind, due.c.first)  # "ping" sorts before "webhook"
        .limit(limit)
    )
    return query if only is None else query.where(due.c.first.in_(sorted(only)))


def claim(
    catalog: Catalog,
    now: datetime,
    *,
    limit: int = 20,
    lease: timedelta = LEASE,
    only: Collection[int] | None = None,
) -> list[Claimed]:
    """The heads of up to `limit` endpoints that are due and not busy, each leased to this
    process for `lease`: pings first (a late ping is a false alarm), then webhooks, each
    kind oldest first. A check's head is its newest pending ping; older ones are
    superseded in the same transaction. With `only`, just those of these deliveries that
    are the head of their endpoint (one queued behind an older one waits its turn)."""
    lease_until = now + lease
    claimed: list[Claimed] = []
    with catalog.session() as session, session.begin():
        heads = session.execute(_heads(now, limit, only)).all()
        for kind, endpoint, head, newest, held in heads:
            superseded = 0
            if kind == Kind.PING and newest != head and (held is None or newest < held):
                head, superseded = newest, _supersede(session, endpoint, newest, now)
            taken = session.execute(
                update(Delivery)
                .where(Delivery.id == head, _pending(), Delivery.next_attempt_at <= now)
                .where(~_blocked(now))
                .values(next_attempt_at=lease_until)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                row = session.get_one(Delivery, head)
                claimed.append(
                    Claimed(
                        row.id,
                        Kind(row.kind),
                        row.url,
                        row.event,
                        row.job,
                        row.payload,
                        row.created_at,
                        row.attempts,
                        lease_until,
                        superseded,
                    )
                )
    return claimed


def _supersede(session: Session, check: str, newest: int, now: datetime) -> int:
    """Settle the pending pings of `check` older than `newest` unsent; how many. One that is
    leased (in flight) or waiting for its retry is left alone."""
    done = session.execute(
        update(Delivery)
        .where(Delivery.kind == str(Kind.PING), _endpoint() == check, Delivery.id < newest)
        .where(_pending(), Delivery.next_attempt_at <= now)
        .values(gave_up_at=now, last_error=f"{SUPERSEDED} #{newest}")
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


def retry_at(attempts: int, now: datetime) -> datetime:
    """After `attempts` failed attempts: 1, 2, 4 ... minutes, at most an hour apart."""
    wait: timedelta = FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 10)
    return now + min(wait, LONGEST_WAIT)


def settle(
    catalog: Catalog, item: Claimed, now: datetime, error: str | None = None, *, final: bool = False
) -> str:
    """Record the outcome of one attempt: 'delivered', 'retry' or 'gave-up' (after GIVE_UP,
    or at once when `final`); 'lost' when the lease ran out and another sender took it."""
    attempts = item.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": error}
    if error is None:
        outcome, values["delivered_at"] = "delivered", now
    elif final or now - item.created_at >= GIVE_UP:
        outcome, values["gave_up_at"] = "gave-up", now
    else:
        outcome, values["next_attempt_at"] = "retry", retry_at(attempts, now)
    return outcome if _update(catalog, item, values) else "lost"


def postpone(catalog: Catalog, item: Claimed, until: datetime) -> bool:
    """Hand a claimed delivery back untried, due again at `until`."""
    return _update(catalog, item, {"next_attempt_at": until})


def _update(catalog: Catalog, item: Claimed, values: dict[str, Any]) -> bool:
    with catalog.session() as session, session.begin():
        done = session.execute(
            update(Delivery)
            .where(Delivery.id == item.id, Delivery.next_attempt_at == item.lease_until)
            .values(**values)
        )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def _superseded() -> Any:
    return Delivery.gave_up_at.is_not(None) & func.coalesce(Delivery.last_error, "").startswith(
        SUPERSEDED
    )


@dataclass(frozen=True)
class Backlog:
    pending: int
    gave_up: int  # never delivered: lost
    oldest_pending: datetime | None
    superseded: int  # pings settled unsent because a newer state of the check went instead


def backlog(catalog: Catalog) -> Backlog:
    settled = Delivery.gave_up_at.is_not(None)
    with catalog.session() as session:
        pending, oldest = session.execute(
            select(func.count(), func.min(Delivery.created_at)).where(_pending())
        ).one()
        gave_up, superseded = session.execute(
            select(func.count().filter(~_superseded()), func.count().filter(_superseded())).where(
                settled
            )
        ).one()
    return Backlog(pending, gave_up, oldest, superseded)
