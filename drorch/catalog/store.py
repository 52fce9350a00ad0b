"""Reads and writes of the catalog. The only module that issues SQL for drorch's data.

Results come out as frozen records, never as live ORM objects.
"""

from __future__ import annotations

import copy as shallow
import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Engine,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, sessionmaker

from drorch.catalog import models
from drorch.catalog.fencing import READ_EPOCH, Fence, check_fence, claim_slot
from drorch.catalog.models import RunStatus, SnapshotStatus
from drorch.catalog.outage import patiently
from drorch.errors import CatalogError

if TYPE_CHECKING:
    from drorch.catalog.identity import Anchor

ALLOWED = {
    RunStatus.PENDING: {RunStatus.RUNNING, RunStatus.CANCELED},
    RunStatus.RUNNING: {
        RunStatus.SUCCEEDED,
        RunStatus.PARTIAL,
        RunStatus.FAILED,
        RunStatus.INTERRUPTED,
        RunStatus.CANCELED,
    },
}
RUNBOOK = "runbook"  # the action of a runbook run
# A runbook run also waits for an approval, and goes on after a failed or interrupted step
# (`drorch runbook resume`) or ends there (`drorch runbook abort`).
RUNBOOK_ALLOWED = {
    **ALLOWED,
    RunStatus.RUNNING: ALLOWED[RunStatus.RUNNING] | {RunStatus.WAITING},
    RunStatus.WAITING: {RunStatus.RUNNING, RunStatus.CANCELED},
    RunStatus.FAILED: {RunStatus.RUNNING, RunStatus.CANCELED},
    RunStatus.INTERRUPTED: {RunStatus.RUNNING, RunStatus.CANCELED},
}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunRecord:
    id: int
    job: str | None  # None: a runbook run, of no one job
    action: str
    target: str | None
    status: RunStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    host: str
    pid: int | None
    actor: str
    bytes_processed: int | None
    bytes_added: int | None
    files: int | None
    snapshot_id: str | None
    error: str | None
    artifacts: str | None
    details: dict[str, Any] | None
    epoch: int | None = None  # the leadership epoch of the daemon that started it
    node: str | None = None  # that daemon's node name
    process: str | None = None  # its process's identity (drorch.process.process_identity)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end by the wall clock; 0 for a run the clock stepped back
        under (it ended "before" it started), never negative."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max((self.finished_at - self.started_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class SnapshotRecord:
    job: str
    target: str
    snapshot_id: str
    time: datetime
    tree: str | None
    hostname: str
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    size: int | None
    files: int | None
    original_id: str | None
    run_id: int | None
    canary_path: str | None
    canary_sha256: str | None
    status: SnapshotStatus = SnapshotStatus.COMPLETE

    @property
    def complete(self) -> bool:
        return self.status is SnapshotStatus.COMPLETE

    @property
    def short_id(self) -> str:
        return self.snapshot_id[:8]


@dataclass(frozen=True)
class RepositoryRecord:
    target: str
    location: str
    repo_id: str
    created_at: datetime
    restic_version: str
    config_sha256: str | None


