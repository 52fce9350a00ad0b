"""The daemon's sender: a thread of its own draining the outbox, so that no backup ever
waits on a webhook or a ping endpoint that is down or slow."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from datetime import datetime

import requests

from drorch.catalog import Catalog, outbox, utc_now
from drorch.catalog.outbox import Claimed, Kind
from drorch.config.model import Notify
from drorch.notify.send import DeliveryFailed, Endpoint, deliver

log = logging.getLogger(__name__)

PING = Endpoint(timeout=10.0, retries=2)
IDLE = 15.0  # seconds between looks at the outbox when nobody wakes the sender


def endpoints(hooks: tuple[Notify, ...]) -> dict[str, Endpoint]:
    """Each configured webhook's URL and how to reach it."""
    return {
        hook.webhook: Endpoint(
            timeout=hook.timeout.total_seconds(),
            retries=hook.retries,
            header_files=dict(hook.header_files),
        )
        for hook in hooks
    }


class Sender:
    def __init__(
        self,
        catalog: Catalog,
        hooks: Callable[[], Mapping[str, Endpoint]],
        *,
        idle: float = IDLE,
        clock: Callable[[], datetime] = utc_now,
        ping: Endpoint = PING,
    ) -> None:
        self._catalog = catalog
        self._hooks = hooks
        self._idle = idle
        self._clock = clock
        self._ping = ping
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="notify-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next idle tick."""
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop looking; a delivery in flight is left to its lease and retried later."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._session.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._idle)
            self._wake.clear()
            try:
                while not self._stop.is_set() and self.drain() > 0:
                    pass
            except Exception:
                log.exception("the notification sender failed; trying again shortly")

    def drain(self, only: Collection[int] | None = None) -> int:
        """Deliver one batch: the head of each endpoint that is due (the outbox keeps each
        endpoint's order, across senders too), so an endpoint that is down costs one
        timeout per pass; how many were handled. A delivery reached too late to be through
        within its lease is handed back untried: sent after its lease, it could arrive
        after a newer one that another sender took meanwhile. With `only`, none but
        those deliveries (each when it is its endpoint's head)."""
        hooks = self._hooks()
        longest = max(e.longest for e in (self._ping, *hooks.values()))
        lease = max(outbox.LEASE, 2 * longest)
        batch = outbox.claim(self._catalog, self._clock(), lease=lease, only=only)
        for item in batch:
            if self._stop.is_set():
                break  # the rest keep their lease and come back after it
            self._send(item, hooks)
        return len(batch)

    def _send(self, item: Claimed, hooks: Mapping[str, Endpoint]) -> None:
        """One delivery, settled in the outbox (or handed back untried)."""
        what = f"{item.kind} {item.event}" + (f" of {item.job}" if item.job else "")
        if item.superseded:
            log.info(
                "%s goes in place of %d older state(s) of that check: superseded, not sent",
                what,
                item.superseded,
            )
        if item.kind is Kind.PING:
            endpoint, body = self._ping, (item.payload or {}).get("body", "")
        else:
            configured = hooks.get(item.url)
            if configured is None:  # removed from drorch.yaml: its secrets with it
                outbox.settle(
                    self._catalog, item, self._clock(), "no longer configured", final=True
                )
                log.warning(
                    "dropped %s to %s: that webhook is no longer configured", what, item.url
                )
                return
            endpoint, body = configured, item.payload or {}
        if self._clock() + endpoint.longest >= item.lease_until:
            outbox.postpone(self._catalog, item, self._clock())
            log.info("%s handed back untried: its lease would end before it is through", what)
            return
        error: str | None = None
        try:
            deliver(self._session, item.url, body, endpoint)
        except DeliveryFailed as exc:
            error = str(exc)
        outcome = outbox.settle(self._catalog, item, self._clock(), error)
        if outcome == "delivered":
            log.info("delivered %s to %s", what, item.url)
        elif outcome == "retry":
            log.warning(
                "could not deliver %s (attempt %d): %s; retrying later",
                what,
                item.attempts + 1,
                error,
            )
        elif outcome == "gave-up":
            log.error(
                "gave up delivering %s after %d attempts over %s: %s",
                what,
                item.attempts + 1,
                outbox.GIVE_UP,
                error,
            )
        else:
            log.warning("%s took longer than its lease; another sender has it now", what)
