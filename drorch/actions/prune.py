"""prune: apply the job's retention to its snapshots on its primary target, then prune.

`restic forget` takes the job's snapshots (tag job:NAME) as one group: each snapshot
also carries a unique run:ID tag, so grouping by tags would make every snapshot its own
group and keep them all. The keep rules are the policy's hourly/daily/weekly/monthly/
yearly counts, with keep-within as a safety floor. A retention that keeps nothing is
refused, never read as "forget everything". The forgotten snapshots leave the catalog,
then `restic prune` frees their data. The repository's lock is held throughout.
"""

from __future__ import annotations

import logging

from drorch.actions.context import ActionResult, RunContext
from drorch.catalog import RunStatus
from drorch.config.model import Retention
from drorch.errors import ResticError, UsageError
from drorch.locks import repository_lock_name, resource_lock
from drorch.restic import Repo
from drorch.restic.commands import restic_duration
from drorch.targets import Capability, open_target

log = logging.getLogger(__name__)

COUNTS = ("hourly", "daily", "weekly", "monthly", "yearly")


def describe_retention(retention: Retention) -> dict[str, int | str]:
    """The keep rules in force, as restic is told them (keep-within in its own units)."""
    rules: dict[str, int | str] = {
        period: getattr(retention, period) for period in COUNTS if getattr(retention, period)
    }
    if retention.within is not None:
        rules["within"] = restic_duration(retention.within)
    return rules


def run_prune(ctx: RunContext) -> ActionResult:
    name = ctx.job.snapshot.target
    target = open_target(name, ctx.config)
    target.require(Capability.PRUNE)
    retention = ctx.config.policy_of(ctx.job).retention
    rules = describe_retention(retention)
    if not rules:
        raise UsageError(
            f"job {ctx.job_name}: policy {ctx.job.policy!r} has no retention (hourly, daily, "
            "weekly, monthly, yearly and within are all unset); refusing to prune, which "
            f"would forget every snapshot: set retention in policies/{ctx.job.policy}.yaml"
        )
    log.info("forget and prune of job %s on %s, keeping %s", ctx.job_name, name, rules)
    with (
        resource_lock(
            ctx.catalog,
            repository_lock_name(name),
            purpose=f"prune of job {ctx.job_name} on {name}",
            run_id=ctx.run_id,
        ),
        target.open_for_reading(ctx.catalog, ctx.restic) as repo,
    ):
        target.remove_stale_locks(ctx.restic)  # restic's lock is exclusive: a stale one blocks
        try:
            groups = ctx.restic.forget(
                repo,
                tags=(f"job:{ctx.job_name}",),
                keep_hourly=retention.hourly,
                keep_daily=retention.daily,
                keep_weekly=retention.weekly,
                keep_monthly=retention.monthly,
                keep_yearly=retention.yearly,
                keep_within=retention.within,
                dry_run=ctx.dry_run,
            )
        except ResticError:
            if not ctx.dry_run:
                _reconcile(ctx, name, repo)
            raise
        removed = [snapshot.id for group in groups for snapshot in group.remove]
        kept = sum(len(group.keep) for group in groups)
        if not ctx.dry_run:
            # restic has forgotten them: the catalog follows before prune, which may fail.
            ctx.catalog.remove_snapshots(target=name, snapshot_ids=removed)
            ctx.restic.prune(repo)
    total = kept + len(removed)
    summary = (
        f"would forget {len(removed)} of {total} snapshots (dry run)"
        if ctx.dry_run
        else f"forgot {len(removed)} of {total} snapshots, pruned"
    )
    return ActionResult(
        status=RunStatus.SUCCEEDED,
        target=name,
        summary=summary,
        details={
            "removed": removed,
            "kept": kept,
            "retention": rules,
            "dry_run": ctx.dry_run,
        },
    )


def _reconcile(ctx: RunContext, name: str, repo: Repo) -> None:
    """After a forget that failed partway, drop from the catalog what restic no longer has."""
    try:
        present = {s.id for s in ctx.restic.snapshots(repo, tags=(f"job:{ctx.job_name}",))}
    except ResticError as exc:
        log.error("could not compare the catalog with %s after a failed forget: %s", name, exc)
        return
    gone = [
        s.snapshot_id
        for s in ctx.catalog.snapshots(job=ctx.job_name, target=name)
        if s.snapshot_id not in present
    ]
    if gone:
        ctx.catalog.remove_snapshots(target=name, snapshot_ids=gone)
        log.warning(
            "forget failed partway: %d forgotten snapshot(s) removed from the catalog", len(gone)
        )
