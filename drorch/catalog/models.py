"""The catalog schema: SQLAlchemy 2 typed models, portable across SQLite and PostgreSQL.

Changing anything here needs an Alembic migration in migrations/versions/; a test
compares the migrated schema with these models.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; stored as naive UTC everywhere."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog; use UTC-aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class RunStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    CANCELED = "CANCELED"
    WAITING = "WAITING"  # a runbook run paused for an approval: no process runs it

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING)


class StepStatus(enum.StrEnum):
    """One attempt at one step of a runbook run."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    WAITING = "WAITING"  # an approve step: waits for a second person
    INTERRUPTED = "INTERRUPTED"  # Ctrl-C, or its process died: resumable
    CANCELED = "CANCELED"  # the run was aborted while the step waited or ran


class SnapshotStatus(enum.StrEnum):
    """What drorch knows of a snapshot it lists. Only a COMPLETE one satisfies an RPO or is
    what `latest` means; the others are listed, never counted as good."""

    COMPLETE = "COMPLETE"  # its run saw restic finish and read every source file
    PARTIAL = "PARTIAL"  # restic exit 3: some source files could not be read
    ORPHANED = "ORPHANED"  # found in the repository, written by a run that never finished


class CartridgeState(enum.StrEnum):
    """What drorch last saw on a cartridge."""

    UNKNOWN = "UNKNOWN"  # seen by its barcode in a library, never read
    BLANK = "BLANK"  # read: nothing recorded
    FOREIGN = "FOREIGN"  # read: data or a label that drorch did not write
    LABELLED = "LABELLED"  # holds drorch's label, and archives may follow
    FULL = "FULL"  # reached early warning: nothing more is appended
    EXPORTED = "EXPORTED"  # taken out of the library through a mail slot
    RETIRED = "RETIRED"  # worn out or damaged: never written or taken again


class CartridgeLocation(enum.StrEnum):
    SLOT = "SLOT"
    DRIVE = "DRIVE"
    IMPORT_EXPORT = "IMPORT_EXPORT"
    EXPORTED = "EXPORTED"  # out of the library (in a vault)


class TapeFileKind(enum.StrEnum):
    LABEL = "LABEL"  # file 0: barcode, pool, media set, sequence
    ARCHIVE = "ARCHIVE"  # a tar archive of repository files
    INDEX = "INDEX"  # the catalog archive that ends a write session


# The width of an action key column (and of an outbox event, which a runbook may name): at
# least drorch.action_key.ACTION_MAX, the longest key a valid config root produces
# ("replicate:" and a target name of NAME_MAX characters); a test keeps them so.
ACTION_WIDTH = 80


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


# The runs ix_runs_restore_tested holds; a query that wants it says exactly this, in these
# words (SQLite uses a partial index only for a WHERE that implies its own, bound values
# excluded).
RESTORE_TESTED = "action = 'restore-test' AND status = 'SUCCEEDED'"


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_job_action", "job", "action", "id"),
        # Runs by status, and with job and action in it the failed runs that compliance
        # counts come from the index alone: no page of the table is read for them.
        Index("ix_runs_status", "status", "job", "action"),
        # Runs by status (metrics), and newest success per (job, action): three equality
        # columns, so SQLite never prefers it wrongly over ix_runs_job_action or the reverse.
        Index("ix_runs_action_status", "action", "status", "job"),
        # The snapshots each job's passed restore tests tested (compliance's verified RPO):
        # 1 run in 40, from a small index instead of a page of the table each. Led by the
        # columns of its condition, and then by job, so that SQLite's planner, which has no
        # statistics, prefers it to ix_runs_action_status for that query.
        Index(
            "ix_runs_restore_tested",
            "action",
            "status",
            "job",
            "target",
            "snapshot_id",
            sqlite_where=text(RESTORE_TESTED),
            postgresql_where=text(RESTORE_TESTED),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # None for a run of no one job: a runbook run (action "runbook") may touch several.
    job: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(ACTION_WIDTH))
    target: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[RunStatus] = mapped_column(
        Enum(RunStatus, native_enum=False, length=20, validate_strings=True)
    )
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int | None]
    # boot id and start ticks of that process (drorch.process.process_identity)
    process: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    bytes_processed: Mapped[int | None] = mapped_column(BigInteger)
    bytes_added: Mapped[int | None] = mapped_column(BigInteger)
    files: Mapped[int | None] = mapped_column(BigInteger)
    snapshot_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    artifacts: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]
    # The leadership epoch and node of the daemon that started it (fenced); NULL for a run
    # an operator started (`drorch run`), which no leadership fences.
    epoch: Mapped[int | None]
    node: Mapped[str | None] = mapped_column(String(200))


