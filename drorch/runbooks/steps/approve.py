"""approve: a second person approves (four eyes). The step waits, the run pauses
(WAITING, across process exits) until `drorch runbook approve RUN STEP` by somebody other
than who started the run; then `drorch runbook resume RUN` goes on. --yes never stands
for an approval."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drorch.catalog.models import StepStatus
from drorch.runbooks.steps import Outcome, StepContext


def who_may(inputs: Mapping[str, Any]) -> str:
    names = list(inputs.get("who") or ())
    role = inputs.get("role")
    said = f"{role}: " if role else ""
    return said + (", ".join(names) if names else "anybody but who started the run")


class Approve:
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str:
        return f"pause until a second person approves ({who_may(inputs)})"

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome:
        run = ctx.run_id
        summary = (
            f"waits for approval ({who_may(inputs)}): "
            f"drorch runbook approve {run} {ctx.step}, then drorch runbook resume {run}"
        )
        return Outcome(StepStatus.WAITING, summary)
