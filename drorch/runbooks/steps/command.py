"""command: a program the runbook itself names (never a parameter), with a timeout and
no shell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drorch import process
from drorch.config.units import format_duration
from drorch.runbooks.steps import Outcome, StepContext


class Command:
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str:
        timeout = ctx_timeout(ctx)
        return f"run {' '.join(inputs['argv'])} (no shell, at most {format_duration(timeout)})"

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome:
        argv = [str(a) for a in inputs["argv"]]
        timeout = ctx_timeout(ctx)
        try:
            done = process.run(argv, cwd=ctx.config.root, timeout=timeout.total_seconds(), grace=5)
        except OSError as exc:
            return Outcome.failed(f"{argv[0]} could not start: {exc.strerror}")
        tail = (done.stdout[-1] if done.stdout else "") or done.stderr_tail
        if done.timed_out:
            return Outcome.failed(
                f"{argv[0]} ran longer than {format_duration(timeout)} and was stopped",
                exit_code=None,
            )
        if done.returncode != 0:
            return Outcome.failed(
                f"{argv[0]} exited {done.returncode}: {tail[:300]}", exit_code=done.returncode
            )
        return Outcome.ok(f"{argv[0]} exited 0: {tail[:300]}", exit_code=0)


def ctx_timeout(ctx: StepContext) -> Any:
    step = next(s for s in ctx.runbook.steps if s.name == ctx.step)
    return step.with_.timeout  # type: ignore[union-attr]