class LatestRun(Base):
    """The newest run of each (job, action) that entered each status: what compliance and
    `drorch status` start from, a few rows per (job, action) instead of an index walk over
    millions of runs (a cold catalog reads one page per (job, action) of any index of runs).

    Written by triggers on `runs` (LATEST_RUNS_TRIGGERS), in the statement that inserts a
    run or changes its status, so in its transaction and on every write path. A finished
    run never changes status (Catalog.transition refuses), so for a finished status the
    row is the newest run with that status now; for the others (RUNNING...) the run may
    have moved on since. Readers check the run they fetch. No foreign key: nothing but the
    triggers writes here, and runs are never deleted.
    """

    __tablename__ = "latest_runs"

    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    action: Mapped[str] = mapped_column(String(ACTION_WIDTH), primary_key=True)
    status: Mapped[RunStatus] = mapped_column(
        Enum(RunStatus, native_enum=False, length=20, validate_strings=True), primary_key=True
    )
    run_id: Mapped[int]


# The upsert of a run's (job, action, status) with its id: ids only grow, so the newest wins.
_NOTE_LATEST = """INSERT INTO latest_runs (job, action, status, run_id)
    VALUES (NEW.job, NEW.action, NEW.status, NEW.id)
    ON CONFLICT (job, action, status) DO UPDATE SET run_id = excluded.run_id
    WHERE latest_runs.run_id < excluded.run_id"""

# dialect name -> the statements creating the triggers that keep latest_runs; runs of no
# one job (runbook runs) are left out. A migration that rebuilds `runs` (SQLite's batch
# mode copies and drops the table) drops them: it must create them again.
LATEST_RUNS_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": tuple(
        f"CREATE TRIGGER latest_runs_{event} AFTER {clause} ON runs "
        f"WHEN NEW.job IS NOT NULL BEGIN {_NOTE_LATEST}; END"
        for event, clause in (("insert", "INSERT"), ("update", "UPDATE OF job, action, status"))
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION latest_runs_note() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF NEW.job IS NOT NULL THEN {_NOTE_LATEST}; END IF; RETURN NULL; END $$",
        "CREATE TRIGGER latest_runs_note AFTER INSERT OR UPDATE OF job, action, status "
        "ON runs FOR EACH ROW EXECUTE FUNCTION latest_runs_note()",
    ),
}


@event.listens_for(Base.metadata, "after_create")
def _create_latest_runs_triggers(_metadata: Any, connection: Any, **_: Any) -> None:
    # A new catalog is built by create_all, not by the migrations: it gets them here.
    for statement in LATEST_RUNS_TRIGGERS.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


class RunbookStep(Base):
    """One attempt at one step of a runbook run: who, when, with what, and how it ended.

    A resumed step gets a new attempt; earlier attempts stay, so the record of a run shows
    every failure it went through."""

    __tablename__ = "runbook_steps"
    __table_args__ = (UniqueConstraint("run_id", "position", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    position: Mapped[int]  # the step's index in the runbook
    attempt: Mapped[int]  # 1, then 2 after a resume
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[StepStatus] = mapped_column(
        Enum(StepStatus, native_enum=False, length=20, validate_strings=True)
    )
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    inputs: Mapped[dict[str, Any]]  # the step's `with:`, references resolved
    outputs: Mapped[dict[str, Any] | None]  # what later steps may use, and what it found
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]


class Repository(Base):
    """A restic repository drorch has initialised or adopted, by target."""

    __tablename__ = "repositories"

    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    location: Mapped[str] = mapped_column(Text)
    repo_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    restic_version: Mapped[str] = mapped_column(String(40))
    # SHA-256 of the repository's `config` file: written once by restic init, unique to the
    # repository, so a different repository at the same path is told apart without restic.
    config_sha256: Mapped[str | None] = mapped_column(String(64))


# ix_snapshots_copies's condition, which a query states to use it (drorch.catalog.facts).
COPIES_WHERE = "snapshot_id IS NOT NULL"


class Snapshot(Base):
    """A snapshot of a job present on a target."""

    __tablename__ = "snapshots"
    __table_args__ = (
        UniqueConstraint("target", "snapshot_id"),
        Index("ix_snapshots_job_time", "job", "time"),
        # The newest snapshot per copy and the newest COMPLETE one (compliance), from the
        # index alone. Not the snapshot ids too: twice the pages for compliance to read
        # cold.
        Index("ix_snapshots_job_target_time", "job", "target", "time", "status"),
        # Each job's snapshots on a target with their ids: which have no copy (replication
        # lag, `drorch status`), from the index alone. Partial on a condition that every
        # row meets (the column is NOT NULL) and that only that query states: SQLite uses
        # a partial index only for a query whose WHERE implies its own, so compliance's
        # scan of (job, target, time) never takes this wider index, whatever order the
        # indexes were made in (the planner breaks a tie by that order).
        Index(
            "ix_snapshots_copies",
            "job",
            "target",
            "time",
            "snapshot_id",
            sqlite_where=text(COPIES_WHERE),
            postgresql_where=text(COPIES_WHERE),
        ),
        # Has this snapshot a copy on that target? (replication lag, every job at once)
        Index("ix_snapshots_original", "target", "original_id", "job"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(200))
    snapshot_id: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime]
    tree: Mapped[str | None] = mapped_column(String(64))  # filled when restic is asked
    hostname: Mapped[str] = mapped_column(String(255))
    paths: Mapped[list[str]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)
    size: Mapped[int | None] = mapped_column(BigInteger)
    files: Mapped[int | None] = mapped_column(BigInteger)
    original_id: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    canary_path: Mapped[str | None] = mapped_column(Text)
    canary_sha256: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
    # A copy made by replication carries the status of its original.
    status: Mapped[SnapshotStatus] = mapped_column(
        Enum(SnapshotStatus, native_enum=False, length=20, validate_strings=True),
        default=SnapshotStatus.COMPLETE,
        server_default=SnapshotStatus.COMPLETE.value,
    )


class Lock(Base):
    """A lock on a resource (a job's action, a repository, a tape drive) with a lease.

    Held by one process (host, pid, process identity); taken over only when its lease
    expired or its process is provably gone. `token` makes every change compare-and-swap.
    """

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    pid_started: Mapped[float] = mapped_column(Float)
    # boot id and start ticks (drorch.process.process_identity); None in rows of before 0014
    process: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None]
    purpose: Mapped[str] = mapped_column(Text)
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Node(Base):
    """A daemon process, with its heartbeat: `drorch status` tells whether one is up."""

    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))  # the node name (daemon.node), several per host
    pid: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    version: Mapped[str] = mapped_column(String(40))


