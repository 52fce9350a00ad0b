"""Restic's lock files: the one place that reads, and decides which may be removed.

A restic killed by SIGKILL (the OOM killer, or drorch dying: see drorch.process) leaves
its lock file behind, and an exclusive action (prune, check, forget) then fails on it
until it is removed. A lock is removed only when it names this host and a process that
is gone: no such pid, or a pid now held by a process started after the lock was made
that is not a restic. Another host's lock is never removed (only that host could tell
whether its process lives), nor a live process's, and never with `restic unlock
--remove-all`.

"Started after the lock was made" compares the process's start, which psutil dates by
the boot time read now, with the wall-clock time in the lock: a step of the clock (NTP,
a resumed virtual machine) moves the one and not the other. A step forward would make a
live restic look younger than its own lock, and removing that lock under a running prune
lets a backup write beside it. So a live process that runs restic (by the name the
kernel gives it: `restic`, or the configured binary's) is always taken for the holder;
when it is another restic that got the pid, the stale lock stays until that one exits,
and calls fail as "locked" meanwhile: the safe way to be wrong.

The lock files live in the repository's `locks/` folder, named by their id: this module
and drorch.targets.disk are where a repository's layout is known.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drorch.config import Config
from drorch.errors import ResticError
from drorch.process import COMM_MAX, pid_started_before, program_of
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
    programs = restic_programs(restic.binary)
    removed: list[str] = []
    for path, lock in lock_files(repo, restic):
        if not is_stale(lock, host, programs):
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


def is_stale(lock: LockFile, host: str, programs: frozenset[str]) -> bool:
    """Whether `lock` was left by a process of `host` (this one) that is gone: no process
    has its pid, or one that is no restic (`programs`) and started after the lock."""
    if lock.hostname != host:
        return False
    program = program_of(lock.pid)
    if program is None:
        return True
    if program in programs:
        return False
    return not pid_started_before(lock.pid, lock.time.timestamp())


def restic_programs(binary: str) -> frozenset[str]:
    """The names the kernel may give a restic process drorch runs (program_of): restic's
    own, and the last part of the configured binary's path and of the file it resolves to
    (a link, a versioned name), each cut as the kernel cuts them."""
    names = {"restic", Path(binary).name}
    found = shutil.which(binary)
    if found is not None:
        names.add(Path(os.path.realpath(found)).name)
    return frozenset(name[:COMM_MAX] for name in names if name)


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
