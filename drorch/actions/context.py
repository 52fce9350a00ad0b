"""What every action receives, and what it gives back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drorch.catalog import Catalog, RunStatus, SnapshotRecord
from drorch.config import Config
from drorch.config.model import Job
from drorch.config.units import format_duration
from drorch.restic import Restic
from drorch.restic.models import BackupProgress


class Cancel(threading.Event):
    """A cancel event that can say why: its runs end CANCELED with that reason (a daemon
    that lost leadership: "leadership lost to NODE at epoch N")."""

    reason: str | None = None

    def cancel(self, reason: str) -> None:
        self.reason = reason
        self.set()


@dataclass(frozen=True)
class Deadline:
    """When a run must be over: its start plus the action's timeout, on a monotonic clock.

    `source` says which setting the limit comes from, for the message when it fires.
    """

    limit: timedelta
    source: str
    at: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(
        cls, limit: timedelta, source: str, *, clock: Callable[[], float] = time.monotonic
    ) -> Deadline:
        return cls(limit, source, clock() + limit.total_seconds(), clock)

    def remaining(self) -> float:
        """Seconds left, 0 once the deadline passed."""
        return max(0.0, self.at - self.clock())

    def __str__(self) -> str:
        return f"{format_duration(self.limit)} ({self.source})"


@dataclass(frozen=True)
class RunContext:
    """One run of one action of one job. Frozen: actions read it, never change it."""

    config: Config
    catalog: Catalog
    job_name: str
    job: Job
    run_id: int
    restic: Restic
    run_dir: Path
    actor: str
    clock: Callable[[], datetime]
    options: Any = None  # the action's own frozen options (e.g. RestoreOptions)
    cancel: threading.Event | None = None
    on_progress: Callable[[BackupProgress], None] | None = None
    dry_run: bool = False
    deadline: Deadline | None = None  # the action's timeout, counted from the run's start

    @property
    def managed_roots(self) -> tuple[Path, ...]:
        return (self.config.root, self.config.state_dir)


@dataclass(frozen=True)
class ActionResult:
    """What an action did. The lifecycle turns it into the run's final status."""

    status: RunStatus
    target: str | None = None
    summary: str = ""
    snapshot_id: str | None = None
    bytes_processed: int | None = None
    bytes_added: int | None = None
    files: int | None = None
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    # Recorded with the run's final status, in one transaction: a snapshot row and the run
    # that wrote it are committed together (and a run costs one commit less).
    snapshots: tuple[SnapshotRecord, ...] = ()