class NodeState(Base):
    """What an operator decided of a node, by name: draining (finish, start nothing new,
    hand leadership over) or not. A node without a row is not draining."""

    __tablename__ = "node_states"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    draining: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    changed_at: Mapped[datetime]
    changed_by: Mapped[str] = mapped_column(String(200))


class Leadership(Base):
    """One row (id 1): which node leads the daemons sharing this catalog, and the fencing
    epoch, raised by one at each takeover. A daemon's run starts and evidence appends check
    in their own transaction that the epoch is still the one it won (drorch.catalog.fencing).
    """

    __tablename__ = "leadership"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    epoch: Mapped[int]
    node: Mapped[str | None] = mapped_column(String(200))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    since: Mapped[datetime | None]


class SlotClaim(Base):
    """A scheduled slot of a job's action, claimed with the run that takes it: a slot runs
    once, whatever the number of daemons and takeovers. A claim moves to a new run only from
    one that was INTERRUPTED (its node died), by compare-and-swap."""

    __tablename__ = "slot_claims"
    __table_args__ = (
        UniqueConstraint("job", "action", "slot_at"),
        # The slots assigned to a node that no run took yet: each daemon looks every second.
        Index(
            "ix_slot_claims_waiting",
            "node",
            postgresql_where=text("run_id IS NULL"),
            sqlite_where=text("run_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(ACTION_WIDTH))
    slot_at: Mapped[datetime]
    epoch: Mapped[int | None]
    node: Mapped[str | None] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    claimed_at: Mapped[datetime]


class MissedSlot(Base):
    """A scheduled time that passed while no daemon ran; kept so downtime is never silent."""

    __tablename__ = "missed_slots"
    __table_args__ = (Index("ix_missed_slots_job_action", "job", "action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(ACTION_WIDTH))
    slot_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    caught_up_by: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class EvidenceEntry(Base):
    """One record of the evidence log. `body` holds the exact canonical JSON that was hashed
    and signed and that is the record's Merkle leaf; the other columns are for queries."""

    __tablename__ = "evidence_records"
    __table_args__ = (
        Index("ix_evidence_records_job", "job", "seq"),
        Index("ix_evidence_records_at", "at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    job: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16))
    epoch: Mapped[int | None]  # the leadership epoch of the daemon that appended it (fenced)


class EvidenceCheckpoint(Base):
    """A signed statement of the evidence log's Merkle tree: its size and root hash."""

    __tablename__ = "checkpoints"

    tree_size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(16))


class RuleState(Base):
    """The last evaluated state of one compliance rule of one job.

    Transitions are found against it, so each is recorded and notified once, across
    restarts and across daemons sharing the catalog (the update is compare-and-swap on
    `ok`). `recorded_seq` is the evidence record of the latest transition: NULL until it
    is written (a crash in between is retried), 0 for a rule first seen ok (nothing to say),
    -1 when it was announced while the evidence log could not be written.
    """

    __tablename__ = "rule_states"

    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    rule: Mapped[str] = mapped_column(String(300), primary_key=True)
    ok: Mapped[bool]
    since: Mapped[datetime]  # when the rule entered this state, as far as drorch saw
    checked_at: Mapped[datetime]
    result: Mapped[dict[str, Any]]  # the RuleResult of the transition, as JSON
    recorded_seq: Mapped[int | None]


class Delivery(Base):
    """A notification waiting in the outbox (a webhook POST or a healthchecks ping).

    Written in the same breath as what it reports; sent by the daemon's sender thread,
    never by a run. A failed attempt is retried later with backoff, and one that keeps
    failing is given up on only after `give_up` and logged, never dropped silently.
    Deliveries to one endpoint (a URL; for pings, the job's check) go out oldest first.
    A ping whose check was sent a newer state instead is settled unsent as superseded:
    `gave_up_at` set and `last_error` "superseded by #<id>" (outbox.SUPERSEDED), which
    is no loss and is counted apart from those given up.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "gave_up_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # webhook | ping
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(ACTION_WIDTH))  # a runbook may name it
    job: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    gave_up_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class CatalogIdentity(Base):
    """Which catalog this is: one row, written when the catalog is created (or upgraded to
    revision 0007) and never changed. The state dir remembers it in `catalog.id`, so that a
    catalog deleted, replaced or recreated is refused instead of silently starting anew."""

    __tablename__ = "catalog_identity"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID
    created_at: Mapped[datetime]


def _enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, validate_strings=True)


class MediaSet(Base):
    """Cartridges of one pool written in sequence for one tape target, until the set is
    closed (it grew older than the pool's max_age). Its cartridges are reused only after
    `expires_at` (NULL: kept forever)."""

    __tablename__ = "tape_media_sets"
    __table_args__ = (Index("ix_tape_media_sets_target", "target", "opened_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID, on every label
    pool: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime]
    last_written_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class Cartridge(Base):
    """A cartridge the libraries showed, by barcode; its media set while it holds one."""

    __tablename__ = "tape_cartridges"
    __table_args__ = (
        Index("ix_tape_cartridges_pool", "pool"),
        Index("ix_tape_cartridges_media_set", "media_set_id", "sequence"),
    )

    barcode: Mapped[str] = mapped_column(String(32), primary_key=True)
    pool: Mapped[str | None] = mapped_column(String(200))
    media_set_id: Mapped[str | None] = mapped_column(ForeignKey("tape_media_sets.id"))
    sequence: Mapped[int | None]  # 1, 2, ... within the media set
    state: Mapped[CartridgeState] = mapped_column(_enum(CartridgeState))
    write_protected: Mapped[bool] = mapped_column(default=False)
    location: Mapped[CartridgeLocation | None] = mapped_column(_enum(CartridgeLocation))
    element: Mapped[int | None]  # the slot or drive number of `location`
    last_seen_at: Mapped[datetime | None]
    bytes_written: Mapped[int] = mapped_column(BigInteger, default=0)
    labelled_at: Mapped[datetime | None]


class TapeFile(Base):
    """One tape file (between two filemarks) on a cartridge, as written."""

    __tablename__ = "tape_files"
    __table_args__ = (UniqueConstraint("barcode", "file_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    barcode: Mapped[str] = mapped_column(ForeignKey("tape_cartridges.barcode"))
    file_number: Mapped[int]
    kind: Mapped[TapeFileKind] = mapped_column(_enum(TapeFileKind))
    media_set_id: Mapped[str] = mapped_column(ForeignKey("tape_media_sets.id"))
    bytes: Mapped[int] = mapped_column(BigInteger)
    written_at: Mapped[datetime]
    session: Mapped[str] = mapped_column(String(36))  # the write session (a UUID)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class TapeRepositoryFile(Base):
    """A restic repository file of a tape target, in an archive on a cartridge."""

    __tablename__ = "tape_repository_files"
    __table_args__ = (
        Index("ix_tape_repository_files_path", "target", "path"),  # where is it?
        Index("ix_tape_repository_files_set", "media_set_id", "target", "path"),  # on the set?
        Index("ix_tape_repository_files_file", "barcode", "file_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(255))  # relative to the repository: data/ab/ab12...
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    barcode: Mapped[str] = mapped_column(ForeignKey("tape_cartridges.barcode"))
    file_number: Mapped[int]
    media_set_id: Mapped[str] = mapped_column(ForeignKey("tape_media_sets.id"))
