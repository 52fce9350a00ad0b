"""note: text shown to the operator, and recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drorch.runbooks.steps import Outcome, StepContext


class Note:
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str:
        return f"show: {inputs['text']}"

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome:
        ctx.say(str(inputs["text"]))
        return Outcome.ok(f"shown: {inputs['text']}")
