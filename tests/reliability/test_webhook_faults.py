"""A webhook endpoint that hangs, refuses connections or answers 500, then recovers: the
sender keeps each delivery (nothing given up, nothing newer sent ahead of it), and once
the endpoint is back every webhook arrives exactly once after the recovery, in the order
it was raised.

The endpoint is a real HTTP server on loopback whose fault the test chooses; the sender's
clock is the test's, so that its backoff (minutes) passes without sleeping.

The one run that delivers by itself, a runbook's notify step, waits on nothing but one
try of its own message: not on immediate retries, nor on the rest of the outbox.

Covered elsewhere, not repeated here: a daemon whose webhook and ping endpoints hang goes
on taking snapshots, and what it could not deliver waits in the outbox
(tests/e2e/test_daemon_alerts.py::test_a_hanging_webhook_never_delays_a_backup); a 503
outage of webhooks and pings together, pings superseded by newer states
(tests/unit/notify/test_sender.py::test_after_an_outage_each_endpoint_hears_its_news_in_order);
two senders on one catalog (test_two_senders_on_one_catalog_never_break_the_order).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from drorch.catalog import Catalog, open_catalog, outbox, utc_now
from drorch.catalog.models import Delivery
from drorch.config import load_config
from drorch.config.model import Notify
from drorch.notify.sender import Sender, endpoints
from tests.conftest import DRORCH_YAML, RootFactory
from tests.e2e.conftest import Cli
from tests.e2e.daemon_harness import DaemonProcess, catalog_of, runs_of, wait_for
from tests.e2e.test_daemon_alerts import EVERY_2S_PINGED, FAST, with_webhook
from tests.http_sink import Sink
from tests.unit.notify.test_sender import Clock, drain_all

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
FAULTS = ("hang", "refuse", "500")


class Endpoint:
    """A webhook endpoint on a fixed loopback port that is, as the test says: `ok`,
    `hang` (reads the request, answers nothing until closed), `500`, or `refuse` (the
    port bound but not listening: the kernel refuses every connection)."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))  # held, not listening: refused
        self.port = int(self._socket.getsockname()[1])
        self.received: list[tuple[str, int]] = []  # (fault when it arrived, webhook n)
        self.fault = "refuse"
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def become(self, fault: str) -> None:
        if fault != "refuse" and self._server is None:
            self._socket.close()
            self._server = self._serve()
        assert fault != "refuse" or self._server is None, "a listening port cannot refuse"
        self.fault = fault

    def _serve(self) -> ThreadingHTTPServer:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fault = endpoint.fault
                endpoint.received.append((fault, int(json.loads(body)["n"])))
                if fault == "hang":
                    endpoint._released.wait()
                    return
                status = 500 if fault == "500" else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def after_recovery(self) -> list[int]:
        return [n for fault, n in self.received if fault == "ok"]

    def close(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._socket.close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    try:
        yield served
    finally:
        served.close()


def rows(catalog: Catalog) -> list[Delivery]:
    with catalog.session() as session:
        return sorted(session.query(Delivery).all(), key=lambda d: d.id)


@pytest.mark.parametrize("fault", FAULTS)
def test_an_endpoint_down_then_back_hears_everything_once_in_order(
    any_catalog: Catalog, endpoint: Endpoint, fault: str
) -> None:
    catalog, clock = any_catalog, Clock(T0)
    hook = Notify(webhook=endpoint.url, timeout=timedelta(seconds=1), retries=1)
    sender = Sender(catalog, lambda: endpoints((hook,)), clock=clock)
    endpoint.become(fault)
    # three webhooks raised a minute apart while the endpoint is down; the sender passes
    # every 30 seconds, as the daemon's does when woken
    for half_minute in range(12):
        clock.at = T0 + timedelta(seconds=30 * half_minute)
        if half_minute in (0, 2, 4):
            event = outbox.webhook(hook.webhook, "policy-violation", {"n": half_minute // 2})
            outbox.enqueue_now(catalog, [event], clock.at)
        drain_all(sender)
    during = rows(catalog)
    assert [d.delivered_at for d in during] == [None, None, None]
    assert [d.gave_up_at for d in during] == [None, None, None]
    # only the oldest was tried (and retried: 1, 2 and 4 minutes apart); the newer ones
    # wait behind it, never sent ahead of it
    assert during[0].attempts >= 2 and [d.attempts for d in during[1:]] == [0, 0]
    assert {n for _, n in endpoint.received} <= {0}
    assert f"{endpoint.url}: " in (during[0].last_error or "")

    endpoint.become("ok")
    for half_minute in range(12, 40):
        clock.at = T0 + timedelta(seconds=30 * half_minute)
        drain_all(sender)
    assert endpoint.after_recovery() == [0, 1, 2]
    after = rows(catalog)
    assert all(d.delivered_at is not None and d.gave_up_at is None for d in after)
    backlog = outbox.backlog(catalog)
    assert (backlog.pending, backlog.gave_up) == (0, 0)


TELL = """\
title: Tell
description: One message to the webhooks
steps:
  - {name: tell, kind: notify, with: {message: "all restored", event: runbook-done}}
"""


def test_a_runbook_notify_step_waits_on_nothing_but_one_try_of_its_own(
    cli: Cli, make_root: RootFactory, http_sink: Sink
) -> None:
    """A runbook's notify step tries its own message once, right away. With its endpoint
    hanging, the runbook goes on after that one try (no immediate retries), and it never
    tries what else waits in the outbox (a job's ping, here to a hanging check too): the
    daemon's sender delivers those, and the step's message once the endpoint is back."""
    http_sink.hang = True
    hook = http_sink.url + "/hook"
    config = DRORCH_YAML + f"notify:\n  - {{webhook: {hook}, timeout: 1s, retries: 3}}\n"
    root = make_root(drorch=config, runbooks={"tell": TELL})
    catalog = open_catalog(None, root / "state")
    try:
        ping = outbox.ping(http_sink.url + "/ping/app", "fail", "app", "run 1: FAILED")
        outbox.enqueue_now(catalog, [ping], utc_now())
        [waiting] = [d.id for d in rows(catalog)]
        done = cli("runbook", "run", "tell", "--yes", root=root)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "handed to 1 webhook(s) through the outbox" in done.stdout
        assert [r.path for r in http_sink.received] == ["/hook"]  # once, and only its own
        queued = {d.id: d for d in rows(catalog)}
        [ours] = [d for d in queued.values() if d.kind == "webhook"]
        assert ours.attempts == 1 and ours.delivered_at is None and ours.gave_up_at is None
        assert "no answer within 1s" in (ours.last_error or "")
        assert queued[waiting].attempts == 0  # the ping was left to the daemon
        # the endpoint is back: the daemon's sender delivers both, nothing lost
        http_sink.hang = False
        later = Clock(utc_now() + timedelta(minutes=2))
        hooks = load_config(root).settings.notify
        drain_all(Sender(catalog, lambda: endpoints(hooks), clock=later))
        assert sorted(r.path for r in http_sink.received[1:]) == ["/hook", "/ping/app/fail"]
        assert outbox.backlog(catalog).pending == 0
    finally:
        catalog.close()


def test_a_hanging_webhook_never_delays_a_backup(
    make_root: RootFactory, tmp_path: Path, http_sink: Sink
) -> None:
    http_sink.hang = True  # every request hangs until the test ends
    job = EVERY_2S_PINGED.replace("PING", http_sink.url + "/ping/app")
    root = make_root(drorch=with_webhook(http_sink.url + "/hook", timeout="30s"), jobs={"app": job})
    daemon = DaemonProcess(root, tmp_path, env=FAST)
    try:
        daemon.wait_ready()
        http_sink.wait_for(1, timeout=30)  # the sender is stuck on its first delivery
        # snapshots go on: were they waiting on the endpoint, none would finish
        wait_for(
            lambda: len([r for r in runs_of(root) if r.status.finished]) >= 4,
            90,
            "four finished snapshots while the endpoint hangs",
        )
        assert daemon.stop(timeout=30) == 0
    finally:
        daemon.close()
    runs = runs_of(root)
    assert all(r.status.value == "SUCCEEDED" for r in runs if r.status.finished)
    catalog = catalog_of(root)
    try:
        with catalog.session() as session:
            queued = session.query(Delivery).filter(Delivery.delivered_at.is_(None)).all()
    finally:
        catalog.close()
    # nothing was lost: what the daemon could not deliver waits in the outbox
    kinds = {(d.kind, d.event) for d in queued}
    assert ("ping", "start") in kinds and ("ping", "success") in kinds
    assert ("webhook", "policy-violation") in kinds
