"""The kinds of runbook step, one module each, behind one table.

Each kind gives `plan` (what it would do, for --dry-run: reads, never writes) and `run`
(do it, and say how it went as an Outcome). A step that cannot go on raises a
DrorchError or returns a FAILED outcome; the engine records either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from drorch.catalog import Catalog
from drorch.catalog.models import StepStatus
from drorch.config import Config
from drorch.config.runbooks import Runbook
from drorch.runbooks.operator import Operator


@dataclass(frozen=True)
class StepContext:
    config: Config
    catalog: Catalog
    runbook: Runbook
    run_id: int | None  # None in a dry run
    step: str  # the step's name
    operator: Operator
    # What earlier steps gave, by name: their outputs, and the details they recorded.
    earlier: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def say(self, text: str) -> None:
        self.operator.say(text)


@dataclass(frozen=True)
class Outcome:
    status: StepStatus
    summary: str
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def ok(cls, summary: str, **outputs: Any) -> Outcome:
        return cls(StepStatus.SUCCEEDED, summary, outputs)

    @classmethod
    def failed(cls, error: str, summary: str = "", **outputs: Any) -> Outcome:
        return cls(StepStatus.FAILED, summary or error, outputs, error)


class StepKind(Protocol):
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str: ...

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome: ...


def _kinds() -> dict[str, StepKind]:
    from drorch.runbooks.steps import (
        approve,
        check,
        cleanup,
        command,
        confirm,
        note,
        notify,
        restore,
        verify,
    )

    return {
        "restore": restore.Restore(),
        "verify": verify.Verify(),
        "check": check.Check(),
        "command": command.Command(),
        "confirm": confirm.Confirm(),
        "approve": approve.Approve(),
        "notify": notify.Notify(),
        "cleanup": cleanup.Cleanup(),
        "note": note.Note(),
    }


def kind_of(kind: str) -> StepKind:
    return _kinds()[kind]
