"""Stale restic locks: the one place that decides which lock may be removed.

A restic killed by SIGKILL (the OOM killer, or drorch dying: see drorch.process) leaves
its lock file behind, and an exclusive action (prune, check, forget) then fails on it
until it is removed. A lock is removed only when it names this host and a process that
is gone: no such pid, or a pid now held by a process started after the lock was made.
Another host's lock is never removed (only that host could tell whether its process
lives), nor a live process's, and never with `restic unlock --remove-all`.
"""

from __future__ import annotations

import logging
import socket

from drorch.process import pid_started_before
from drorch.restic import Repo, Restic

log = logging.getLogger(__name__)


def remove_stale_locks(repo: Repo, restic: Restic) -> list[str]:
    """Remove the repository's restic locks left by processes of this host that are gone;
    return their ids. Cheap when the repository has no lock: a directory listing."""
    host = socket.gethostname()
    removed: list[str] = []
    for path, lock in restic.locks(repo):
        if lock.hostname != host or pid_started_before(lock.pid, lock.time.timestamp()):
            continue
        path.unlink(missing_ok=True)
        removed.append(path.name)
        log.warning(
            "removed stale restic lock %s of pid %d (gone) from %s in %s",
            path.name[:8],
            lock.pid,
            lock.time.isoformat(),
            repo.location,
        )
    return removed
