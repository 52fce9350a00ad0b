"""The sender thread against a real HTTP server: delivered, retried later, never lost."""

from __future__ import annotations

from pathlib import Path

from drorch.catalog import open_catalog, outbox, utc_now
from drorch.catalog.models import Delivery
from drorch.config.model import Notify
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
            outbox.ping(http_sink.url + "/ping/app", "fail", "app", "run 7: snapshot FAILED"),
        ],
        now,
    )
    sender = Sender(catalog, lambda: endpoints((hook,)), idle=0.05)
    sender.start()
    try:
        got = http_sink.wait_for(3, timeout=10)
    finally:
        sender.stop()
    assert [r.path for r in got] == ["/ping/app/start", "/ping/app/fail", "/hook"]
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
    assert sender.drain() == 4
    assert [r.path for r in http_sink.received] == ["/ping/app", "/down"]
    with catalog.session() as session:
        rows = session.query(Delivery).filter(Delivery.kind == "webhook").all()
    assert sorted(r.attempts for r in rows) == [0, 0, 1]  # two handed back untried
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
