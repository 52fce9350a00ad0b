"""The sender thread against a real HTTP server: delivered, retried later, never lost."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drorch.catalog import Catalog, open_catalog, outbox, utc_now
from drorch.catalog.models import Delivery
from drorch.config.model import Notify
from drorch.notify.send import Endpoint
from drorch.notify.sender import Sender, endpoints
from tests.http_sink import Sink


def test_the_sender_delivers_pings_first_then_webhooks(http_sink: Sink, tmp_path: Path) -> None:
    catalog = open_catalog(None, tmp_path)
    token = tmp_path / "auth"
    token.write_text("t0ken", encoding="utf-8")
    hook = Notify(webhook=http_sink.url + "/hook", header_files={"X-Token": token})
    now = utc_now()
    outbox.enqueue_now(
        catalog,
        [
            outbox.ping(http_sink.url + "/ping/app", "start", "app"),
            outbox.webhook(hook.webhook, "policy-violation", {"job": "app", "rule": "rto"}),
            outbox.ping(http_sink.url + "/ping/db", "fail", "db", "run 7: snapshot FAILED"),
        ],
        now,
    )
    sender = Sender(catalog, lambda: endpoints((hook,)), idle=0.05)
    sender.start()
    try:
        got = http_sink.wait_for(3, timeout=10)
    finally:
        sender.stop()
    assert [r.path for r in got] == ["/ping/app/start", "/ping/db/fail", "/hook"]
    assert got[2].headers["X-Token"] == "t0ken" and got[2].json()["rule"] == "rto"
    assert got[1].body == b"run 7: snapshot FAILED"
    assert outbox.backlog(catalog).pending == 0


def test_an_endpoint_that_is_down_keeps_the_delivery_for_later(
    http_sink: Sink, tmp_path: Path
) -> None:
    catalog = open_catalog(None, tmp_path)
    hook = Notify(webhook=http_sink.url + "/hook", retries=0)
    http_sink.statuses = [502]
    outbox.enqueue_now(catalog, [outbox.webhook(hook.webhook, "policy-restored", {})], utc_now())
    sender = Sender(catalog, lambda: endpoints((hook,)))
    assert sender.drain() == 1
    backlog = outbox.backlog(catalog)
    assert backlog.pending == 1 and backlog.gave_up == 0
    assert sender.drain() == 0  # not due again before its backoff
    with catalog.session() as session:
        [row] = session.query(Delivery).all()
        assert row.attempts == 1 and row.last_error and "HTTP 502" in row.last_error
        assert row.next_attempt_at > utc_now()


def test_an_endpoint_that_fails_is_tried_once_per_pass(http_sink: Sink, tmp_path: Path) -> None:
    catalog = open_catalog(None, tmp_path)
    down = Notify(webhook=http_sink.url + "/down", retries=0)
    http_sink.statuses = [200, 503]  # the ping (sent first) arrives; /down answers 503
    now = utc_now()
    outbox.enqueue_now(
        catalog,
        [outbox.webhook(down.webhook, "policy-violation", {"n": n}) for n in range(3)]
        + [outbox.ping(http_sink.url + "/ping/app", "success", "app")],
        now,
    )
    sender = Sender(catalog, lambda: endpoints((down,)))
    assert sender.drain() == 2  # the head of each endpoint; the newer ones wait behind it
    assert [r.path for r in http_sink.received] == ["/ping/app", "/down"]
    assert sender.drain() == 0  # the head of /down waits for its retry, the rest with it
    with catalog.session() as session:
        rows = session.query(Delivery).filter(Delivery.kind == "webhook").all()
    assert sorted(r.attempts for r in rows) == [0, 0, 1]  # two not tried yet
    assert all(r.delivered_at is None and r.gave_up_at is None for r in rows)


def test_a_webhook_removed_from_the_config_is_dropped_not_sent(
    http_sink: Sink, tmp_path: Path
) -> None:
    catalog = open_catalog(None, tmp_path)
    outbox.enqueue_now(
        catalog, [outbox.webhook(http_sink.url + "/old", "policy-restored", {})], utc_now()
    )
    assert Sender(catalog, lambda: endpoints(())).drain() == 1
    assert http_sink.received == []
    backlog = outbox.backlog(catalog)
    assert (backlog.pending, backlog.gave_up) == (0, 1)


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """The senders' time, moved by the test: retries come due without sleeping."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def drain_all(*senders: Sender) -> None:
    """Each sender in turn, as the sender thread does, until none finds anything due."""
    while sum(sender.drain() for sender in senders) > 0:
        pass


def arrived(sink: Sink, since: int) -> tuple[list[int], list[str]]:
    """The webhooks (by their number) and the pings (by path) received from `since` on."""
    got = sink.received[since:]
    hooks = [r.json()["n"] for r in got if r.path == "/hook"]
    return hooks, [r.path for r in got if r.path.startswith("/ping/")]


