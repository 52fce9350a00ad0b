"""A runbook's preconditions, checked before its first step (and shown by --dry-run):
a target can be reached, there is room for a restore, a job has no run going on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drorch.actions.restore_test import SPACE_MARGIN
from drorch.catalog import Catalog, RunStatus
from drorch.config import Config
from drorch.config.runbooks import Precondition, Runbook
from drorch.config.units import format_size
from drorch.runbooks.values import fill
from drorch.targets import free_bytes, open_target


@dataclass(frozen=True)
class Finding:
    condition: str
    holds: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "holds": self.holds, "detail": self.detail}


def check_preconditions(
    config: Config, catalog: Catalog, runbook: Runbook, params: Mapping[str, str]
) -> list[Finding]:
    return [_check(config, catalog, c, params) for c in runbook.preconditions]


def _check(
    config: Config, catalog: Catalog, condition: Precondition, params: Mapping[str, str]
) -> Finding:
    if condition.target_online is not None:
        name = str(fill(condition.target_online, params, {}))
        target = open_target(name, config)
        present = target.repository_present()
        detail = f"{name} ({target.location}) " + (
            "can be reached" if present else "cannot be reached"
        )
        return Finding(f"target {name} online", present, detail)
    if condition.job_idle is not None:
        job = str(fill(condition.job_idle, params, {}))
        running = [r for r in catalog.runs(job=job, status=[RunStatus.RUNNING]) if r.job == job]
        detail = (
            f"no run of {job} is running"
            if not running
            else "running now: " + ", ".join(f"run {r.id} ({r.action})" for r in running)
        )
        return Finding(f"job {job} idle", not running, detail)
    assert condition.free_space_for is not None
    job = str(fill(condition.free_space_for.job, params, {}))
    at = Path(str(fill(condition.free_space_for.at, params, {})))
    existing = next((p for p in (at, *at.parents) if p.exists()), Path("/"))
    free = free_bytes(existing)
    sizes = [s.size for s in catalog.snapshots(job=job) if s.complete and s.size is not None]
    if not sizes:
        return Finding(
            f"room for {job} at {at}",
            True,
            f"{format_size(free)} free; the catalog knows no size of {job}'s snapshots",
        )
    need = int(max(sizes[-5:]) * SPACE_MARGIN)
    detail = f"{format_size(free)} free at {existing}, {format_size(need)} needed for {job}"
    return Finding(f"room for {job} at {at}", free >= need, detail)
