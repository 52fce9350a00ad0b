"""A catalog server away for a while (restarted, crashed, failing over) under a write that
must not be lost: a run's end. Such a write is tried again until the server answers, for
a while; the other reads and writes fail at once and are tried again by whoever asked
(the daemon's heartbeat, its next look for leadership, its next slot).

A SQLite catalog is a file of this host: its errors are not an absence, and are never
waited out here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from drorch.catalog.database import describe, reason

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a run's end is tried again while its catalog server is away: a restart or a
# crash recovery takes seconds, a failover a minute or two.
PATIENCE = 600.0
FIRST_DELAY, MAX_DELAY = 0.5, 5.0  # seconds between tries: doubled up to MAX_DELAY


def server_away(engine: Engine, exc: BaseException) -> bool:
    """Whether `exc`, raised by a statement on `engine`, says that the catalog's server
    cannot be reached now: the connection refused or cut, the server shutting down or
    starting up (psycopg's OperationalError), a connection found dead."""
    return (
        engine.dialect.name != "sqlite"
        and isinstance(exc, DBAPIError)
        and (exc.connection_invalidated or isinstance(exc, OperationalError))
    )


def patiently(
    engine: Engine,
    write: Callable[[], T],
    *,
    what: str,
    patience: float = PATIENCE,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`write()` (one whole transaction), tried again while the server of `engine` is away,
    for up to `patience` seconds; then its error. Any other error at once."""
    deadline = time.monotonic() + patience
    delay = FIRST_DELAY
    while True:
        try:
            return write()
        except DBAPIError as exc:
            if not server_away(engine, exc) or time.monotonic() + delay > deadline:
                raise
            log.warning(
                "%s: cannot reach the catalog %s (%s); trying again in %.1fs",
                what,
                describe(engine.url.render_as_string(hide_password=False)),
                reason(exc),
                delay,
            )
        sleep(delay)
        delay = min(delay * 2, MAX_DELAY)
