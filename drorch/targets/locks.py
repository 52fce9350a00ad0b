"""Restic's lock files: the one place that reads, and decides which may be removed.

A restic killed by SIGKILL (the OOM killer, or drorch dying: see drorch.process) leaves
its lock file behind, and an exclusive action (prune, check, forget) then fails on it
until it is removed. A lock is removed only when it names this host and a process that
is gone: no such pid, or a pid now held by a process started after the lock was made.
Another host's lock is never removed (only that host could tell whether its process
lives), nor a live process's, and never with `restic unlock --remove-all`.

The lock files live in the repository's `locks/` folder, named by their id: this module
and drorch.targets.disk are where a repository's layout is known.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drorch.config import Config
from drorch.errors import ResticError
from drorch.process import pid_started_before
from drorch.restic import Repo, Restic
from drorch.restic.models import LockFile

log = logging.getLogger(__name__)

LOCKS = "locks"  # the folder of a repository holding restic's lock files
# A lock file's name is its id; restic writes "ID-tmp-N" first and renames it.
_LOCK_ID = re.compile(r"[0-9a-f]{64}")


class Gone(threading.Event):
    """Set once `path` no longer exists: a call reading it can stop (process.run polls
    is_set every 0.1 s)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path

    def is_set(self) -> bool:
        return super().is_set() or not self._path.exists()


def lock_files(repo: Repo, restic: Restic) -> list[tuple[Path, LockFile]]:
    """The lock files of a repository on a filesystem, each with what it says.

    Read without taking a lock (a stale one must not block its own inspection). A lock
    that vanished meanwhile (its restic ended) is skipped; one that cannot be read is
    logged and skipped. Cheap when the repository has no lock: a directory listing.
    """
    folder = Path(repo.location) / LOCKS
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        return []
    found: list[tuple[Path, LockFile]] = []
    for name in filter(_LOCK_ID.fullmatch, names):
        try:
            found.append((folder / name, restic.lock_info(repo, name, gone=Gone(folder / name))))
        except ResticError as exc:
            if (folder / name).exists():
                log.warning("cannot read restic lock %s of %s: %s", name[:8], folder, exc)
    return found


def remove_stale_locks(repo: Repo, restic: Restic) -> list[str]:
    """Remove the repository's restic locks left by processes of this host that are gone;
    return their ids."""
    host = socket.gethostname()
    removed: list[str] = []
    for path, lock in lock_files(repo, restic):
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


def remove_locks_of(repo: Repo, restic: Restic, pid: int) -> Sequence[str]:
    """After an interrupted call, remove a lock its (now gone) restic left behind.

    restic 0.14 removes its lock on SIGINT, except when the signal lands while the lock
    is being made, and never when it is killed; the process is gone, so a lock naming it
    is provably stale.
    """
    host = socket.gethostname()
    removed: list[str] = []
    for path, info in lock_files(repo, restic):
        if info.hostname == host and info.pid == pid:
            path.unlink(missing_ok=True)
            removed.append(path.name)
            log.warning(
                "removed the lock %s left by interrupted restic (pid %d)", path.name[:8], pid
            )
    return removed


def restic_for(config: Config, **options: Any) -> Restic:
    """restic as drorch runs it: the configured binary and the state dir's cache, with its
    lock files looked after (a stale one met is removed and the call tried again; the one an
    interrupted call left is removed). `options` are the caller's limits and artifacts."""
    return Restic(
        binary=config.settings.restic.binary,
        binary_source="restic.binary in drorch.yaml",
        cache_dir=config.state_dir / "cache",
        on_locked=remove_stale_locks,
        on_interrupted=remove_locks_of,
        **options,
    )
