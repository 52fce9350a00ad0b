"""check: `restic check` of a target's repository (its structure), under the repository's
lock so that no prune runs meanwhile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drorch.errors import DrorchError
from drorch.locks import repository_lock_name, resource_lock
from drorch.runbooks.steps import Outcome, StepContext
from drorch.targets import Capability, open_target, restic_for


class Check:
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str:
        target = open_target(str(inputs["target"]), ctx.config)
        target.require(Capability.CHECK)
        return f"restic check of {target.name} ({target.location})"

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome:
        target = open_target(str(inputs["target"]), ctx.config)
        target.require(Capability.CHECK)
        restic = restic_for(
            ctx.config,
            timeout=ctx.config.settings.restic.timeout.total_seconds(),
            cancel=ctx.operator.cancel,
        )
        with (
            resource_lock(
                ctx.catalog,
                repository_lock_name(target.name),
                purpose=f"check of {target.name} by runbook run {ctx.run_id}",
            ),
            target.open_for_reading(ctx.catalog, restic) as repo,
        ):
            target.remove_stale_locks(restic)
            try:
                restic.check(repo)
            except DrorchError as exc:
                return Outcome.failed(f"restic check of {target.name}: {exc}", passed=False)
        return Outcome.ok(f"restic check found no errors in {target.name}", passed=True)
