"""snapshot: back up a job's sources into its primary disk target.

Checks sources exist (restic 0.14 exits 0 for a missing path), prepares the
repository (init on first use, never over an offline one), runs the before
hooks, plants the canary, runs restic backup, runs the after hooks, records
the snapshot in the catalog.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import replace

from drorch.actions.canary import plant_canary
from drorch.actions.context import ActionResult, RunContext
from drorch.actions.hooks import run_hooks
from drorch.catalog import RunStatus, SnapshotRecord, SnapshotStatus
from drorch.config.model import HookSpec
from drorch.config.units import format_size
from drorch.errors import HookFailed, PartialSnapshot, ResticError, SourceMissing
from drorch.restic import BackupSummary, Repo
from drorch.targets import Capability, Target, open_target

log = logging.getLogger(__name__)

# restic exit 3 (a PARTIAL run) wrote the snapshot without the files it could not read.
KEPT = {RunStatus.PARTIAL: SnapshotStatus.PARTIAL}


def run_snapshot(ctx: RunContext) -> ActionResult:
    job = ctx.job
    name = job.snapshot.target
    target = open_target(name, ctx.config)
    target.require(Capability.SNAPSHOT)
    missing = [str(path) for path in job.source.paths if not path.exists()]
    if missing:
        raise SourceMissing(f"job {ctx.job_name}: source path does not exist: {', '.join(missing)}")
    log.info("snapshot of %s to %s", ", ".join(map(str, job.source.paths)), name)
    repo = target.open_for_writing(ctx.catalog, ctx.restic, managed_roots=ctx.managed_roots)
    before_done: list[HookSpec] = []
    after_failure: HookFailed | None = None
    try:
        run_hooks(
            job.source.before,
            when="before",
            cwd=ctx.config.root,
            cancel=ctx.cancel,
            succeeded=before_done,
            deadline=ctx.deadline,
        )
        result = _backup(ctx, target, repo)
    finally:
        # `after` hooks undo what `before` hooks did (thaw, unlock): they run once any before
        # hook succeeded, even if a later one failed, and they are not cancelable. Nor are
        # they held to the run's deadline (a thaw must not be skipped because the backup
        # used the time up): each runs within its own timeout.
        if before_done or not job.source.before:
            try:
                run_hooks(job.source.after, when="after", cwd=ctx.config.root)
            except HookFailed as exc:
                log.error("%s", exc)
                after_failure = exc
    if after_failure is not None:
        return replace(
            result,
            status=RunStatus.FAILED,
            error=f"{after_failure} (snapshot {result.snapshot_id} was written)",
        )
    return result


def _backup(ctx: RunContext, target: Target, repo: Repo) -> ActionResult:
    name = target.name
    canary = plant_canary(ctx.config.state_dir, ctx.job_name)
    paths = (*map(str, ctx.job.source.paths), str(canary.path.parent))
    tags = ("drorch", f"job:{ctx.job_name}", f"run:{ctx.run_id}")
    host = socket.gethostname()
    # Told to restic, so that the catalog knows the snapshot without asking restic again.
    started = ctx.clock().replace(microsecond=0)
    status, error = RunStatus.SUCCEEDED, None
    try:
        summary = ctx.restic.backup(
            repo,
            paths,
            excludes=ctx.job.source.exclude,
            tags=tags,
            host=host,
            time=started,
            what=f"snapshot of job {ctx.job_name} to target {name}",
            on_progress=ctx.on_progress,
        )
        reported = summary.snapshot_id
    except PartialSnapshot as exc:
        if exc.snapshot_id is None:
            raise
        status, error, reported, summary = RunStatus.PARTIAL, str(exc), exc.snapshot_id, None
    assert reported is not None
    # restic's word is not proof: the snapshot is recorded only once the repository holds it.
    snapshot_id, tree = target.written_snapshot(repo, ctx.restic, reported)
    if snapshot_id is None:
        raise ResticError(
            f"snapshot of job {ctx.job_name} to target {name}: restic reported snapshot "
            f"{reported} as written, but target {name!r} holds no such snapshot; nothing was "
            "recorded"
        )
    written = SnapshotRecord(
        job=ctx.job_name,
        target=name,
        snapshot_id=snapshot_id,
        time=started,
        tree=tree,
        hostname=host,
        paths=paths,
        tags=tags,
        size=summary.total_bytes_processed if summary else None,
        files=summary.total_files_processed if summary else None,
        original_id=None,
        run_id=ctx.run_id,
        canary_path=str(canary.path),
        canary_sha256=canary.sha256,
        status=KEPT.get(status, SnapshotStatus.COMPLETE),
    )
    return ActionResult(
        status=status,
        snapshots=(written,),
        target=name,
        snapshot_id=snapshot_id,
        error=error,
        summary=_describe(snapshot_id[:8], name, summary),
        bytes_processed=summary.total_bytes_processed if summary else None,
        bytes_added=summary.data_added if summary else None,
        files=summary.total_files_processed if summary else None,
        details=(
            {
                "files_new": summary.files_new,
                "files_changed": summary.files_changed,
                "files_unmodified": summary.files_unmodified,
                "restic_duration_s": round(summary.total_duration, 3),
            }
            if summary
            else {}
        ),
    )


def _describe(short_id: str, target: str, summary: BackupSummary | None) -> str:
    if summary is None:
        return f"snapshot {short_id} on {target} (incomplete)"
    return (
        f"snapshot {short_id} on {target}: {summary.total_files_processed} files, "
        f"{format_size(summary.total_bytes_processed)}, {format_size(summary.data_added)} "
        "added"
    )
