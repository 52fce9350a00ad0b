"""What a drorch process finds when it opens the catalog: runs left RUNNING by a process
that is gone, the snapshots they wrote, and the restic locks they left.

Whoever notices first (any command that opens the catalog, the daemon at start and with
its heartbeat) marks such a run INTERRUPTED. A run is interrupted only when its process
is provably gone: no such pid on this host, or the pid now belongs to a process started
later. Looking costs one indexed query; restic is called only for a run found dead: a
snapshot run's repository is searched for the snapshots tagged with it, which are
recorded ORPHANED (listed, never counted as good), and stale restic locks are removed
(drorch.targets.locks).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Collection
from datetime import datetime

from drorch.actions.found import found_snapshot
from drorch.catalog import Catalog, RunRecord, SnapshotRecord, SnapshotStatus
from drorch.catalog.daemon import UP_WITHIN, interrupt_run, running_on
from drorch.catalog.leadership import free_locks_of_run, running_on_dead_nodes
from drorch.config import Config
from drorch.errors import DrorchError
from drorch.process import pid_started_before, process_identity
from drorch.restic import Restic
from drorch.targets import Capability, restic_for, targets_of

log = logging.getLogger(__name__)


def run_process_gone(run: RunRecord) -> bool:
    """Whether the process running `run` is gone: no process of its pid and identity (boot
    id and start ticks, which a step of the wall clock does not move). A run recorded
    before identities were (catalog revision 0014): no process with its pid started before
    the run (or, for a runbook run taken over by `resume`, before it claimed it)."""
    if run.process is not None:
        return run.pid is None or process_identity(run.pid) != run.process
    claimed = (run.details or {}).get("claimed_at")
    since = datetime.fromisoformat(claimed) if claimed else (run.started_at or run.created_at)
    return not pid_started_before(run.pid, since.timestamp())


def recovery_restic(config: Config) -> Restic:
    """restic as recovery uses it: short calls, and stale locks removed when met."""
    return restic_for(config, timeout=120)


def notice_dead_runs(
    config: Config, catalog: Catalog, *, noticed_by: str, running_here: Collection[str] = ()
) -> list[RunRecord]:
    """Mark INTERRUPTED the runs of this host whose process is gone; record the snapshots
    they wrote as ORPHANED and remove the restic locks they left. Returns the runs this
    process marked (another one may have been first).

    `running_here`: the "job:action" keys this very process is running now (the daemon's).
    A run of this process under one of them is alive, whatever the clock says: the
    pid-reuse guard compares the process's start with the run's, and a wall clock stepped
    back since makes the daemon look younger than the run it is running."""
    me = os.getpid()
    dead = [
        run
        for run in running_on(catalog, socket.gethostname())
        if not (run.pid == me and f"{run.job}:{run.action}" in running_here)
        and run_process_gone(run)
    ]
    return _interrupt(
        config,
        catalog,
        dead,
        lambda run: f"the process running it (pid {run.pid}) ended without finishing it",
        noticed_by,
    )


def notice_dead_nodes(config: Config, catalog: Catalog, *, leader: str) -> list[RunRecord]:
    """The leader's look at the other nodes: mark INTERRUPTED the runs of a node whose
    heartbeat stopped (UP_WITHIN), and free the catalog locks they held (their leases would
    keep them for minutes). Restic locks of another host are left to restic's own staleness
    rule (this host cannot tell whether that process is gone)."""
    dead = running_on_dead_nodes(catalog, silent_for=UP_WITHIN, me=leader)
    interrupted = _interrupt(
        config,
        catalog,
        dead,
        lambda run: f"its node {run.node} stopped sending heartbeats (none for {UP_WITHIN})",
        f"the leader {leader}",
    )
    for run in interrupted:
        free_locks_of_run(catalog, run.id)
    return interrupted


def _interrupt(
    config: Config,
    catalog: Catalog,
    dead: list[RunRecord],
    why: Callable[[RunRecord], str],
    noticed_by: str,
) -> list[RunRecord]:
    if not dead:
        return []
    restic = recovery_restic(config)
    interrupted = []
    for run in dead:
        orphans, outcome = _snapshots_left(config, catalog, restic, run)
        record = interrupt_run(
            catalog,
            run.id,
            error=f"interrupted: {why(run)}; found by {noticed_by}{outcome}",
            orphans=orphans,
        )
        if record is not None:
            log.warning(
                "run %d (%s of %s, pid %s) was left running: %s; marked INTERRUPTED%s",
                run.id,
                run.action,
                run.job,
                run.pid,
                why(run),
                outcome,
            )
            interrupted.append(record)
    if interrupted:
        try:
            remove_stale_restic_locks(config, restic)
        except DrorchError as exc:
            log.error("could not look for stale restic locks: %s", exc)
    return interrupted


def _snapshots_left(
    config: Config, catalog: Catalog, restic: Restic, run: RunRecord
) -> tuple[list[SnapshotRecord], str]:
    """The snapshots a dead snapshot run wrote that the catalog lacks, and what to say of
    them in its error. One `restic snapshots --tag` call."""
    if run.action != "snapshot" or run.target is None or run.job is None:
        return [], ""
    target = targets_of(config).get(run.target)
    if target is None or not target.can(Capability.SNAPSHOT):
        return [], f"; its target {run.target!r} no longer takes snapshots, not searched"
    try:
        found = target.snapshots_of_run(restic, run.job, run.id)
    except DrorchError as exc:
        log.error("run %d: cannot look for the snapshots it wrote: %s", run.id, exc)
        return [], (
            f"; could not look for snapshots it may have written to target {run.target!r}: {exc}"
        )
    known = {s.snapshot_id for s in catalog.snapshots(job=run.job, target=run.target)}
    orphans = [
        found_snapshot(run.job, run.target, info, status=SnapshotStatus.ORPHANED, run_id=run.id)
        for info in found
        if info.id not in known
    ]
    recorded = [info.id[:8] for info in found if info.id in known]
    said = []
    if orphans:
        ids = ", ".join(s.short_id for s in orphans)
        said.append(
            f"snapshot {ids} it wrote is listed as ORPHANED"
            if len(orphans) == 1
            else f"snapshots {ids} it wrote are listed as ORPHANED"
        )
    if recorded:
        said.append(f"it had recorded snapshot {', '.join(recorded)}")
    return orphans, ("; " + "; ".join(said)) if said else "; it wrote no snapshot"


def remove_stale_restic_locks(config: Config, restic: Restic) -> list[str]:
    """Remove, in every target's repository, the restic locks that name this host and a
    process that is gone; return their ids."""
    removed: list[str] = []
    for target in targets_of(config).values():
        removed += target.remove_stale_locks(restic)
    return removed
