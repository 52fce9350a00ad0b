"""restore: a job's snapshot (an id, `latest`, or the newest not after an as-of time) from
one of its copies, disk or tape, into a destination under the allowed roots.

restic restores into a folder beside the destination that is renamed onto it at the end:
an interrupted restore leaves nothing at the destination that looks complete. While the
repository is open the snapshot is also listed, so that a later verify step compares the
folder with what restic says it holds without opening the copy again (a tape copy would be
read from its cartridges twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drorch.actions.restore import (
    check_destination,
    describe,
    find_snapshot,
    find_snapshot_as_of,
    kept_folder,
    restore_into,
)
from drorch.actions.restore_test import SPACE_MARGIN
from drorch.catalog import SnapshotRecord
from drorch.config.units import format_size
from drorch.errors import TargetFull, UsageError
from drorch.runbooks.params import allowed_roots, destination_problem
from drorch.runbooks.steps import Outcome, StepContext
from drorch.targets import Capability, Target, free_bytes, open_target, restic_for


@dataclass(frozen=True)
class Chosen:
    """What a restore step's inputs name, resolved against the config and the catalog."""

    job: str
    target: Target
    snapshot: SnapshotRecord
    destination: Path
    overwrite: bool
    includes: tuple[str, ...]


def choose(ctx: StepContext, inputs: Mapping[str, Any]) -> Chosen:
    """Resolve, or raise the DrorchError saying what is wrong; reads, never writes."""
    job = str(inputs["job"])
    ctx.config.job(job)
    name = str(inputs["from"])
    ctx.config.target(name)
    target = open_target(name, ctx.config)
    target.require(Capability.RESTORE)
    to = str(inputs["to"])
    problem = destination_problem(to, allowed_roots(ctx.config, ctx.runbook))
    if problem:
        raise UsageError(f"step {ctx.step}: destination {problem}")
    overwrite = str(inputs.get("overwrite", "no")) == "yes"
    destination = check_destination(Path(to), force=overwrite)
    if inputs.get("as_of"):
        moment = datetime.fromisoformat(str(inputs["as_of"]))
        snapshot = find_snapshot_as_of(ctx.catalog, job, name, moment)
    else:
        snapshot = find_snapshot(ctx.catalog, job, name, str(inputs["snapshot"]))
    includes = tuple(str(i) for i in inputs.get("include") or ())
    return Chosen(job, target, snapshot, destination, overwrite, includes)


def room(chosen: Chosen) -> tuple[int | None, int]:
    """(bytes needed or None when unknown, bytes free where the destination will be)."""
    existing = next(p for p in (chosen.destination, *chosen.destination.parents) if p.exists())
    size = chosen.snapshot.size
    return (int(size * SPACE_MARGIN) if size is not None else None), free_bytes(existing)


class Restore:
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str:
        chosen = choose(ctx, inputs)
        snap = chosen.snapshot
        size = format_size(snap.size) if snap.size is not None else "size unknown"
        files = f", {snap.files} files" if snap.files is not None else ""
        dest = chosen.destination
        if not dest.exists():
            state = "absent: made"
        elif any(dest.iterdir()):
            state = f"not empty: replaced, the old contents kept at {kept_folder(dest, 'run-N')}"
        else:
            state = "empty"
        need, free = room(chosen)
        space = f"{format_size(free)} free" + (
            f", {format_size(need)} needed" if need is not None else ""
        )
        if need is not None and need > free:
            raise TargetFull(
                f"{dest} has {format_size(free)} free; snapshot {snap.short_id} of "
                f"{chosen.job} needs {format_size(need)}"
            )
        only = f", only {', '.join(chosen.includes)}" if chosen.includes else ""
        return (
            f"restore snapshot {describe(snap)} of {chosen.job} taken "
            f"{snap.time.isoformat().replace('+00:00', 'Z')} ({size}{files}) from "
            f"{chosen.target.name} ({chosen.target.kind}) into {dest} ({state}; {space}){only}"
        )

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome:
        chosen = choose(ctx, inputs)
        need, free = room(chosen)
        if need is not None and need > free:
            return Outcome.failed(
                f"{chosen.destination} has {format_size(free)} free; the snapshot needs "
                f"{format_size(need)}"
            )
        restic = restic_for(
            ctx.config,
            timeout=ctx.config.settings.restic.timeout.total_seconds(),
            cancel=ctx.operator.cancel,
        )
        progress = ctx.operator.on_progress
        snap = chosen.snapshot
        ctx.say(
            f"restoring snapshot {snap.short_id} of {chosen.job} from {chosen.target.name} "
            f"into {chosen.destination}"
        )
        with chosen.target.open_for_reading(ctx.catalog, restic) as repo:
            listed = restic.ls(repo, snap.snapshot_id) if not chosen.includes else None
            restored = restore_into(
                restic,
                repo,
                snap,
                chosen.destination,
                tag=f"run-{ctx.run_id}",
                includes=chosen.includes,
                overwrite=chosen.overwrite,
                on_progress=(lambda p: progress(ctx.step, p)) if progress else None,
                verify=True,
            )
        kept = f"; the earlier contents are kept at {restored.kept}" if restored.kept else ""
        return Outcome.ok(
            f"restored snapshot {describe(snap)} of {chosen.job} from {chosen.target.name} "
            f"into {restored.folder}: {restored.files} files, {format_size(restored.bytes)} "
            f"in {restored.seconds:.1f}s{kept}",
            job=chosen.job,
            target=chosen.target.name,
            snapshot=snap.snapshot_id,
            snapshot_time=snap.time.isoformat().replace("+00:00", "Z"),
            snapshot_status=snap.status.value,
            dir=str(restored.folder),
            kept=str(restored.kept) if restored.kept else None,
            bytes=restored.bytes,
            files=restored.files,
            seconds=round(restored.seconds, 3),
            listed_files=listed.files if listed else None,
            listed_bytes=listed.bytes if listed else None,
            restic_verified=True,  # restic restore --verify read every file back
        )
