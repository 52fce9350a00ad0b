"""What a daemon finds at start: runs left RUNNING by a dead process, stale restic locks.

A run is interrupted only when its process is provably gone (no such pid on this host,
or the pid now belongs to a process started later). A restic lock is removed only when
it names this host and a process that is gone; never `unlock --remove-all`.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import psutil

from drorch.catalog import Catalog, RunRecord
from drorch.catalog.daemon import interrupt_orphans
from drorch.config import Config
from drorch.config.model import DiskTarget
from drorch.errors import DrorchError
from drorch.restic import Repo, Restic

log = logging.getLogger(__name__)


def pid_started_before(pid: int | None, moment: float) -> bool:
    """True when process pid exists and started no later than `moment` (epoch seconds)."""
    if pid is None:
        return False
    try:
        return psutil.Process(pid).create_time() <= moment + 1.0
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


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


def remove_stale_restic_locks(config: Config, restic: Restic) -> list[Path]:
    """Remove restic lock files that name this host and a process that is gone."""
    removed: list[Path] = []
    host = socket.gethostname()
    for name, target in config.targets.items():
        if not isinstance(target, DiskTarget):
            continue
        folder = target.path / "locks"
        try:
            lock_ids = sorted(p.name for p in folder.iterdir())
        except OSError:
            continue
        repo = Repo(str(target.path), target.password_file)
        for lock_id in lock_ids:
            try:
                info = restic.lock_info(repo, lock_id)
            except DrorchError as exc:
                log.warning("target %s: cannot read restic lock %s: %s", name, lock_id[:8], exc)
                continue
            if info.hostname != host or pid_started_before(info.pid, info.time.timestamp()):
                continue
            (folder / lock_id).unlink(missing_ok=True)
            removed.append(folder / lock_id)
            log.warning(
                "target %s: removed stale restic lock %s of pid %d (gone) from %s",
                name,
                lock_id[:8],
                info.pid,
                info.time.isoformat(),
            )
    return removed
