"""What a daemon finds at start: runs left RUNNING by a dead process, stale restic locks.

A run is interrupted only when its process is provably gone (no such pid on this host,
or the pid now belongs to a process started later). A stale restic lock is removed by
drorch.targets.locks, the one place that decides which lock may go.
"""

from __future__ import annotations

import logging
import socket

from drorch.catalog import Catalog, RunRecord
from drorch.catalog.daemon import interrupt_orphans
from drorch.config import Config
from drorch.config.model import DiskTarget
from drorch.process import pid_started_before
from drorch.restic import Repo, Restic
from drorch.targets import remove_stale_locks

log = logging.getLogger(__name__)


def run_process_gone(run: RunRecord) -> bool:
    started = (run.started_at or run.created_at).timestamp()
    return not pid_started_before(run.pid, started)


def interrupt_dead_runs(catalog: Catalog) -> list[RunRecord]:
    runs = interrupt_orphans(catalog, host=socket.gethostname(), gone=run_process_gone)
    for run in runs:
        log.warning(
            "run %d (%s of %s, pid %s) was left running by a process that is gone: "
            "marked INTERRUPTED",
            run.id,
            run.action,
            run.job,
            run.pid,
        )
    return runs


def recovery_restic(config: Config) -> Restic:
    """restic as recovery uses it: short calls, and stale locks removed when met."""
    return Restic(
        binary=config.settings.restic.binary,
        cache_dir=config.state_dir / "cache",
        timeout=120,
        on_locked=remove_stale_locks,
    )


def remove_stale_restic_locks(config: Config, restic: Restic) -> list[str]:
    """Remove, in every disk target's repository, the restic locks that name this host
    and a process that is gone; return their ids."""
    removed: list[str] = []
    for target in config.targets.values():
        if isinstance(target, DiskTarget):
            removed += remove_stale_locks(Repo(str(target.path), target.password_file), restic)
    return removed