def test_after_an_outage_each_endpoint_hears_its_news_in_order(
    http_sink: Sink, any_catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    """Webhooks and pings queue up during a six-minute outage; the oldest of each endpoint
    has the longest backoff. Once it is back, the webhooks arrive in the order they were
    raised, and the job's check hears its newest state only, never an older one after it."""
    caplog.set_level(logging.INFO)
    catalog, clock = any_catalog, Clock(T0)
    hook = Notify(webhook=http_sink.url + "/hook", retries=0)
    check = http_sink.url + "/ping/app"
    sender = Sender(catalog, lambda: endpoints((hook,)), clock=clock, ping=Endpoint(retries=0))
    news = {
        0: [outbox.ping(check, "start", "app"), outbox.webhook(hook.webhook, "v", {"n": 0})],
        2: [outbox.ping(check, "success", "app"), outbox.webhook(hook.webhook, "r", {"n": 1})],
        3: [outbox.ping(check, "start", "app"), outbox.webhook(hook.webhook, "v", {"n": 2})],
        4: [outbox.ping(check, "fail", "app", "run 9: snapshot FAILED")],
    }
    http_sink.statuses = [503] * 1000  # down
    back = len(http_sink.received)
    for half_minute in range(40):
        clock.at = T0 + timedelta(seconds=30 * half_minute)
        if half_minute == 12:  # six minutes later
            http_sink.statuses.clear()
            back = len(http_sink.received)
        if half_minute % 2 == 0:
            outbox.enqueue_now(catalog, news.get(half_minute // 2, []), clock.at)
        drain_all(sender)
    assert arrived(http_sink, back) == ([0, 1, 2], ["/ping/app/fail"])
    [told] = [r for r in http_sink.received[back:] if r.path.startswith("/ping/")]
    assert told.body == b"run 9: snapshot FAILED"
    backlog = outbox.backlog(catalog)
    assert (backlog.pending, backlog.gave_up, backlog.superseded) == (0, 0, 3)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "gave up" in r.getMessage()]
    assert any("superseded" in r.getMessage() for r in caplog.records)


def test_two_senders_on_one_catalog_never_break_the_order(
    http_sink: Sink, any_catalog: Catalog
) -> None:
    """Two daemons share the catalog: while one holds or retries the oldest delivery of an
    endpoint, the other sends nothing newer to it."""
    catalog, clock = any_catalog, Clock(T0)
    hook = Notify(webhook=http_sink.url + "/hook", retries=0)
    check = http_sink.url + "/ping/app"
    a, b = (
        Sender(catalog, lambda: endpoints((hook,)), clock=clock, ping=Endpoint(retries=0))
        for _ in range(2)
    )
    http_sink.statuses = [503, 503]  # a's first pass fails; then the endpoint is back
    outbox.enqueue_now(
        catalog,
        [outbox.ping(check, "start", "app"), outbox.webhook(hook.webhook, "v", {"n": 0})],
        clock.at,
    )
    assert a.drain() == 2
    clock.at += timedelta(seconds=10)
    outbox.enqueue_now(
        catalog,
        [outbox.webhook(hook.webhook, "r", {"n": n}) for n in (1, 2)]
        + [outbox.ping(check, "success", "app")],
        clock.at,
    )
    assert b.drain() == 0  # the oldest of each endpoint waits for its retry: nothing newer
    for _ in range(6):
        clock.at += timedelta(seconds=30)
        drain_all(b, a)
    assert arrived(http_sink, 2) == ([0, 1, 2], ["/ping/app"])


def test_a_delivery_whose_lease_would_run_out_is_handed_back_unsent(
    http_sink: Sink, tmp_path: Path
) -> None:
    """A sender that reaches a delivery too late to finish it within its lease leaves it to
    the next claim: sent after its lease, it could arrive after a newer one another
    sender sent meanwhile."""
    catalog = open_catalog(None, tmp_path)
    hook = Notify(webhook=http_sink.url + "/hook", retries=0)
    outbox.enqueue_now(catalog, [outbox.webhook(hook.webhook, "v", {"n": 0})], T0)
    late = T0 + outbox.LEASE - timedelta(seconds=5)
    stamps = [T0, late]  # the claim, then the moment it would be sent
    sender = Sender(
        catalog,
        lambda: endpoints((hook,)),
        clock=lambda: stamps.pop(0) if len(stamps) > 1 else stamps[0],
    )
    assert sender.drain() == 1
    assert http_sink.received == []
    [item] = outbox.claim(catalog, late)  # due again at once, for whoever comes next
    assert item.attempts == 0
