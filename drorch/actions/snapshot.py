"""snapshot: back up a job's sources into its primary disk target.

Checks sources exist (restic 0.14 exits 0 for a missing path), prepares the
repository (init on first use, never over an offline one), runs the before
hooks, plants the canary, runs restic backup, runs the after hooks, records
the snapshot in the catalog.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from drorch.actions.canary import plant_canary
from drorch.actions.context import ActionResult, RunContext
from drorch.actions.hooks import run_hooks
from drorch.catalog import RunStatus, SnapshotRecord
from drorch.config.model import DiskTarget
from drorch.config.units import format_size
from drorch.errors import HookFailed, PartialSnapshot, SourceMissing, TargetOffline
from drorch.restic import BackupSummary, Repo
from drorch.targets import open_disk_repository

log = logging.getLogger(__name__)


def run_snapshot(ctx: RunContext) -> ActionResult:
    job = ctx.job
    name = job.snapshot.target
    target = ctx.config.target(name)
    if not isinstance(target, DiskTarget):
        raise TargetOffline(f"target {name!r} is {target.kind}; snapshots go to a disk target")
    missing = [str(path) for path in job.source.paths if not path.exists()]
    if missing:
        raise SourceMissing(f"job {ctx.job_name}: source path does not exist: {', '.join(missing)}")
    log.info("snapshot of %s to %s", ", ".join(map(str, job.source.paths)), name)
    repo = open_disk_repository(name, target, ctx.catalog, ctx.restic, create=True,
                                managed_roots=ctx.managed_roots)
    run_hooks(job.source.before, when="before", cwd=ctx.config.root)
    try:
        result = _backup(ctx, name, repo)
    finally:
        try:
            run_hooks(job.source.after, when="after", cwd=ctx.config.root)
        except HookFailed as exc:
            log.error("%s", exc)
            after_failure: HookFailed | None = exc
        else:
            after_failure = None
    if after_failure is not None:
        return replace(result, status=RunStatus.FAILED,
                       error=f"{after_failure} (snapshot {result.snapshot_id} was written)")
    return result


def _backup(ctx: RunContext, name: str, repo: Repo) -> ActionResult:
    canary = plant_canary(ctx.config.state_dir, ctx.job_name)
    paths = [*map(str, ctx.job.source.paths), str(canary.path.parent)]
    tags = ("drorch", f"job:{ctx.job_name}", f"run:{ctx.run_id}")
    status, error = RunStatus.SUCCEEDED, None
    try:
        summary = ctx.restic.backup(repo, paths, excludes=ctx.job.source.exclude, tags=tags,
                                    what=f"snapshot of job {ctx.job_name} to target {name}",
                                    on_progress=ctx.on_progress)
        snapshot_id = summary.snapshot_id
    except PartialSnapshot as exc:
        if exc.snapshot_id is None:
            raise
        status, error, snapshot_id, summary = RunStatus.PARTIAL, str(exc), exc.snapshot_id, None
    assert snapshot_id is not None
    infos = ctx.restic.snapshots(repo, snapshot_ids=[snapshot_id])
    if len(infos) != 1:
        raise TargetOffline(f"snapshot {snapshot_id} was reported written but restic does not "
                            f"list it in target {name!r}")
    info = infos[0]
    ctx.catalog.record_snapshot(SnapshotRecord(
        job=ctx.job_name, target=name, snapshot_id=info.id, time=info.time, tree=info.tree,
        hostname=info.hostname, paths=info.paths, tags=info.tags,
        size=summary.total_bytes_processed if summary else None,
        files=summary.total_files_processed if summary else None,
        original_id=info.original, run_id=ctx.run_id,
        canary_path=str(canary.path), canary_sha256=canary.sha256,
    ))
    return ActionResult(
        status=status, target=name, snapshot_id=info.id, error=error,
        summary=_describe(info.short_id, name, summary),
        bytes_processed=summary.total_bytes_processed if summary else None,
        bytes_added=summary.data_added if summary else None,
        files=summary.total_files_processed if summary else None,
        details=({"files_new": summary.files_new, "files_changed": summary.files_changed,
                  "files_unmodified": summary.files_unmodified,
                  "restic_duration_s": round(summary.total_duration, 3)} if summary else {}),
    )


def _describe(short_id: str, target: str, summary: BackupSummary | None) -> str:
    if summary is None:
        return f"snapshot {short_id} on {target} (incomplete)"
    return (f"snapshot {short_id} on {target}: {summary.total_files_processed} files, "
            f"{format_size(summary.total_bytes_processed)}, {format_size(summary.data_added)} "
            "added")
