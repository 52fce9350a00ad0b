"""Lock rows: acquire, renew and release by compare-and-swap, portable across databases.

A lock is free when there is no row, when its lease has expired, or when its holder
is on this host and provably gone (no process with that pid and identity).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from drorch.catalog import models
from drorch.catalog.store import (
    Catalog,
    RepositoryRecord,
    RunRecord,
    free_lock,
    insert_run,
    read_repositories,
    utc_now,
)
from drorch.errors import LockBusy


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    pid_started: float  # the process's start time (epoch seconds), as psutil tells it
    # drorch.process.process_identity: tells pid reuse apart, whatever the wall clock does
    process: str | None = None


@dataclass(frozen=True)
class Held:
    name: str
    token: str
    run: RunRecord | None = None  # the run recorded with the lock (acquire's `run`)
    # The rows of the repositories read with the lock (acquire's `repositories`); None: the
    # target has none recorded.
    repositories: Mapping[str, RepositoryRecord | None] = field(default_factory=dict)


@dataclass(frozen=True)
class LockInfo:
    name: str
    host: str
    pid: int
    run_id: int | None
    purpose: str
    acquired_at: datetime
    expires_at: datetime


Alive = Callable[[Owner], bool]  # whether a holder, as recorded, may still run
_LOCKS = cast(Table, models.Lock.__table__)
# Built once: a daemon takes one for each run, and building costs about as much as running.
_READ = select(_LOCKS).where(_LOCKS.c.name == bindparam("lock_name"))
_INSERT = insert(_LOCKS)


def acquire(
    catalog: Catalog,
    name: str,
    owner: Owner,
    *,
    lease: timedelta,
    purpose: str,
    alive: Alive,
    run_id: int | None = None,
    run: Mapping[str, Any] | None = None,
    repositories: Collection[str] = (),
) -> Held:
    """Take the lock or raise LockBusy naming its holder.

    With `run` (store.insert_run's fields), also record the run it guards, in the same
    transaction: one commit where the daemon starts many runs at a slot, and no run
    recorded when the lock is busy. The lock carries its id; `Held.run` is its record.
    With `repositories` (target names), their rows are read in that transaction too
    (`Held.repositories`): the run about to open them is spared a session of its own."""
    for _ in range(5):
        try:
            now = utc_now()
            token = secrets.token_hex(16)
            with catalog.session() as session, session.begin():
                current = session.execute(_READ, {"lock_name": name}).first()
                if current is not None:
                    # On this host a live holder keeps its lock whatever its lease says (a
                    # stalled renewer must not let a second run in); elsewhere the lease
                    # decides.
                    holder_alive = alive(
                        Owner(current.host, current.pid, current.pid_started, current.process)
                    )
                    if holder_alive and (current.expires_at > now or current.host == owner.host):
                        raise LockBusy(
                            _describe(current), holder_pid=current.pid, holder_run=current.run_id
                        )
                # Read before the first write: on SQLite that is outside the write
                # transaction, so the statement does not lengthen the time this process's
                # other threads queue for the write lock (drorch.catalog.database).
                known = read_repositories(session, repositories) if repositories else {}
                record = None if run is None else insert_run(session, fence=catalog.fence, **run)
                values = {
                    "token": token,
                    "host": owner.host,
                    "pid": owner.pid,
                    "pid_started": owner.pid_started,
                    "process": owner.process,
                    "run_id": run_id if record is None else record.id,
                    "purpose": purpose,
                    "acquired_at": now,
                    "expires_at": now + lease,
                }
                if current is None:  # IntegrityError when someone inserted first
                    session.execute(_INSERT, {"name": name, **values})
                else:
                    taken = session.execute(
                        update(_LOCKS)
                        .where(_LOCKS.c.name == name, _LOCKS.c.token == current.token)
                        .values(**values)
                    )
                    if taken.rowcount != 1:  # type: ignore[attr-defined]
                        raise _Lost
                return Held(name, token, record, known)
        except (IntegrityError, _Lost):
            continue  # rolled back, the run with it: look again
    raise LockBusy(f"{name} is contended; try again")


class _Lost(Exception):
    """Another process changed the lock between our read and our write: look again."""


def _describe(row: Any) -> str:
    run = f"run {row.run_id}, " if row.run_id is not None else ""
    return f"{row.purpose}: already running ({run}pid {row.pid} on {row.host})"


def renew(catalog: Catalog, held: Held, *, lease: timedelta) -> bool:
    """Extend the lease; False when the lock is no longer ours."""
    with catalog.session() as session, session.begin():
        done = session.execute(
            update(models.Lock)
            .where(models.Lock.name == held.name, models.Lock.token == held.token)
            .values(expires_at=utc_now() + lease)
        )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def release(catalog: Catalog, held: Held) -> None:
    with catalog.session() as session, session.begin():
        free_lock(session, held.name, held.token)


def held_locks(catalog: Catalog) -> list[LockInfo]:
    with catalog.session() as session:
        return [
            LockInfo(
                row.name,
                row.host,
                row.pid,
                row.run_id,
                row.purpose,
                row.acquired_at,
                row.expires_at,
            )
            for row in session.scalars(select(models.Lock).order_by(models.Lock.name))
        ]
