"""verify: the restore test's checks on a folder an earlier restore step filled: restic's
own verify of the restore, the canary, the listing, the job's command checks.

The folder is named as `{steps.NAME.dir}`: the snapshot, the copy and the listing come
from that restore step (validation makes sure the reference is there)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drorch.actions.verification import Check, canary_check, command_check, listing_verdict
from drorch.catalog import SnapshotRecord
from drorch.config.model import CommandCheck
from drorch.config.runbooks import REFERENCE
from drorch.errors import UnknownSnapshot, UsageError
from drorch.runbooks.steps import Outcome, StepContext


def source_step(ctx: StepContext) -> str:
    """The restore step whose folder this verify step checks."""
    step = next(s for s in ctx.runbook.steps if s.name == ctx.step)
    ref = REFERENCE.fullmatch(str(step.with_.dir))  # type: ignore[union-attr]
    if not ref or not ref.group(1).startswith("steps.") or not ref.group(1).endswith(".dir"):
        raise UsageError(f"step {ctx.step}: dir is an earlier restore step's {{steps.NAME.dir}}")
    return ref.group(1).removeprefix("steps.").removesuffix(".dir")


def _commands(ctx: StepContext, job: str) -> list[CommandCheck]:
    spec = ctx.config.job(job).restore_test
    return [item for item in (spec.verify if spec else ()) if isinstance(item, CommandCheck)]


def _snapshot(ctx: StepContext, restored: Mapping[str, Any]) -> SnapshotRecord:
    for snapshot in ctx.catalog.snapshots(job=restored["job"], target=restored["target"]):
        if snapshot.snapshot_id == restored["snapshot"]:
            return snapshot
    raise UnknownSnapshot(
        f"snapshot {str(restored['snapshot'])[:8]} of {restored['job']} is no longer in the "
        f"catalog on {restored['target']}"
    )


class Verify:
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str:
        source = source_step(ctx)
        checks = list(inputs["checks"])
        if "commands" in checks:
            job = str(inputs["job"])
            names = [" ".join(c.command) for c in _commands(ctx, job)]
            checks[checks.index("commands")] = (
                f"the job's command checks ({'; '.join(names)})" if names else "no command checks"
            )
        return f"check the folder step {source} restored: {', '.join(checks)}"

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome:
        restored = ctx.earlier[source_step(ctx)]
        folder = Path(str(inputs["dir"]))
        checks: list[Check] = []
        skipped: list[str] = []
        for item in inputs["checks"]:
            if item == "restic":
                verified = bool(restored.get("restic_verified"))
                detail = (
                    "restic restore --verify found no errors"
                    if verified
                    else "the restore did not run restic's verify"
                )
                checks.append(Check("restic", verified, detail))
            elif item == "canary":
                checks.append(canary_check(_snapshot(ctx, restored), folder))
            elif item == "listing":
                if restored.get("listed_files") is None:
                    skipped.append("listing (the restore took only some paths)")
                    continue
                checks.append(
                    listing_verdict(folder, restored["listed_files"], restored["listed_bytes"])
                )
            elif item == "commands":
                checks += [command_check(c, folder) for c in _commands(ctx, str(inputs["job"]))]
        failed = [c for c in checks if not c.passed]
        told = f"{len(checks) - len(failed)}/{len(checks)} checks passed"
        if skipped:
            told += f"; not checked: {', '.join(skipped)}"
        outputs = {"passed": not failed and bool(checks), "checks": [c.as_dict() for c in checks]}
        if failed or not checks:
            reasons = "; ".join(f"{c.name}: {c.detail}" for c in failed) or "no check was made"
            return Outcome.failed(reasons, f"{told}: {reasons}", **outputs)
        return Outcome.ok(told, **outputs)
