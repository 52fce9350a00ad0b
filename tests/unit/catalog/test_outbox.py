"""The outbox on a real catalog, SQLite and PostgreSQL: enqueue, claim once, settle, back off,
give up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drorch.catalog import Catalog, outbox
from drorch.catalog.models import Delivery
from drorch.catalog.outbox import Kind

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    """Each test runs on SQLite and on PostgreSQL."""
    return any_catalog


def test_a_delivery_is_claimed_once_then_settled(catalog: Catalog) -> None:
    outbox.enqueue_now(
        catalog,
        [outbox.webhook("http://h/x", "policy-violation", {"job": "app", "rule": "rpo:p"})],
        NOW,
    )
    [item] = outbox.claim(catalog, NOW)
    assert (item.kind, item.url, item.job, item.attempts) == (Kind.WEBHOOK, "http://h/x", "app", 0)
    assert item.payload == {"job": "app", "rule": "rpo:p"}
    assert outbox.claim(catalog, NOW) == []  # leased: another daemon does not take it
    assert outbox.backlog(catalog).pending == 1
    assert outbox.settle(catalog, item, NOW) == "delivered"
    assert outbox.backlog(catalog) == outbox.Backlog(0, 0, None, 0)
    assert outbox.claim(catalog, NOW + timedelta(days=1)) == []


def test_a_lease_that_runs_out_is_claimed_again(catalog: Catalog) -> None:
    outbox.enqueue_now(catalog, [outbox.ping("http://h/p", "start", "app")], NOW)
    [first] = outbox.claim(catalog, NOW)
    [again] = outbox.claim(catalog, NOW + outbox.LEASE)
    assert again.id == first.id
    # the first holder's late outcome does not overwrite the new holder's lease
    outbox.settle(catalog, first, NOW + outbox.LEASE, "late")
    assert outbox.settle(catalog, again, NOW + outbox.LEASE) == "delivered"
    assert outbox.backlog(catalog).pending == 0


def test_failures_back_off_then_give_up_after_a_week(catalog: Catalog) -> None:
    outbox.enqueue_now(catalog, [outbox.webhook("http://h/x", "policy-restored", {})], NOW)
    [item] = outbox.claim(catalog, NOW)
    assert outbox.settle(catalog, item, NOW, "down") == "retry"
    assert outbox.claim(catalog, NOW + timedelta(seconds=59)) == []
    [item] = outbox.claim(catalog, NOW + timedelta(minutes=1))
    assert item.attempts == 1
    assert outbox.settle(catalog, item, NOW + timedelta(minutes=1), "down") == "retry"
    assert outbox.claim(catalog, NOW + timedelta(minutes=2, seconds=59)) == []
    [item] = outbox.claim(catalog, NOW + timedelta(minutes=3))
    late = NOW + outbox.GIVE_UP
    assert outbox.settle(catalog, item, late, "still down") == "gave-up"
    backlog = outbox.backlog(catalog)
    assert (backlog.pending, backlog.gave_up) == (0, 1)


def test_retry_waits_double_up_to_an_hour() -> None:
    waits = [outbox.retry_at(n, NOW) - NOW for n in (1, 2, 3, 7, 8, 50)]
    minutes = [int(w.total_seconds() // 60) for w in waits]
    assert minutes == [1, 2, 4, 60, 60, 60]


def test_ping_urls_follow_healthchecks() -> None:
    assert outbox.ping("https://hc/ping/u/", "start", "a").url == "https://hc/ping/u/start"
    assert outbox.ping("https://hc/p/u?rid=1", "fail", "a").url == "https://hc/p/u/fail?rid=1"
    assert outbox.ping("https://hc/ping/u", "success", "a").url == "https://hc/ping/u"
    failed = outbox.ping("https://hc/ping/u", "fail", "a", "run 3 FAILED")
    assert failed.url == "https://hc/ping/u/fail" and failed.payload == {"body": "run 3 FAILED"}


def test_an_outcome_after_the_lease_ran_out_is_lost_not_written(catalog: Catalog) -> None:
    outbox.enqueue_now(catalog, [outbox.webhook("http://h/x", "policy-violation", {})], NOW)
    [slow] = outbox.claim(catalog, NOW)
    [other] = outbox.claim(catalog, NOW + outbox.LEASE)
    assert outbox.settle(catalog, slow, NOW + outbox.LEASE, None) == "lost"
    assert outbox.backlog(catalog).pending == 1  # the other sender's lease still stands
    assert outbox.settle(catalog, other, NOW + outbox.LEASE) == "delivered"


def _webhooks(catalog: Catalog, url: str, count: int, now: datetime, start: int = 0) -> None:
    outbox.enqueue_now(
        catalog,
        [outbox.webhook(url, "policy-violation", {"n": n}) for n in range(start, start + count)],
        now,
    )


def _numbers(batch: list[outbox.Claimed]) -> list[tuple[str, int]]:
    return [(item.url, (item.payload or {})["n"]) for item in batch]


def test_a_webhook_waits_while_an_older_one_to_its_url_is_pending(catalog: Catalog) -> None:
    """Order per endpoint across claims (several senders): while the oldest delivery to a URL
    is leased or waits for its retry, no newer one to that URL is claimed."""
    _webhooks(catalog, "http://h/a", 3, NOW)
    _webhooks(catalog, "http://h/b", 1, NOW, start=10)
    first = outbox.claim(catalog, NOW)
    assert _numbers(first) == [("http://h/a", 0), ("http://h/b", 10)]
    assert outbox.claim(catalog, NOW) == []  # a second sender: /a's head is leased
    head = first[0]
    assert outbox.settle(catalog, head, NOW, "down") == "retry"
    assert outbox.claim(catalog, NOW + timedelta(seconds=59)) == []  # waits for its retry
    [again] = outbox.claim(catalog, NOW + timedelta(minutes=1))
    assert (again.id, again.attempts) == (head.id, 1)
    assert outbox.settle(catalog, again, NOW + timedelta(minutes=1)) == "delivered"
    later = NOW + timedelta(minutes=1)
    for n in (1, 2):
        [item] = outbox.claim(catalog, later)
        assert _numbers([item]) == [("http://h/a", n)]
        assert outbox.claim(catalog, later) == []
        assert outbox.settle(catalog, item, later) == "delivered"
    assert outbox.backlog(catalog).pending == 1  # /b's, still leased


def test_a_lease_that_runs_out_is_claimed_again_before_anything_newer(catalog: Catalog) -> None:
    _webhooks(catalog, "http://h/a", 2, NOW)
    [first] = outbox.claim(catalog, NOW)
    [again] = outbox.claim(catalog, NOW + outbox.LEASE)
    assert again.id == first.id
    assert outbox.settle(catalog, first, NOW + outbox.LEASE) == "lost"
    assert outbox.claim(catalog, NOW + outbox.LEASE) == []  # the new holder's lease stands


def test_an_endpoint_that_is_down_never_holds_up_the_others(catalog: Catalog) -> None:
    """Thousands queued behind a head that waits for its retry take no place in a batch."""
    _webhooks(catalog, "http://h/down", 2000, NOW)
    outbox.enqueue_now(
        catalog,
        [outbox.webhook(f"http://h/up{n}", "policy-restored", {"n": n}) for n in range(3)],
        NOW,
    )
    [head] = outbox.claim(catalog, NOW, limit=1)
    assert outbox.settle(catalog, head, NOW, "down") == "retry"
    soon = NOW + timedelta(seconds=10)
    assert _numbers(outbox.claim(catalog, soon, limit=2)) == [
        ("http://h/up0", 0),
        ("http://h/up1", 1),
    ]
    assert _numbers(outbox.claim(catalog, soon, limit=2)) == [("http://h/up2", 2)]


def test_the_next_delivery_goes_once_the_head_is_given_up(catalog: Catalog) -> None:
    _webhooks(catalog, "http://h/a", 1, NOW)
    _webhooks(catalog, "http://h/a", 1, NOW + timedelta(hours=1), start=1)
    for at, outcome in [
        (NOW, "retry"),
        (NOW + timedelta(hours=1), "retry"),  # the newer one is due, yet waits
        (NOW + outbox.GIVE_UP, "gave-up"),
    ]:
        [item] = outbox.claim(catalog, at)
        assert _numbers([item]) == [("http://h/a", 0)]
        assert outbox.settle(catalog, item, at, "down") == outcome
    [item] = outbox.claim(catalog, NOW + outbox.GIVE_UP)
    assert (_numbers([item]), item.attempts) == ([("http://h/a", 1)], 0)
    assert outbox.settle(catalog, item, NOW + outbox.GIVE_UP) == "delivered"
    assert outbox.backlog(catalog) == outbox.Backlog(0, 1, None, 0)


def test_only_the_newest_ping_state_of_a_job_is_sent_the_older_ones_superseded(
    catalog: Catalog,
) -> None:
    """A job's check is one endpoint whatever the suffix (/start, /fail): pending states it has
    not been told are superseded by the newest, never sent after it, and not counted lost."""
    url = "http://hc/ping/app"
    for minute, event in enumerate(["start", "success", "start", "fail"]):
        outbox.enqueue_now(
            catalog, [outbox.ping(url, event, "app")], NOW + timedelta(minutes=minute)
        )
    outbox.enqueue_now(catalog, [outbox.ping("http://hc/ping/db", "start", "db")], NOW)
    at = NOW + timedelta(minutes=5)
    batch = outbox.claim(catalog, at)
    assert [(item.job, item.event, item.url) for item in batch] == [
        ("app", "fail", url + "/fail"),
        ("db", "start", "http://hc/ping/db/start"),
    ]
    assert batch[0].superseded == 3
    assert outbox.claim(catalog, at) == []
    backlog = outbox.backlog(catalog)
    assert (backlog.pending, backlog.gave_up, backlog.superseded) == (2, 0, 3)
    with catalog.session() as session:
        rows = session.query(Delivery).filter(Delivery.job == "app").order_by(Delivery.id).all()
    settled = [(r.delivered_at, r.gave_up_at is not None, r.last_error) for r in rows]
    newest = f"{outbox.SUPERSEDED} #{batch[0].id}"
    assert settled == [(None, True, newest)] * 3 + [(None, False, None)]


def test_a_ping_in_flight_is_never_superseded_nor_overtaken(catalog: Catalog) -> None:
    url = "http://hc/ping/app"
    outbox.enqueue_now(catalog, [outbox.ping(url, "start", "app")], NOW)
    [start] = outbox.claim(catalog, NOW)  # one sender sends it...
    outbox.enqueue_now(catalog, [outbox.ping(url, "success", "app")], NOW)
    assert outbox.claim(catalog, NOW) == []  # ...so another does not send the newer state
    assert outbox.settle(catalog, start, NOW, "down") == "retry"
    assert outbox.claim(catalog, NOW + timedelta(seconds=30)) == []  # nor while it waits
    [success] = outbox.claim(catalog, NOW + timedelta(minutes=1))
    assert (success.event, success.superseded) == ("success", 1)
    assert outbox.settle(catalog, success, NOW + timedelta(minutes=1)) == "delivered"
    backlog = outbox.backlog(catalog)
    assert (backlog.pending, backlog.gave_up, backlog.superseded) == (0, 0, 1)
