"""restore: an operator's restore of a job's snapshot into a folder.

Refuses `/` and system folders, refuses a non-empty destination unless forced,
and never guesses a snapshot: `latest` (the newest complete one) or an id (prefix) known
to the catalog, a copy's own or its source's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from drorch.actions.context import ActionResult, RunContext
from drorch.catalog import Catalog, RunStatus, SnapshotRecord, SnapshotStatus
from drorch.errors import DestinationNotEmpty, UnknownSnapshot, UsageError
from drorch.targets import Capability, open_target

log = logging.getLogger(__name__)

SYSTEM_DIRS = frozenset(
    Path(p)
    for p in (
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",  # noqa: S108 - a place never to restore into, not a temporary file
        "/usr",
        "/var",
        "/usr/bin",
        "/usr/lib",
        "/usr/local",
        "/usr/sbin",
        "/var/lib",
        "/var/log",
    )
)


# What an operator is told when a snapshot that is not complete is restored.
INCOMPLETE = {
    SnapshotStatus.PARTIAL: "a PARTIAL snapshot lacks the files restic could not read when "
    "it was taken",
    SnapshotStatus.ORPHANED: "an ORPHANED snapshot was written by a run that never finished",
}


@dataclass(frozen=True)
class RestoreOptions:
    to: Path
    snapshot: str = "latest"
    from_target: str | None = None
    includes: tuple[str, ...] = ()
    force: bool = False
    verify: bool = False


def check_destination(to: Path, *, force: bool) -> Path:
    """The resolved destination, or UsageError/DestinationNotEmpty saying why not."""
    resolved = to.expanduser().resolve()
    if resolved in SYSTEM_DIRS:
        raise UsageError(
            f"refusing to restore into {resolved}: it is a system directory; "
            "restore into an empty folder and move what you need"
        )
    if resolved.exists() and not resolved.is_dir():
        raise UsageError(f"restore destination {resolved} exists and is not a directory")
    existing = next(p for p in (resolved, *resolved.parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"restore destination {resolved} cannot be made: {existing} is a file")
    if resolved.is_dir() and any(resolved.iterdir()) and not force:
        raise DestinationNotEmpty(
            f"restore destination {resolved} is not empty; choose an empty "
            "folder or pass --force to restore over its contents"
        )
    return resolved


def find_snapshot(catalog: Catalog, job: str, target: str, wanted: str) -> SnapshotRecord:
    """The snapshot `wanted` names on `target`: `latest` is the newest COMPLETE one (a
    PARTIAL or ORPHANED snapshot lacks files: it is restored only when named); an id, or a
    prefix of 4 or more hex digits, is the snapshot's own id there or, for a copy, its
    source's id, and resolves to the copy on that target."""
    snapshots = catalog.snapshots(job=job, target=target)
    if not snapshots:
        raise UnknownSnapshot(f"job {job!r} has no snapshots on target {target!r}")
    if wanted == "latest":
        complete = [s for s in snapshots if s.complete]
        if complete:
            return complete[-1]
        by_status = ", ".join(
            f"{len(of)} {status.value}: {', '.join(s.short_id for s in of[-3:])}"
            for status in SnapshotStatus
            if (of := [s for s in snapshots if s.status is status])
        )
        raise UnknownSnapshot(
            f"job {job!r} has no complete snapshot on target {target!r} ({by_status}); "
            "to restore what one of them holds, name it with --snapshot ID"
        )
    prefix = wanted.lower()
    matches = [
        s
        for s in snapshots
        if s.snapshot_id.startswith(prefix) or (s.original_id or "").startswith(prefix)
    ]
    if not matches or len(wanted) < 4:
        raise UnknownSnapshot(
            f"no snapshot {wanted!r} of job {job!r} on target {target!r} "
            f"(list them with: drorch snapshots --job {job} --target {target})"
        )
    if len(matches) > 1:
        raise UnknownSnapshot(
            f"snapshot id {wanted!r} is ambiguous on target {target!r}: "
            + ", ".join(describe(m) for m in matches)
        )
    return matches[0]


def describe(snapshot: SnapshotRecord) -> str:
    """1a2b3c4d, or 5e6f7a8b (copy of 1a2b3c4d, PARTIAL)"""
    notes = [f"copy of {snapshot.original_id[:8]}"] if snapshot.original_id else []
    notes += [] if snapshot.complete else [snapshot.status.value]
    return snapshot.short_id + (f" ({', '.join(notes)})" if notes else "")


def run_restore(ctx: RunContext) -> ActionResult:
    options: RestoreOptions = ctx.options
    name = options.from_target or ctx.job.snapshot.target
    target = open_target(name, ctx.config)
    target.require(Capability.RESTORE)
    destination = check_destination(options.to, force=options.force)
    snapshot = find_snapshot(ctx.catalog, ctx.job_name, name, options.snapshot)
    with target.open_for_reading(ctx.catalog, ctx.restic) as repo:
        destination.mkdir(parents=True, exist_ok=True, mode=0o700)
        log.info(
            "restoring snapshot %s of %s from %s into %s",
            snapshot.short_id,
            ctx.job_name,
            name,
            destination,
        )
        ctx.restic.restore(
            repo,
            snapshot.snapshot_id,
            destination,
            includes=options.includes,
            verify=options.verify,
        )
    summary = (
        f"restored snapshot {describe(snapshot)} of {ctx.job_name} from {name} into {destination}"
    )
    if not snapshot.complete:
        summary += f"; {INCOMPLETE[snapshot.status]}"
    return ActionResult(
        status=RunStatus.SUCCEEDED,
        target=name,
        snapshot_id=snapshot.snapshot_id,
        summary=summary,
        details={
            "to": str(destination),
            "includes": list(options.includes),
            "verified": options.verify,
            "snapshot_status": snapshot.status.value,
        },
    )
