"""Delivering to a real HTTP server on loopback: JSON, secret headers, retries, limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from drorch.notify.send import DeliveryFailed, Endpoint, deliver
from tests.http_sink import Sink


def no_sleep(_: float) -> None:
    pass


def test_json_post_with_a_header_read_from_a_file(http_sink: Sink, tmp_path: Path) -> None:
    token = tmp_path / "hook.auth"
    token.write_text("Bearer s3cret\n", encoding="utf-8")
    endpoint = Endpoint(header_files={"Authorization": token})
    with requests.Session() as session:
        deliver(session, http_sink.url + "/hook", {"event": "policy-violation"}, endpoint)
    [got] = http_sink.received
    assert got.path == "/hook" and got.json() == {"event": "policy-violation"}
    assert got.headers["Authorization"] == "Bearer s3cret"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"].startswith("drorch/")


def test_server_errors_are_retried_with_backoff(http_sink: Sink) -> None:
    http_sink.statuses = [500, 503]
    waits: list[float] = []
    with requests.Session() as session:
        deliver(session, http_sink.url, "ping", Endpoint(retries=2), sleep=waits.append)
    assert len(http_sink.received) == 3 and http_sink.received[-1].body == b"ping"
    assert waits == [0.5, 1.0]


def test_retries_are_bounded(http_sink: Sink) -> None:
    http_sink.statuses = [500] * 5
    with requests.Session() as session, pytest.raises(DeliveryFailed, match="HTTP 500"):
        deliver(session, http_sink.url, {}, Endpoint(retries=2), sleep=no_sleep)
    assert len(http_sink.received) == 3


def test_a_client_error_is_not_retried_at_once(http_sink: Sink) -> None:
    http_sink.statuses = [404]
    with requests.Session() as session, pytest.raises(DeliveryFailed) as caught:
        deliver(session, http_sink.url, {}, Endpoint(retries=3), sleep=no_sleep)
    assert caught.value.status == 404 and len(http_sink.received) == 1


def test_a_slow_endpoint_fails_within_the_timeout(http_sink: Sink) -> None:
    http_sink.delay = 3.0
    started = time.monotonic()
    with requests.Session() as session, pytest.raises(DeliveryFailed, match="no answer within"):
        deliver(session, http_sink.url, {}, Endpoint(timeout=0.5, retries=0))
    assert time.monotonic() - started < 2.5


def test_an_endpoint_that_is_down(http_sink: Sink) -> None:
    url = http_sink.url
    http_sink.close()
    with requests.Session() as session, pytest.raises(DeliveryFailed, match="ConnectionError"):
        deliver(session, url, {}, Endpoint(retries=1), sleep=no_sleep)


def test_an_unreadable_header_file_names_it(http_sink: Sink, tmp_path: Path) -> None:
    endpoint = Endpoint(header_files={"Authorization": tmp_path / "missing"})
    with requests.Session() as session, pytest.raises(DeliveryFailed, match="missing"):
        deliver(session, http_sink.url, {}, endpoint, sleep=no_sleep)
    assert http_sink.received == []


def test_the_longest_a_delivery_takes_counts_every_attempt_and_wait() -> None:
    """What the sender checks against a delivery's lease before it starts it."""
    assert Endpoint(timeout=5.0, retries=3).longest.total_seconds() == 4 * 2 * 5 + 0.5 + 1 + 2
    assert Endpoint(timeout=10.0, retries=0).longest.total_seconds() == 20
