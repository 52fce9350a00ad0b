"""check: verify the integrity of a job's primary repository with `restic check`.

With `read_data_subset`, each check reads one part of the pack data, in turn: "k/N" and
"p%" (N = 100/p) become n/N with n rotating over the job's earlier checks, so that N runs
read the whole repository. A size ("500MiB") is a random subset of that size. Damage
fails the run with restic's own words. The repository's lock is held throughout.
"""

from __future__ import annotations

import logging
import re

from drorch.actions.context import ActionResult, RunContext
from drorch.catalog import RunStatus
from drorch.config.model import DiskTarget
from drorch.config.units import parse_size
from drorch.errors import TargetOffline, UsageError
from drorch.locks import repository_lock_name, resource_lock
from drorch.restic.commands import restic_size
from drorch.targets import open_disk_repository, remove_stale_locks

log = logging.getLogger(__name__)

_PART = re.compile(r"\s*\d+\s*/\s*(\d+)\s*")
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")


def rotating_subset(read_data_subset: str | None, earlier_checks: int) -> str | None:
    """The subset this check reads: part n of N after `earlier_checks` checks, or a size."""
    if not read_data_subset:
        return None
    part, percent = _PART.fullmatch(read_data_subset), _PERCENT.fullmatch(read_data_subset)
    if part:
        parts = int(part.group(1))
    elif percent:
        share = float(percent.group(1))
        parts = max(1, round(100 / share)) if share > 0 else 0
    else:  # a size: restic reads a random subset of that size, written in its own units
        size = parse_size(read_data_subset)
        if size <= 0:
            raise UsageError(f"read_data_subset {read_data_subset!r} reads nothing")
        return restic_size(size)
    if parts < 1:
        raise UsageError(f"read_data_subset {read_data_subset!r} reads nothing")
    return f"{earlier_checks % parts + 1}/{parts}"


def run_check(ctx: RunContext) -> ActionResult:
    name = ctx.job.snapshot.target
    target = ctx.config.target(name)
    if not isinstance(target, DiskTarget):
        raise TargetOffline(f"target {name!r} is {target.kind}; check works on a disk target")
    earlier = ctx.catalog.runs(
        job=ctx.job_name, action="check", status=(RunStatus.SUCCEEDED, RunStatus.FAILED)
    )
    configured = ctx.job.check.read_data_subset if ctx.job.check else None
    subset = rotating_subset(configured, len(earlier))
    log.info("check of %s%s", name, f", reading data subset {subset}" if subset else " (structure)")
    with resource_lock(
        ctx.catalog,
        repository_lock_name(name),
        purpose=f"check of {name} for job {ctx.job_name}",
        run_id=ctx.run_id,
    ):
        repo = open_disk_repository(name, target, ctx.catalog, ctx.restic, create=False)
        remove_stale_locks(repo, ctx.restic)  # restic's lock is exclusive: a stale one blocks
        ctx.restic.check(repo, read_data_subset=subset)
    return ActionResult(
        status=RunStatus.SUCCEEDED,
        target=name,
        summary=f"no errors in {name}" + (f" (read data subset {subset})" if subset else ""),
        details={"read_data_subset": subset},
    )
