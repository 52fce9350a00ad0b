"""The one place drorch speaks HTTP: a webhook POST or a ping, with bounded retries.

A delivery raises DeliveryFailed naming the URL and why; the sender settles the outbox
row with that message and tries again later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from drorch import __version__

log = logging.getLogger(__name__)

USER_AGENT = f"drorch/{__version__}"


class DeliveryFailed(Exception):
    """One delivery did not reach its endpoint (after its immediate retries)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def permanent(self) -> bool:
        """A 4xx other than 408/429 will not change by retrying at once."""
        status = self.status
        return status is not None and 400 <= status < 500 and status not in (408, 429)


@dataclass(frozen=True)
class Endpoint:
    """How to reach one URL: its time limit, retries and secret headers."""

    timeout: float = 5.0
    retries: int = 2
    header_files: Mapping[str, Path] = field(default_factory=dict)
    backoff: float = 0.5  # seconds before the first immediate retry, doubling

    @property
    def longest(self) -> timedelta:
        """The longest one delivery takes, its immediate retries included, when each attempt
        connects and is answered within `timeout` (requests' limit applies to each)."""
        attempts = self.retries + 1
        waits = self.backoff * (2**self.retries - 1)
        return timedelta(seconds=attempts * 2 * self.timeout + waits)


def _headers(endpoint: Endpoint) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT}
    for name, path in endpoint.header_files.items():
        try:
            headers[name] = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise DeliveryFailed(f"header {name}: cannot read {path}: {exc.strerror}") from exc
    return headers


def _once(session: requests.Session, url: str, body: Any, endpoint: Endpoint) -> None:
    headers = _headers(endpoint)
    try:
        if isinstance(body, str):
            response = session.post(
                url, data=body.encode(), headers=headers, timeout=endpoint.timeout
            )
        else:
            response = session.post(url, json=body, headers=headers, timeout=endpoint.timeout)
    except requests.Timeout as exc:
        raise DeliveryFailed(f"{url}: no answer within {endpoint.timeout:g}s") from exc
    except requests.RequestException as exc:
        raise DeliveryFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
    if not response.ok:
        raise DeliveryFailed(
            f"{url}: HTTP {response.status_code} {response.reason}", response.status_code
        )


def deliver(
    session: requests.Session,
    url: str,
    body: Mapping[str, Any] | str,
    endpoint: Endpoint,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """POST `body` (JSON for a mapping, text for a string); retry `endpoint.retries` times
    with doubling backoff on a network error or an HTTP 5xx / 429; raise DeliveryFailed."""
    wait = endpoint.backoff
    for attempt in range(endpoint.retries + 1):
        try:
            _once(session, url, body, endpoint)
            return
        except DeliveryFailed as exc:
            final = attempt == endpoint.retries or exc.permanent
            if final:
                raise
            log.info("delivery to %s failed (%s); retrying in %.1fs", url, exc, wait)
            sleep(wait)
            wait *= 2
