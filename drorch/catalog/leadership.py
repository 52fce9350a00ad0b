"""The SQL of leadership: the leadership row and its epoch, the PostgreSQL advisory lock
that elects a leader among daemons, node states, and the runs of dead nodes.

The policy (who tries when, what a leader does) is drorch.service.leadership's.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, delete, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased
from sqlalchemy.pool import NullPool

from drorch.catalog import models
from drorch.catalog.database import server_session
from drorch.catalog.fencing import LEADERSHIP_ID
from drorch.catalog.models import RunStatus
from drorch.catalog.store import Catalog, RunRecord, _record, utc_now

log = logging.getLogger(__name__)

# The dedicated connection: a vanished peer is noticed within about idle + interval * count
# seconds on either side (the server then ends the session, and the lock with it).
KEEPALIVE = {"idle": 5, "interval": 2, "count": 3}
STATEMENT_TIMEOUT = "10s"


@dataclass(frozen=True)
class Leader:
    epoch: int  # 0: no daemon has led this catalog yet
    node: str | None
    node_id: int | None
    since: datetime | None


def leader(catalog: Catalog) -> Leader:
    with catalog.session() as session:
        row = session.get_one(models.Leadership, LEADERSHIP_ID)
        return Leader(row.epoch, row.node, row.node_id, row.since)


_TAKE = (
    update(models.Leadership)
    .where(models.Leadership.id == LEADERSHIP_ID)
    .values(epoch=models.Leadership.epoch + 1)
    .returning(models.Leadership.epoch)
)


def take(connection: Connection, *, node: str, node_id: int) -> int:
    """Raise the epoch by one and name this node the leader, in one transaction of
    `connection`'s; the new epoch. It waits for the fenced writes in flight (they hold the
    row FOR SHARE); every fenced write after it sees the new epoch."""
    with connection.begin():
        epoch: int = connection.execute(
            _TAKE.values(node=node, node_id=node_id, since=utc_now())
        ).scalar_one()
    return epoch


def take_on(catalog: Catalog, *, node: str, node_id: int) -> int:
    """`take` on a connection of the catalog's pool (SQLite: the one daemon leads)."""
    with catalog.engine.connect() as connection:
        return take(connection, node=node, node_id=node_id)


def draining(catalog: Catalog, node: str) -> bool:
    """Whether an operator drains this node: it does not become leader."""
    with catalog.session() as session:
        row = session.get(models.NodeState, node)
        return bool(row is not None and row.draining)


def newest_heartbeats(catalog: Catalog) -> dict[str, datetime]:
    """Each node name's newest heartbeat (of any of its daemon processes)."""
    query = select(models.Node.name, func.max(models.Node.heartbeat_at)).group_by(models.Node.name)
    with catalog.session() as session:
        return {name: at for name, at in session.execute(query)}


def running_on_dead_nodes(catalog: Catalog, *, silent_for: timedelta, me: str) -> list[RunRecord]:
    """RUNNING runs started by a daemon of another node whose newest heartbeat is older than
    `silent_for`: their node is gone, and nobody will finish them."""
    beats = newest_heartbeats(catalog)
    since = utc_now() - silent_for
    dead = {name for name, at in beats.items() if name != me and at < since}
    if not dead:
        return []
    query = select(models.Run).where(
        models.Run.status == RunStatus.RUNNING, models.Run.node.in_(sorted(dead))
    )
    with catalog.session() as session:
        return [_record(RunRecord, row) for row in session.scalars(query)]


def free_locks_of_run(catalog: Catalog, run_id: int) -> int:
    """Delete the catalog locks a dead run held (its node is gone; its lease would keep
    them for minutes); how many."""
    with catalog.session() as session, session.begin():
        done = session.execute(delete(models.Lock).where(models.Lock.run_id == run_id))
        return int(done.rowcount)  # type: ignore[attr-defined]


def interrupted_slots(catalog: Catalog) -> list[tuple[str, str, datetime, int]]:
    """(job, action, slot, run id) of each job action whose newest claimed slot is held by
    an INTERRUPTED run (its node or process died in it): what a leader may run again."""
    claim, newer = aliased(models.SlotClaim), aliased(models.SlotClaim)
    newest = (
        select(func.max(newer.slot_at))
        .where(newer.job == claim.job, newer.action == claim.action)
        .scalar_subquery()
    )
    query = (
        select(claim.job, claim.action, claim.slot_at, claim.run_id)
        .join(models.Run, models.Run.id == claim.run_id)
        .where(models.Run.status == RunStatus.INTERRUPTED, claim.slot_at == newest)
        .order_by(claim.job, claim.action)
    )
    with catalog.session() as session:
        return [(r.job, r.action, r.slot_at, r.run_id) for r in session.execute(query)]


def lock_key(identity: str) -> int:
    """The advisory lock key of a catalog: from its identity, so that catalogs sharing one
    PostgreSQL database (schemas) elect their leaders apart. A signed 64-bit integer."""
    digest = hashlib.sha256(f"drorch leadership {identity}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """A session-level PostgreSQL advisory lock on a connection of its own (not from the
    catalog's pool): held while that session lives, released by the server when it ends
    (the process died, the host vanished past its keepalives, the session was terminated).
    """

    def __init__(self, catalog: Catalog, key: int) -> None:
        self._engine = create_engine(
            catalog.engine.url,
            poolclass=NullPool,
            connect_args={
                **server_session(),
                "connect_timeout": 10,
                "keepalives": 1,
                "keepalives_idle": KEEPALIVE["idle"],
                "keepalives_interval": KEEPALIVE["interval"],
                "keepalives_count": KEEPALIVE["count"],
            },
        )
        self._key = key
        self._connection: Connection | None = None

    def try_take(self, *, node: str, node_id: int) -> int | None:
        """Take the lock if free, then the leadership (epoch + 1); the epoch, or None when
        another session holds the lock. SQLAlchemyError when the server cannot be reached."""
        connection = self._connect()
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key})
        connection.commit()
        if not got.scalar_one():
            return None
        try:
            return take(connection, node=node, node_id=node_id)
        except BaseException:
            self.close()  # the lock goes with the session: never held without an epoch
            raise

    def holds(self) -> bool:
        """Whether our session still lives and holds the lock (pg_locks names it)."""
        if self._connection is None:
            return False
        high, low = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        try:
            held = self._connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND classid = :high AND objid = :low "
                    "AND objsubid = 1"
                ),
                {"high": high, "low": low},
            ).scalar_one()
            self._connection.commit()
        except SQLAlchemyError as exc:
            log.warning("the leadership connection failed: %s", _first_line(exc))
            self.close()
            return False
        if not held:
            self.close()
        return bool(held)

    def close(self) -> None:
        """End the session (and the lock with it)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except SQLAlchemyError:
                pass

    def dispose(self) -> None:
        self.close()
        self._engine.dispose()

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = self._engine.connect()
            for name, value in KEEPALIVE.items():  # the server notices a vanished host too
                connection.execute(text(f"SET tcp_keepalives_{name} = {int(value)}"))
            connection.execute(text(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'"))
            connection.commit()
            self._connection = connection
        return self._connection


def _first_line(exc: Any) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
