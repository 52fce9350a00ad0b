"""The callables APScheduler runs: module-level functions taking plain ids.

The daemon binds itself here at start; APScheduler never holds live objects of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol


class Runtime(Protocol):
    def run_action(
        self, job: str, action: str, details: Mapping[str, Any], slot: datetime | None
    ) -> None: ...

    def run_assigned(self, job: str, action: str, slot: datetime, epoch: int | None) -> None: ...

    def assignments(self) -> None: ...

    def housekeeping(self) -> None: ...

    def watchdog(self) -> None: ...

    def compliance(self) -> None: ...


_runtime: Runtime | None = None


def bind(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def _bound() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no daemon is bound to the scheduler")
    return _runtime


def run_scheduled(
    job: str,
    action: str,
    details: Mapping[str, Any] | None = None,
    *,
    slot: datetime | None = None,
) -> None:
    """A scheduled run of a job's action, for its slot (the engine passes the fire time);
    `details` go into the run's (a catch-up says what it catches up)."""
    _bound().run_action(job, action, dict(details or {}), slot)


def run_assigned(job: str, action: str, *, slot: datetime, epoch: int | None) -> None:
    """A slot the leader assigned to this node (a target only it reaches)."""
    _bound().run_assigned(job, action, slot, epoch)


def assignments() -> None:
    _bound().assignments()


def housekeeping() -> None:
    _bound().housekeeping()


def watchdog() -> None:
    _bound().watchdog()


def compliance() -> None:
    _bound().compliance()
