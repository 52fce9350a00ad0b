"""confirm: the operator types the word shown to go on. --yes stands for typing it, and
the record says so; without a terminal and without --yes the step fails (resumable)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drorch.runbooks.steps import Outcome, StepContext


class Confirm:
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str:
        how = "--yes stands for it" if ctx.operator.yes else "typed on the terminal"
        return f"ask the operator to type {inputs['word']!r} ({how})"

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome:
        word = str(inputs["word"])
        if ctx.operator.yes:
            return Outcome.ok(f"confirmed with --yes by {ctx.operator.recorded}")
        if ctx.operator.ask is None:
            return Outcome.failed(
                f"step {ctx.step} asks the operator to type {word!r}, and no terminal is "
                "there to type on: run it on a terminal, or with --yes"
            )
        typed = ctx.operator.ask(f"Type {word!r} to go on (anything else stops the run): ")
        if typed.strip() != word:
            return Outcome.failed(f"the operator typed {typed.strip()!r}, not {word!r}")
        return Outcome.ok(f"{ctx.operator.recorded} typed {word!r}")
