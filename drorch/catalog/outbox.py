"""The outbox of notifications: deliveries waiting in the catalog, claimed and settled
compare-and-swap. drorch.notify's sender drains it; anything may fill it.

    enqueue(session, [webhook(...), ping(...)], now)   # in the caller's transaction
    batch = claim(catalog, now)                       # due deliveries, leased to us
    settle(catalog, delivery, now, error=None)        # delivered, or retried later

Several daemons may share the catalog: a claim moves `next_attempt_at` forward by a
lease with a compare-and-swap, so only one of them sends a given delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from drorch.catalog import Catalog
from drorch.catalog.models import Delivery

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a claimed delivery is sent within this, or claimed again
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
GIVE_UP = timedelta(days=7)  # then it is logged as lost and counted, not retried


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


def webhook(url: str, event: str, payload: Mapping[str, Any]) -> Outgoing:
    return Outgoing(Kind.WEBHOOK, url, event, payload.get("job"), payload)


def ping(url: str, event: str, job: str, body: str = "") -> Outgoing:
    """A healthchecks-style ping: URL/start, URL (success) or URL/fail, the body a log line."""
    suffix = {"start": "/start", "success": "", "fail": "/fail"}[event]
    parts = urlsplit(url)
    address = urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))
    payload = {"body": body} if body else None
    return Outgoing(Kind.PING, address, event, job, payload)


def enqueue(session: Session, items: Iterable[Outgoing], now: datetime) -> int:
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
    return len(rows)


def enqueue_now(catalog: Catalog, items: Iterable[Outgoing], now: datetime) -> int:
    """Enqueue in a transaction of its own."""
    with catalog.session() as session, session.begin():
        return enqueue(session, items, now)


def _pending() -> Any:
    return Delivery.delivered_at.is_(None) & Delivery.gave_up_at.is_(None)


def claim(catalog: Catalog, now: datetime, *, limit: int = 20) -> list[Claimed]:
    """Due deliveries, each leased to this process for LEASE: pings first (a late ping is a
    false alarm), then webhooks, each kind oldest first."""
    lease_until = now + LEASE
    claimed: list[Claimed] = []
    with catalog.session() as session, session.begin():
        due = session.execute(
            select(Delivery)
            .where(_pending(), Delivery.next_attempt_at <= now)
            .order_by(Delivery.kind, Delivery.id)  # "ping" sorts before "webhook"
            .limit(limit)
        ).scalars()
        for row in list(due):
            taken = session.execute(
                update(Delivery)
                .where(Delivery.id == row.id, Delivery.next_attempt_at == row.next_attempt_at)
                .values(next_attempt_at=lease_until)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
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
                    )
                )
    return claimed


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


@dataclass(frozen=True)
class Backlog:
    pending: int
    gave_up: int
    oldest_pending: datetime | None


def backlog(catalog: Catalog) -> Backlog:
    with catalog.session() as session:
        pending, oldest = session.execute(
            select(func.count(), func.min(Delivery.created_at)).where(_pending())
        ).one()
        gave_up = session.execute(
            select(func.count()).where(Delivery.gave_up_at.is_not(None))
        ).scalar_one()
    return Backlog(pending, gave_up, oldest)
