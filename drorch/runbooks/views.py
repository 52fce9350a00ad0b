"""What a runbook run looks like from outside: its steps' latest attempts, in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drorch.catalog import Catalog, RunRecord, RunStatus
from drorch.catalog.models import StepStatus
from drorch.catalog.runbooks import StepRecord, runbook_runs, steps_of
from drorch.errors import UsageError


@dataclass(frozen=True)
class StepView:
    """One step of a run: its latest attempt (None before it starts) and how many."""

    position: int
    name: str
    kind: str
    latest: StepRecord | None
    attempts: int
    history: tuple[StepRecord, ...] = ()  # every attempt, the latest last

    @property
    def status(self) -> StepStatus | None:
        return self.latest.status if self.latest else None

    @property
    def done(self) -> bool:
        return self.status is StepStatus.SUCCEEDED

    def as_dict(self) -> dict[str, Any]:
        latest = self.latest
        return {
            "position": self.position,
            "name": self.name,
            "kind": self.kind,
            "status": self.status.value if self.status else "NOT STARTED",
            "attempts": self.attempts,
            "actor": latest.actor if latest else None,
            "started_at": _iso(latest.started_at) if latest else None,
            "finished_at": _iso(latest.finished_at) if latest else None,
            "duration_s": latest.duration if latest else None,
            "summary": latest.summary if latest else None,
            "error": latest.error if latest else None,
            "approved_by": latest.approved_by if latest else None,
            "inputs": latest.inputs if latest else None,
            "outputs": latest.outputs if latest else None,
            "earlier_attempts": [
                {
                    "attempt": a.attempt,
                    "status": a.status.value,
                    "actor": a.actor,
                    "started_at": _iso(a.started_at),
                    "finished_at": _iso(a.finished_at),
                    "error": a.error,
                }
                for a in self.history[:-1]
            ],
        }


@dataclass(frozen=True)
class RunView:
    run: RunRecord
    steps: tuple[StepView, ...]

    @property
    def id(self) -> int:
        return self.run.id

    @property
    def status(self) -> RunStatus:
        return self.run.status

    @property
    def details(self) -> dict[str, Any]:
        return self.run.details or {}

    @property
    def runbook(self) -> str:
        return str(self.details.get("runbook", "?"))

    @property
    def params(self) -> dict[str, str]:
        return dict(self.details.get("params", {}))

    @property
    def current(self) -> StepView | None:
        """The first step not done: where the run waits, failed, or goes on."""
        return next((s for s in self.steps if not s.done), None)

    def step(self, name: str) -> StepView:
        for step in self.steps:
            if step.name == name:
                return step
        names = ", ".join(s.name for s in self.steps)
        raise UsageError(f"run {self.id} of runbook {self.runbook} has no step {name!r} ({names})")

    def as_dict(self) -> dict[str, Any]:
        run = self.run
        current = self.current
        return {
            "run": run.id,
            "runbook": self.runbook,
            "title": self.details.get("title"),
            "status": run.status.value,
            "actor": run.actor,
            "params": self.params,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "duration_s": run.duration,
            "error": run.error,
            # where it waits, failed or was interrupted; none once it succeeded or ended
            "current_step": current.name
            if current and run.status not in (RunStatus.SUCCEEDED, RunStatus.CANCELED)
            else None,
            "evidence_seq": self.details.get("evidence_seq"),
            "steps": [s.as_dict() for s in self.steps],
        }


def view(catalog: Catalog, run_id: int, names: list[tuple[str, str]] | None = None) -> RunView:
    """The run `run_id` as a RunView; `names` (name, kind) per step default to those the
    run recorded when it started."""
    run = catalog.run(run_id)
    if run is None or run.action != "runbook":
        raise UsageError(f"no runbook run {run_id} (list them with: drorch runbook history)")
    planned = names or [tuple(s) for s in (run.details or {}).get("steps", [])]
    attempts = steps_of(catalog, run_id)
    steps = []
    for position, (name, kind) in enumerate(planned):
        mine = [a for a in attempts if a.position == position]
        latest = mine[-1] if mine else None
        steps.append(StepView(position, name, kind, latest, len(mine), tuple(mine)))
    return RunView(run, tuple(steps))


def history(
    catalog: Catalog, runbook: str | None = None, limit: int | None = None
) -> list[RunView]:
    return [view(catalog, run.id) for run in runbook_runs(catalog, runbook=runbook, limit=limit)]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None