def _record(cls: Any, row: Any) -> Any:
    values = {name: getattr(row, name) for name in cls.__dataclass_fields__}
    for key in ("paths", "tags"):
        if key in values:
            values[key] = tuple(values[key] or ())
    return cls(**values)


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.anchor: Anchor | None = None  # set by open_catalog: what was opened
        # Set by the daemon: its run starts and evidence appends are fenced (fencing.py).
        self.fence: Fence | None = None
        # A run's view (`knowing`): repository rows read in its first transaction.
        self._known: dict[str, RepositoryRecord | None] = {}

    def session(self) -> Session:
        return self._sessions()

    def fenced(self, fence: Fence) -> Catalog:
        """This catalog (the same engine and sessions) writing under another fence: a run
        a node was assigned is fenced by the epoch of the leader that assigned it."""
        view = shallow.copy(self)
        view.fence = fence
        view._known = dict(self._known)
        return view

    def knowing(self, repositories: Mapping[str, RepositoryRecord | None]) -> Catalog:
        """This catalog (the same engine and sessions) answering the first `repository`
        call for each of these targets with its row as read already (None: not recorded), in
        the run's first transaction: a server catalog is spared a session and its round
        trips. Later calls read the catalog again (a first use looks again under its lock)."""
        view = shallow.copy(self)
        view._known = dict(repositories)
        return view

    def close(self) -> None:
        self.engine.dispose()

    # -- runs -------------------------------------------------------------------------

    def create_run(
        self,
        *,
        job: str | None,
        action: str,
        target: str | None,
        host: str,
        pid: int,
        actor: str,
        process: str | None = None,
        status: RunStatus = RunStatus.RUNNING,
        artifacts_root: Path | None = None,
        lock: tuple[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> RunRecord:
        """Record a run. In the same transaction (one fsync, not three: the daemon starts
        many runs at a slot): its artifacts folder `artifacts_root/ID`, and the id on the
        lock (name, token) it runs under."""
        with self.session() as session, session.begin():
            record = insert_run(
                session,
                fence=self.fence,
                job=job,
                action=action,
                target=target,
                host=host,
                pid=pid,
                actor=actor,
                process=process,
                status=status,
                artifacts_root=artifacts_root,
                details=details,
            )
            if lock is not None:
                name, token = lock
                session.execute(
                    update(_LOCKS)
                    .where(_LOCKS.c.name == name, _LOCKS.c.token == token)
                    .values(run_id=record.id)
                )
        return record

    def transition(
        self,
        run_id: int,
        to: RunStatus,
        *,
        only_from: Collection[RunStatus] | None = None,
        snapshots: Sequence[SnapshotRecord] = (),
        lock: tuple[str, str] | None = None,
        patience: float = 0.0,
        **fields: Any,
    ) -> RunRecord:
        """The one way a run changes status; refuses a transition the state machine forbids,
        and one from a status not in `only_from` (the status the caller saw: a
        compare-and-swap against another process changing it meanwhile).

        In the same transaction, so that a run's end is one commit: the `snapshots` it
        wrote, and the release of the lock (name, token) it ran under.

        With `patience` (seconds), tried again while the catalog's server is away (a
        restart, a crash): a run's end is not lost to it, and it records the time of the
        first try, when the run ended, not the time the server came back."""
        if patience and to.finished and "finished_at" not in fields:
            fields["finished_at"] = utc_now()

        def write() -> RunRecord:
            with self.session() as session, session.begin():
                return _transition(session, run_id, to, only_from, fields, snapshots, lock)

        if not patience:
            return write()
        return patiently(self.engine, write, what=f"run {run_id} ended", patience=patience)

    def annotate(self, run_id: int, **fields: Any) -> RunRecord:
        """Change a run's details or error, never its status (what was learnt after it
        ended: the evidence record that seals it)."""
        if "status" in fields:
            raise CatalogError("a run's status changes by transition() alone")
        with self.session() as session, session.begin():
            row = session.get(models.Run, run_id, with_for_update=True)
            if row is None:
                raise CatalogError(f"no run {run_id} in the catalog")
            for key, value in fields.items():
                setattr(row, key, value)
            record: RunRecord = _record(RunRecord, row)
        return record

    def run(self, run_id: int) -> RunRecord | None:
        with self.session() as session:
            row = session.get(models.Run, run_id)
            return None if row is None else _record(RunRecord, row)

    def runs(
        self,
        *,
        job: str | None = None,
        action: str | None = None,
        status: Sequence[RunStatus] = (),
        limit: int | None = None,
    ) -> list[RunRecord]:
        query = select(models.Run).order_by(models.Run.id.desc())
        if job is not None:
            query = query.where(models.Run.job == job)
        if action is not None:
            query = query.where(models.Run.action == action)
        if status:
            query = query.where(models.Run.status.in_(status))
        if limit is not None:
            query = query.limit(limit)
        with self.session() as session:
            return [_record(RunRecord, row) for row in session.scalars(query)]

    def last_runs(self) -> dict[tuple[str, str], RunRecord]:
        """The newest run of every (job, action), whatever its status, without its details
        (None: neither `drorch status` nor the daemon's catch-up reads them, and they are
        most of a run's bytes); runbook runs, of no one job, are not.

        From latest_runs: the greatest id a (job, action) has there is its newest run
        (every run enters some status there when it is inserted), a few rows per (job,
        action) instead of a walk over every run. A (job, action) whose run is not that
        any more (changed by hand) is read from the runs."""
        latest = models.LatestRun
        newest = (
            select(latest.job, latest.action, func.max(latest.run_id).label("run_id"))
            .group_by(latest.job, latest.action)
            .subquery()
        )
        columns = [c for c in _RUNS.c if c.name != "details"]
        names = [c.name for c in columns]  # zipped with each row: row._mapping costs 70 us a row
        query = select(newest.c.job, newest.c.action, *columns).outerjoin(
            _RUNS, _RUNS.c.id == newest.c.run_id
        )
        shown: dict[tuple[str, str], RunRecord] = {}
        with self.session() as session:
            # Plain rows through the connection, fetched at once: no ORM row handling.
            for job, action, *values in session.connection().execute(query).all():
                fields = dict(zip(names, values, strict=True))
                record = None if fields["id"] is None else RunRecord(**fields, details=None)
                if record is None or (record.job, record.action) != (job, action):
                    slow = select(func.max(_RUNS.c.id)).where(
                        _RUNS.c.job == job, _RUNS.c.action == action
                    )
                    newer = session.execute(slow).scalar()
                    record = None if newer is None else _without_details(session, {newer})[newer]
                if record is not None:
                    shown[(job, action)] = record
            return shown

    # -- repositories -----------------------------------------------------------------

    def repository(self, target: str) -> RepositoryRecord | None:
        if target in self._known:
            return self._known.pop(target)
        with self.session() as session:
            return read_repositories(session, (target,))[target]

    def record_repository(
        self,
        *,
        target: str,
        location: str,
        repo_id: str,
        restic_version: str,
        config_sha256: str | None = None,
    ) -> RepositoryRecord:
        with self.session() as session, session.begin():
            row = models.Repository(
                target=target,
                location=location,
                repo_id=repo_id,
                created_at=utc_now(),
                restic_version=restic_version,
                config_sha256=config_sha256,
            )
            session.add(row)
            record: RepositoryRecord = _record(RepositoryRecord, row)
        return record

    def set_repository_config_hash(self, target: str, config_sha256: str) -> None:
        with self.session() as session, session.begin():
            session.execute(
                update(models.Repository)
                .where(models.Repository.target == target)
                .values(config_sha256=config_sha256)
            )

    # -- snapshots --------------------------------------------------------------------

    def record_snapshot(self, record: SnapshotRecord) -> None:
        with self.session() as session, session.begin():
            _insert_snapshot(session, record)

    def snapshots(
        self, *, job: str | None = None, target: str | None = None
    ) -> list[SnapshotRecord]:
        query = select(models.Snapshot).order_by(models.Snapshot.time, models.Snapshot.id)
        if job is not None:
            query = query.where(models.Snapshot.job == job)
        if target is not None:
            query = query.where(models.Snapshot.target == target)
        with self.session() as session:
            return [_record(SnapshotRecord, row) for row in session.scalars(query)]

    def holders(self, *, job: str | None = None) -> dict[str, list[str]]:
        """Which targets hold each snapshot, keyed by the original snapshot's id."""
        held: dict[str, list[str]] = {}
        for copy in self.snapshots(job=job):
            held.setdefault(copy.original_id or copy.snapshot_id, []).append(copy.target)
        return held

    def remove_snapshots(self, *, target: str, snapshot_ids: Sequence[str]) -> int:
        """Delete a target's snapshots (restic forgot them); returns how many rows went.

        In chunks: a first prune after months can forget thousands, beyond SQLite's limit
        on bound parameters.
        """
        removed = 0
        ids = list(snapshot_ids)
        with self.session() as session, session.begin():
            for start in range(0, len(ids), 500):
                done = session.execute(
                    delete(models.Snapshot).where(
                        models.Snapshot.target == target,
                        models.Snapshot.snapshot_id.in_(ids[start : start + 500]),
                    )
                )
                removed += int(done.rowcount)  # type: ignore[attr-defined]
        return removed


# -- within a transaction of the caller's ----------------------------------------------------
# Core statements, not ORM loads: these run several times for each of the daemon's runs.

_RUNS = cast(Table, models.Run.__table__)
_LOCKS = cast(Table, models.Lock.__table__)
_SNAPSHOTS = cast(Table, models.Snapshot.__table__)


def insert_run(
    session: Session,
    *,
    status: RunStatus = RunStatus.RUNNING,
    artifacts_root: Path | None = None,
    fence: Fence | None = None,
    slot: datetime | None = None,
    **fields: Any,
) -> RunRecord:
    """Insert a run row (with its artifacts folder `artifacts_root/ID`); its record.
    `fields`: job, action, target, host, pid, actor and details, as create_run takes them.

    With `fence` (a daemon's), the run carries its epoch and node, and Deposed is raised
    when the epoch is no longer the leadership's; with `slot`, the scheduled slot it runs
    for is claimed (SlotTaken when another run has it). Both in the caller's transaction:
    no run is recorded when either refuses."""
    now = utc_now()
    epoch = None if fence is None else fence.held()
    values: dict[str, Any] = {
        "details": None,
        **fields,
        "status": status,
        "created_at": now,
        "started_at": now if status is RunStatus.RUNNING else None,
        "epoch": epoch,
        "node": None if fence is None else fence.node,
    }
    artifacts, checked = None, None
    if artifacts_root is not None:
        # The id drawn by the INSERT itself, which names the folder by it: one statement
        # (one round trip on PostgreSQL; on SQLite, one less while the write lock is held).
        prefix = str(artifacts_root / "_")[:-1]
        dialect = session.get_bind().dialect.name
        named = _insert_named_run(tuple(values), fenced=epoch is not None, dialect=dialect)
        drawn = session.execute(
            named, {**values, "artifacts_prefix": prefix, "fence_epoch": epoch}
        ).scalar()
        if drawn is None:  # the leadership's epoch is not the fence's: Deposed says whose
            check_fence(session, cast(int, epoch))
            raise CatalogError("a fenced run was refused, yet the epoch is this daemon's")
        run_id, checked = drawn, epoch
        artifacts = f"{prefix}{run_id}"
    else:
        run_id = session.execute(_INSERT_RUN, values).scalar_one()
    if slot is not None and values.get("job") is not None:
        claim_slot(
            session,
            job=values["job"],
            action=values["action"],
            slot_at=slot,
            run_id=run_id,
            epoch=epoch,
            node=values["node"],
            now=now,
        )
    if epoch is not None and checked is None:
        check_fence(session, epoch)
    return RunRecord(
        id=run_id,
        finished_at=None,
        bytes_processed=None,
        bytes_added=None,
        files=None,
        snapshot_id=None,
        error=None,
        artifacts=artifacts,
        **values,
    )


def read_repositories(
    session: Session, targets: Collection[str]
) -> dict[str, RepositoryRecord | None]:
    """The repository rows of these targets (None: not recorded)."""
    found: dict[str, RepositoryRecord | None] = dict.fromkeys(targets)
    if targets:
        for row in session.execute(_READ_REPOSITORIES, {"targets": list(targets)}):
            found[row.target] = _record(RepositoryRecord, row)
    return found


@functools.lru_cache(maxsize=32)
def _insert_named_run(keys: tuple[str, ...], *, fenced: bool, dialect: str) -> Any:
    """The INSERT of a run (columns `keys`, parameters of those names) whose artifacts
    folder is `artifacts_prefix` followed by the id it draws; it returns the id. The id:
    on PostgreSQL from the runs' sequence; on SQLite the one SQLite itself would give the
    row (the largest id plus one: the table has no AUTOINCREMENT), read by the INSERT
    that holds the write lock, so that no other writer can take it meanwhile. `fenced`:
    it inserts nothing (and returns no row) unless the leadership's epoch is
    `fence_epoch`, whose row it share-locks (PostgreSQL) as check_fence does. Built once
    per shape. On SQLite the statement must begin with INSERT, not WITH: pysqlite opens
    its transaction (and drorch's write queue its lock) only before a statement that
    begins with INSERT, UPDATE, DELETE or REPLACE. Subqueries instead of CTEs there."""
    postgresql = dialect == "postgresql"
    if postgresql:
        next_id: Any = func.nextval(func.pg_get_serial_sequence(_RUNS.name, _RUNS.c.id.name))
    else:
        next_id = select(func.coalesce(func.max(_RUNS.c.id), 0) + 1).scalar_subquery()
    drawn_select = select(next_id.label("id"))
    drawn = drawn_select.cte("drawn") if postgresql else drawn_select.subquery("drawn")
    folder = bindparam("artifacts_prefix", type_=String) + sql_cast(drawn.c.id, String)
    row = select(
        drawn.c.id,
        folder.label("artifacts"),
        *(bindparam(key, type_=_RUNS.c[key].type).label(key) for key in keys),
    )
    if fenced:
        fence = READ_EPOCH.cte("fence") if postgresql else READ_EPOCH.subquery("fence")
        row = row.join_from(drawn, fence, true()).where(
            fence.c.epoch == bindparam("fence_epoch", type_=Integer)
        )
    return insert(_RUNS).from_select(["id", "artifacts", *keys], row).returning(_RUNS.c.id)


def _transition(
    session: Session,
    run_id: int,
    to: RunStatus,
    only_from: Collection[RunStatus] | None,
    fields: dict[str, Any],
    snapshots: Sequence[SnapshotRecord] = (),
    lock: tuple[str, str] | None = None,
) -> RunRecord:
    """One UPDATE that changes the status only from one the state machine (and `only_from`)
    allows: a compare-and-swap on both backends (SQLite reads outside the write
    transaction, so a read-then-write would not be one). With it, in the caller's
    transaction: the `snapshots` the run wrote are inserted, in their order, and its `lock`
    (name, token) released. On PostgreSQL the first snapshot's insert and the release ride
    in the UPDATE as data-modifying CTEs: a snapshot run's end is one round trip instead of
    three. They take effect whether or not the UPDATE changes the run; the CatalogError
    that a refused transition raises rolls them back with the transaction. (One snapshot
    at most: CTEs run in no set order, and a multi-row VALUES is compiled for every run.)"""
    if "status" in fields:
        raise CatalogError("a run's status is the transition's own")
    together = session.get_bind().dialect.name == "postgresql"
    folded = snapshots[:1] if together else ()
    statement = _transition_statement(
        to,
        None if only_from is None else frozenset(only_from),
        tuple(sorted(fields)),
        bool(folded),
        together and lock is not None,
    )
    parameters = {f"new_{key}": value for key, value in fields.items()}
    for snapshot in folded:
        parameters.update({f"s_{key}": v for key, v in _snapshot_values(snapshot).items()})
    if together and lock is not None:
        parameters.update(lock_name=lock[0], lock_token=lock[1])
    row = session.execute(statement, {"run_id": run_id, "now": utc_now(), **parameters}).first()
    if row is not None:
        for snapshot in snapshots[len(folded) :]:
            _insert_snapshot(session, snapshot)
        if lock is not None and not together:
            free_lock(session, *lock)
        return _record(RunRecord, row)  # type: ignore[no-any-return]
    found = session.execute(
        select(_RUNS.c.status, _RUNS.c.action).where(_RUNS.c.id == run_id)
    ).first()
    if found is None:
        raise CatalogError(f"no run {run_id} in the catalog")
    if only_from is not None and found.status not in only_from:
        raise CatalogError(f"run {run_id} is {found.status.value} now")
    raise CatalogError(f"run {run_id} cannot go from {found.status} to {to}")


@functools.lru_cache(maxsize=256)
def _transition_statement(
    to: RunStatus,
    only_from: frozenset[RunStatus] | None,
    keys: tuple[str, ...],
    snapshot: bool = False,
    free: bool = False,
) -> Any:
    """The UPDATE of a transition, built once per shape (building one costs about as much
    as running it); the run's id, the time and the fields are its parameters. With
    `snapshot` and `free`, CTEs that insert a snapshot row (parameters `s_job`, ...) and
    delete the lock (`lock_name`, `lock_token`): PostgreSQL only."""

    def sources(allowed: dict[RunStatus, set[RunStatus]]) -> list[RunStatus]:
        return [
            s for s, ends in allowed.items() if to in ends and (only_from is None or s in only_from)
        ]

    now = bindparam("now", type_=_RUNS.c.finished_at.type)
    values: dict[str, Any] = {
        "status": to,
        "finished_at": now if to.finished else None,
        **{key: bindparam(f"new_{key}", type_=_RUNS.c[key].type) for key in keys},
    }
    if to is RunStatus.RUNNING and "started_at" not in keys:
        values["started_at"] = case((_RUNS.c.started_at.is_(None), now), else_=_RUNS.c.started_at)
    statement = (
        update(_RUNS)
        .where(
            _RUNS.c.id == bindparam("run_id"),
            or_(
                and_(_RUNS.c.action != RUNBOOK, _RUNS.c.status.in_(sources(ALLOWED))),
                and_(_RUNS.c.action == RUNBOOK, _RUNS.c.status.in_(sources(RUNBOOK_ALLOWED))),
            ),
        )
        .values(values)
        .returning(*_RUNS.c)
    )
    if snapshot:
        row = {
            name: bindparam(f"s_{name}", type_=_SNAPSHOTS.c[name].type)
            for name in (*SnapshotRecord.__dataclass_fields__, "recorded_at")
        }
        statement = statement.add_cte(insert(_SNAPSHOTS).values(row).cte("written"))
    if free:
        statement = statement.add_cte(_FREE_LOCK.cte("freed"))
    return statement


def _without_details(session: Session, ids: set[int]) -> dict[int, RunRecord]:
    wanted = sorted(ids)
    columns = [c for c in _RUNS.c if c.name != "details"]
    names = [c.name for c in columns]  # zipped with each row: row._mapping costs 70 us a row
    found: dict[int, RunRecord] = {}
    for start in range(0, len(wanted), 500):
        query = select(*columns).where(_RUNS.c.id.in_(wanted[start : start + 500]))
        for row in session.execute(query):
            record = RunRecord(**dict(zip(names, row, strict=True)), details=None)
            found[record.id] = record
    return found


def _insert_snapshot(session: Session, record: SnapshotRecord) -> None:
    session.execute(_INSERT_SNAPSHOT, _snapshot_values(record))


def _snapshot_values(record: SnapshotRecord) -> dict[str, Any]:
    """A snapshot row's values, recorded now."""
    values = {name: getattr(record, name) for name in SnapshotRecord.__dataclass_fields__}
    values["paths"] = list(record.paths)
    values["tags"] = list(record.tags)
    return {**values, "recorded_at": utc_now()}


def free_lock(session: Session, name: str, token: str) -> None:
    """Delete the lock row, if it is still the one taken with `token`."""
    session.execute(_FREE_LOCK, {"lock_name": name, "lock_token": token})


# Built once: building a statement costs about as much as running it.
_INSERT_RUN = insert(_RUNS).returning(_RUNS.c.id)
_INSERT_SNAPSHOT = insert(_SNAPSHOTS)
_REPOSITORIES = cast(Table, models.Repository.__table__)
_READ_REPOSITORIES = select(_REPOSITORIES).where(
    _REPOSITORIES.c.target.in_(bindparam("targets", expanding=True))
)
_FREE_LOCK = delete(_LOCKS).where(
    _LOCKS.c.name == bindparam("lock_name"), _LOCKS.c.token == bindparam("lock_token")
)
