"""Resource locks as context managers, kept alive by a lease-renewing thread.

    with resource_lock(catalog, "job:payroll:snapshot", purpose="snapshot of payroll"):
        ...

raises LockBusy naming the holder ("already running (run 12, pid 4242 on node1)").
Locks live in the catalog, so they hold across processes and, with PostgreSQL, nodes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from datetime import timedelta
from typing import Any

import psutil

from drorch.catalog import Catalog, RunRecord
from drorch.catalog import locks as table
from drorch.catalog.locks import Held, Owner
from drorch.errors import LockBusy
from drorch.process import process_identity

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)


def this_process() -> Owner:
    """This process as a lock's holder and a run's process, read once per pid: a child
    forked after the parent asked (the cli-server's children) is not taken for it."""
    return _owner(os.getpid())


@functools.cache
def _owner(pid: int) -> Owner:
    return Owner(
        host=socket.gethostname(),
        pid=pid,
        pid_started=psutil.Process(pid).create_time(),
        process=process_identity(pid),
    )


def process_alive(holder: Owner) -> bool:
    """Whether the holder may still run. Another host's process is assumed alive (its lease
    decides); on this host, a missing pid or a reused one (another process identity) is
    gone. A holder recorded before identities were (catalog revision 0014) is compared by
    start time, to within a second, which a step of the wall clock upsets."""
    if holder.host != socket.gethostname():
        return True
    if holder.process is not None:
        return process_identity(holder.pid) == holder.process
    try:
        started = psutil.Process(holder.pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True
    return abs(started - holder.pid_started) < 1.0


def job_lock_name(job: str, action: str) -> str:
    return f"job:{job}:{action}"


def repository_lock_name(target: str) -> str:
    return f"repository:{target}"


class _Renewer:
    """One thread per process renewing every lease it holds."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[Catalog, Held, timedelta]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def add(self, catalog: Catalog, held: Held, lease: timedelta) -> None:
        with self._lock:
            self._held[held.token] = (catalog, held, lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="lock-renewer", daemon=True)
                self._thread.start()

    def remove(self, held: Held) -> None:
        with self._lock:
            self._held.pop(held.token, None)

    def _loop(self) -> None:
        while True:
            with self._lock:
                items = list(self._held.values())
            interval = min((lease for _, _, lease in items), default=DEFAULT_LEASE) / 3
            self._wake.wait(interval.total_seconds())
            with self._lock:  # what is still held after the wait: short locks come and go
                items = list(self._held.values())
            for catalog, held, lease in items:
                try:
                    if not table.renew(catalog, held, lease=lease) and self._holds(held):
                        log.error("lost lock %s (its lease expired and another took it)", held.name)
                except Exception:
                    log.exception("could not renew lock %s", held.name)

    def _holds(self, held: Held) -> bool:
        with self._lock:
            return held.token in self._held


_renewer = _Renewer()


@contextlib.contextmanager
def resource_lock(
    catalog: Catalog,
    name: str,
    *,
    purpose: str,
    run_id: int | None = None,
    lease: timedelta = DEFAULT_LEASE,
    wait: float = 0.0,
) -> Iterator[Held]:
    """Hold the lock for the block; with `wait`, retry that many seconds before LockBusy."""
    deadline = time.monotonic() + wait
    while True:
        try:
            held = _take(catalog, name, lease=lease, purpose=purpose, run_id=run_id)
            break
        except LockBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
    _renewer.add(catalog, held, lease)
    try:
        yield held
    finally:
        release(catalog, held)


def lock_for_run(
    catalog: Catalog,
    name: str,
    *,
    purpose: str,
    run: Mapping[str, Any],
    repositories: Collection[str] = (),
    lease: timedelta = DEFAULT_LEASE,
) -> tuple[Held, RunRecord]:
    """Take the lock and record the run it guards in one transaction (LockBusy, and no run,
    when it is held), reading the rows of the `repositories` it will open in it
    (`Held.repositories`); the lease is renewed until `stop_renewing`. The caller releases
    it, with the run's final transition (Catalog.transition's `lock`) or with `release`."""
    held = _take(catalog, name, lease=lease, purpose=purpose, run=run, repositories=repositories)
    assert held.run is not None
    _renewer.add(catalog, held, lease)
    return held, held.run


def _take(catalog: Catalog, name: str, *, lease: timedelta, purpose: str, **what: Any) -> Held:
    """`table.acquire` for this process; `what`: its run_id, run and repositories."""
    return table.acquire(
        catalog, name, this_process(), lease=lease, purpose=purpose, alive=process_alive, **what
    )


def stop_renewing(held: Held) -> None:
    """Before the lock is released: a renewal that finds it gone would report it lost."""
    _renewer.remove(held)


def release(catalog: Catalog, held: Held) -> None:
    stop_renewing(held)
    table.release(catalog, held)
