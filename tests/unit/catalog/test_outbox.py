"""The outbox on a real catalog, SQLite and PostgreSQL: enqueue, claim once, settle, back off,
give up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drorch.catalog import Catalog, outbox
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
    assert outbox.backlog(catalog) == outbox.Backlog(0, 0, None)
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
