"""check: verify the integrity of a job's primary repository with `restic check`.

With `read_data_subset`, each check reads one part of the pack data, in turn, so that N
checks read the whole repository: "n/N" reads part n first (as restic would), then n+1,
and so on round; "p%" is N = floor(100/p) parts, each at least the p% asked. A size
("500MiB") is a random subset of that size. The config accepts only shares that read
something and at most everything (0 < p <= 100, 1 <= n <= N, a size > 0). Damage fails
the run with restic's own words. The repository's lock is held throughout.
"""

from __future__ import annotations

import logging
import math

from drorch.actions.context import ActionResult, RunContext
from drorch.catalog import RunStatus
from drorch.config.units import parse_data_subset
from drorch.errors import UsageError
from drorch.locks import repository_lock_name, resource_lock
from drorch.restic.commands import restic_size
from drorch.targets import Capability, open_target

log = logging.getLogger(__name__)


def rotating_subset(read_data_subset: str | None, earlier_checks: int) -> str | None:
    """The subset this check reads: the part due after `earlier_checks` checks, or a size."""
    if not read_data_subset:
        return None
    try:
        subset = parse_data_subset(read_data_subset)
    except ValueError as exc:  # the config refuses it first; a model built in code may not
        raise UsageError(f"read_data_subset {read_data_subset!r}: {exc}") from exc
    if subset.size is not None:  # restic reads a random subset of that size, in its units
        return restic_size(subset.size)
    if subset.percent is not None:
        first, parts = 1, math.floor(100 / subset.percent)
    else:
        first, parts = subset.n, subset.parts
    return f"{(first - 1 + earlier_checks) % parts + 1}/{parts}"


def run_check(ctx: RunContext) -> ActionResult:
    name = ctx.job.snapshot.target
    target = open_target(name, ctx.config)
    target.require(Capability.CHECK)
    earlier = ctx.catalog.runs(
        job=ctx.job_name, action="check", status=(RunStatus.SUCCEEDED, RunStatus.FAILED)
    )
    configured = ctx.job.check.read_data_subset if ctx.job.check else None
    subset = rotating_subset(configured, len(earlier))
    log.info("check of %s%s", name, f", reading data subset {subset}" if subset else " (structure)")
    with (
        resource_lock(
            ctx.catalog,
            repository_lock_name(name),
            purpose=f"check of {name} for job {ctx.job_name}",
            run_id=ctx.run_id,
        ),
        target.open_for_reading(ctx.catalog, ctx.restic) as repo,
    ):
        target.remove_stale_locks(ctx.restic)  # restic's lock is exclusive: a stale one blocks
        ctx.restic.check(repo, read_data_subset=subset)
    return ActionResult(
        status=RunStatus.SUCCEEDED,
        target=name,
        summary=f"no errors in {name}" + (f" (read data subset {subset})" if subset else ""),
        details={"read_data_subset": subset},
    )
