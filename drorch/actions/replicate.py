"""replicate: copy a job's snapshots from its primary disk target to another target.

The destination must lie inside the policy's residency (checked again here, in case the
config changed since `validate`). It is initialised once with the source's chunker
parameters, so copies deduplicate; an offline destination is never recreated. restic
copy copies only what the destination lacks; afterwards each destination snapshot is
mapped to its source (restic's `original`) and must carry the same tree. The destination
then finishes the write its own way (a tape target writes its staging repository's new
files to cartridges and verifies them) before any copy is recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drorch.action_key import replicate_key
from drorch.actions.check import rotating_subset
from drorch.actions.context import ActionResult, RunContext
from drorch.actions.evidence import record_evidence
from drorch.actions.found import found_snapshot
from drorch.catalog import Catalog, RunStatus, SnapshotStatus
from drorch.errors import DrorchError, ResidencyViolation, ResticError, TargetOffline
from drorch.restic import SnapshotInfo
from drorch.targets import Capability, open_target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplicateOptions:
    to: str


def run_replicate(ctx: RunContext) -> ActionResult:
    options: ReplicateOptions = ctx.options
    job, name = ctx.job, options.to
    spec = next((r for r in job.replicate if r.to == name), None)
    if spec is None:
        raise TargetOffline(f"job {ctx.job_name} does not replicate to {name!r}")
    source_name = job.snapshot.target
    source_target, dest_target = open_target(source_name, ctx.config), open_target(name, ctx.config)
    policy = ctx.config.policy_of(job)
    if dest_target.jurisdiction not in policy.residency:
        raise ResidencyViolation(
            f"job {ctx.job_name}: target {name!r} is in jurisdiction {dest_target.jurisdiction},"
            f" outside policy {job.policy!r} residency ({', '.join(policy.residency)}); "
            "refusing to copy"
        )
    dest_target.require(Capability.RECEIVE)
    source_target.require(Capability.SNAPSHOT)
    tag = f"job:{ctx.job_name}"
    with source_target.open_for_reading(ctx.catalog, ctx.restic) as source:
        dest = dest_target.open_for_writing(
            ctx.catalog, ctx.restic, managed_roots=ctx.managed_roots, chunker_from=source
        )
        log.info(
            "copying %s snapshots from %s to %s (%s, %s)",
            ctx.job_name,
            source_name,
            name,
            dest_target.site,
            dest_target.jurisdiction,
        )
        ctx.restic.copy(
            dest,
            source,
            tags=(tag,),
            what=f"copy of job {ctx.job_name} from {source_name} to {name}",
        )
        originals = {s.id: s for s in ctx.restic.snapshots(source, tags=(tag,))}
    copies = ctx.restic.snapshots(dest, tags=(tag,))
    subset = None
    if spec.verify_read_subset:  # before anything is recorded as a good copy
        earlier = len(ctx.catalog.runs(job=ctx.job_name, action=replicate_key(name))) - 1
        subset = rotating_subset(spec.verify_read_subset, earlier)
        ctx.restic.check(dest, read_data_subset=subset)
    # a tape target writes the copy to cartridges and reads it back: only then is it a copy
    written = dest_target.finish_writing(ctx.catalog, ctx.restic, dest, run_id=ctx.run_id)
    new = record_copies(ctx.catalog, ctx.job_name, name, originals, copies)
    held = sum(1 for c in copies if c.original in originals)
    proof = {
        "job": ctx.job_name,
        "policy": job.policy,
        "actor": ctx.actor,
        "run": ctx.run_id,
        "from": {
            "name": source_name,
            "site": source_target.site,
            "jurisdiction": source_target.jurisdiction,
        },
        "target": {
            "name": name,
            "site": dest_target.site,
            "jurisdiction": dest_target.jurisdiction,
        },
        "copied": [{"id": c.id, "original": c.original, "tree": c.tree} for c in new],
        "held": held,
        "verified_read_subset": subset,
        **({"written": written} if written else {}),
        "result": "pass",
    }
    try:
        seq: int | None = record_evidence(ctx, "replication", proof)
    except DrorchError as exc:
        log.error("replication done, but not recorded as evidence: %s", exc)
        seq = None
    return ActionResult(
        status=RunStatus.SUCCEEDED,
        target=name,
        summary=f"copied {len(new)} new snapshot(s) to {name} ({dest_target.site}, "
        f"{dest_target.jurisdiction}); it holds {held} of {len(originals)}",
        details={
            "to": name,
            "site": dest_target.site,
            "jurisdiction": dest_target.jurisdiction,
            "from": source_name,
            "copied": [c.id for c in new],
            "verified_read_subset": subset,
            **({"written": written} if written else {}),
            "evidence_seq": seq,
        },
    )


def record_copies(
    catalog: Catalog,
    job: str,
    target: str,
    originals: dict[str, SnapshotInfo],
    copies: list[SnapshotInfo],
) -> list[SnapshotInfo]:
    """Record the copies the catalog does not know yet; a copy whose tree differs from its
    source's is an error, never recorded as a good copy. A copy has its original's status
    (a copy of a PARTIAL snapshot is PARTIAL); the copy of a snapshot the catalog does not
    know (its run never recorded it) is ORPHANED, never taken for complete."""
    known = {s.snapshot_id for s in catalog.snapshots(job=job, target=target)}
    sizes = {s.snapshot_id: s for s in catalog.snapshots(job=job)}
    new = []
    for copy in copies:
        if copy.id in known:
            continue
        source = originals.get(copy.original or "")
        if source is None:
            continue  # its source was forgotten (prune): the copy stands on its own
        if source.tree != copy.tree:
            raise ResticError(
                f"copy {copy.short_id} on {target} has tree {copy.tree[:8]}, "
                f"its source {source.short_id} has {source.tree[:8]}"
            )
        origin = sizes.get(source.id)
        catalog.record_snapshot(
            found_snapshot(
                job,
                target,
                copy,
                status=origin.status if origin else SnapshotStatus.ORPHANED,
                original_id=source.id,
                origin=origin,
            )
        )
        new.append(copy)
    return new
