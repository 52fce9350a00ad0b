"""restore-test: prove a copy can be restored, and keep the proof.

Chooses a copy (rotating through the job's `restore_test.from`) and a snapshot (latest,
or a random retained one with the seed recorded); restores it into a fresh scratch
folder under the state dir (after checking free space), verifies it (restic's own
--verify, then drorch.actions.verification: the canary byte for byte, file count and
bytes against `restic ls`, the job's command checks), times it, projects the full
restore time against the policy's RTO, records the result as evidence, and always removes
the scratch folder. A failed test is a FAILED run and evidence too.

The listing's `restic ls` runs while restic restores (it needs only the snapshot id), and
the scratch folder goes as soon as the checks are done, before the evidence is assembled:
a restored tree left standing is being written back to disk, which makes removing it
slower by the second.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import random
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from drorch import __version__
from drorch.actions.context import ActionResult, RunContext
from drorch.actions.evidence import record_evidence
from drorch.actions.restore import find_snapshot
from drorch.actions.verification import Check, PendingListing, verify_restored
from drorch.catalog import RunStatus, SnapshotRecord
from drorch.config.units import format_size
from drorch.errors import DrorchError, UnknownSnapshot
from drorch.restic import Repo, Restic
from drorch.targets import Capability, free_bytes, open_target

log = logging.getLogger(__name__)

SCRATCH = "scratch"
EVIDENCE_CODE = "drorch.evidence.log"  # what record_evidence imports
SPACE_MARGIN = 1.10  # restore needs the snapshot's size, and some room to spare
# Files unlinked at once when a restored tree is removed: an unlink waits for the file's
# pages the kernel is writing back, and with several in flight those waits overlap
# (measured on 300 MiB in 3,000 files: about 0.25 s every time, against 0.3-7 s one by
# one whenever writeback had begun, e.g. after another process's sync).
REMOVERS = 8


@dataclass(frozen=True)
class RestoreTestOptions:
    from_target: str | None = None
    snapshot: str | None = None


@dataclass
class Timings:
    phases: dict[str, float] = field(default_factory=dict)

    def measure(self, phase: str, started: float) -> None:
        self.phases[phase] = round(time.monotonic() - started, 3)


def scratch_root(state_dir: Path) -> Path:
    return state_dir / SCRATCH


def remove_leftover_scratch(state_dir: Path) -> list[Path]:
    """Scratch folders a killed test left behind; removed at daemon start."""
    root = scratch_root(state_dir)
    if not root.is_dir():
        return []
    leftovers = [p for p in root.iterdir() if p.name.startswith("restore-test-")]
    for path in leftovers:
        if remove_tree(path):
            log.warning("removed scratch folder %s left by an interrupted restore test", path)
        else:
            log.error("could not remove scratch folder %s left by a restore test", path)
    return leftovers


def remove_tree(path: Path) -> bool:
    """Remove a restored tree, even one with read-only folders (as restored from a
    snapshot); True when it is gone.

    Its files are unlinked REMOVERS at a time, then its folders bottom-up; what that
    leaves (files in read-only folders) goes by shutil.rmtree, which makes folders
    writable as it meets them. No symlink is followed: the tree is scanned with
    follow_symlinks=False and a symlink is unlinked as a file. The tree is the run's own,
    in a 0700 folder, so nothing swaps a folder for a symlink under the scan.
    """

    def writable_and_retry(function: Any, failed: str, _exc: Any) -> None:
        for folder in (Path(failed).parent, Path(failed)):
            with contextlib.suppress(OSError):
                if folder.is_dir() and not folder.is_symlink():
                    folder.chmod(0o700)
        with contextlib.suppress(OSError):
            function(failed)

    if path.is_dir() and not path.is_symlink():
        folders, files = _tree_contents(path)
        removers = [
            threading.Thread(target=_unlink_if_allowed, args=(files[n::REMOVERS],), name="remove")
            for n in range(min(REMOVERS, len(files)))
        ]
        for remover in removers:
            remover.start()
        for remover in removers:
            remover.join()
        for folder in reversed(folders):  # a folder after its subfolders
            with contextlib.suppress(OSError):
                os.rmdir(folder)
    if path.exists():
        shutil.rmtree(path, onerror=writable_and_retry)
    return not path.exists()


def _tree_contents(root: Path) -> tuple[list[str], list[str]]:
    """The folders (parents first) and the other entries under root, symlinks not
    followed; a folder that cannot be read is left to the caller's fallback."""
    folders: list[str] = []
    files: list[str] = []
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        folders.append(folder)
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    is_folder = entry.is_dir(follow_symlinks=False)
                    (pending if is_folder else files).append(entry.path)
        except OSError:
            continue
    return folders, files


def _unlink_if_allowed(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):  # a read-only folder's file: the fallback's
            os.unlink(path)


def choose_source(ctx: RunContext, options: RestoreTestOptions) -> tuple[str, int]:
    """The copy to test: given, or the next in the job's rotation; and its rotation index."""
    spec = ctx.job.restore_test
    rotation = list(spec.from_) if spec and spec.from_ else [ctx.job.snapshot.target]
    if options.from_target:
        return options.from_target, -1
    earlier = len(ctx.catalog.runs(job=ctx.job_name, action="restore-test")) - 1
    index = earlier % len(rotation)
    return rotation[index], index


def choose_snapshot(
    ctx: RunContext, target: str, options: RestoreTestOptions
) -> tuple[SnapshotRecord, int | None]:
    """latest, a given id, or a random retained complete one (its seed returned, for the
    record). A PARTIAL or ORPHANED snapshot is tested only when named: a test that passed on
    one would prove a restore of data the job does not fully hold."""
    spec = ctx.job.restore_test
    if options.snapshot:
        return find_snapshot(ctx.catalog, ctx.job_name, target, options.snapshot), None
    if spec is not None and spec.snapshot == "random":
        snapshots = [
            s for s in ctx.catalog.snapshots(job=ctx.job_name, target=target) if s.complete
        ]
        if not snapshots:
            raise UnknownSnapshot(
                f"job {ctx.job_name!r} has no complete snapshot on target {target!r}"
            )
        seed = secrets.randbits(63)
        return random.Random(seed).choice(snapshots), seed  # noqa: S311 - choice, not secret
    return find_snapshot(ctx.catalog, ctx.job_name, target, "latest"), None


def run_restore_test(ctx: RunContext) -> ActionResult:
    options: RestoreTestOptions = ctx.options or RestoreTestOptions()
    policy = ctx.config.policy_of(ctx.job)
    name, rotation_index = choose_source(ctx, options)
    target = open_target(name, ctx.config)
    record: dict[str, Any] = {
        "job": ctx.job_name,
        "policy": ctx.job.policy,
        "actor": ctx.actor,
        "run": ctx.run_id,
        "target": {"name": name, "site": target.site, "jurisdiction": target.jurisdiction},
        "selection": {"rotation_index": rotation_index},
    }
    timings = Timings()
    checks: list[Check] = []
    scratch = scratch_root(ctx.config.state_dir) / f"restore-test-{ctx.run_id}"
    # A cache of its own, empty: restic's usual one holds index and tree files it read
    # before, which would hide their damage in the repository; a restore after a disaster
    # has no cache either.
    cold = replace(ctx.restic, cache_dir=scratch.with_name(f"{scratch.name}-cache"))
    try:
        target.require(Capability.RESTORE_TEST)
        snapshot, seed = choose_snapshot(ctx, name, options)
        record["snapshot"] = {
            "id": snapshot.snapshot_id,
            "time": _iso(snapshot),
            "size": snapshot.size,
            "files": snapshot.files,
            "status": snapshot.status.value,  # a test of a PARTIAL one proves no RPO
        }
        record["selection"]["seed"] = seed
        staging = time.monotonic()
        with target.open_for_reading(ctx.catalog, ctx.restic) as repo:
            timings.measure("stage", staging)  # a tape target reads its cartridges here
            _check_space(scratch, snapshot)
            checks = _restore_and_verify(ctx, cold, repo, snapshot, scratch, timings)
    except DrorchError as exc:
        checks.append(Check("restore", False, str(exc)))
    finally:
        removing = time.monotonic()
        removed = remove_tree(scratch)
        if cold.cache_dir is not None:
            removed = remove_tree(cold.cache_dir) and removed
        timings.measure("cleanup", removing)
        if not removed:
            checks.append(
                Check(
                    "cleanup",
                    False,
                    f"scratch folder {scratch} could not be removed; remove it by hand",
                )
            )
    passed = bool(checks) and all(c.passed for c in checks)
    restored = record.get("snapshot", {}).get("size") or 0
    restore_s = timings.phases.get("restore")
    throughput = restored / restore_s if restore_s and restored else None
    projected = (restored / throughput + timings.phases.get("stage", 0.0)) if throughput else None
    rto_s = int(policy.rto.total_seconds())
    record.update(
        {
            "checks": [c.as_dict() for c in checks],
            "result": "pass" if passed else "fail",
            "reasons": [f"{c.name}: {c.detail}" for c in checks if not c.passed],
            "durations_s": timings.phases,
            "throughput_bytes_per_s": int(throughput) if throughput else None,
            "rto": {
                "target_s": rto_s,
                "projected_s": round(projected, 3) if projected is not None else None,
                "within": projected is not None and projected <= rto_s,
            },
            "versions": {"drorch": __version__, "restic": str(ctx.restic.version())},
            "artifacts": _hash_artifacts(ctx.run_dir),
        }
    )
    status = RunStatus.SUCCEEDED if passed else RunStatus.FAILED
    error = "; ".join(record["reasons"]) or None
    try:
        seq: int | None = record_evidence(ctx, "restore-test", record)
    except DrorchError as exc:  # an unprovable test is not a passed test
        seq, status = None, RunStatus.FAILED
        error = "; ".join(
            filter(None, [error, f"the result could not be recorded as evidence: {exc}"])
        )
    failed = [c for c in checks if not c.passed]
    tested = record.get("snapshot", {})
    kind = "" if tested.get("status", "COMPLETE") == "COMPLETE" else f" ({tested['status']})"
    summary = (
        f"restore test of {tested.get('id', '?')[:8]}{kind} from {name}: "
        f"{'pass' if passed else 'FAIL'} ({len(checks) - len(failed)}/{len(checks)} "
        "checks)"
    )
    if projected is not None:
        summary += f", projected full restore {projected:.1f}s vs RTO {rto_s}s"
    if seq is not None:
        summary += f"; evidence #{seq}"
    return ActionResult(
        status=status,
        target=name,
        snapshot_id=record.get("snapshot", {}).get("id"),
        summary=summary,
        error=error,
        details={"evidence": record, "evidence_seq": seq},
    )


def _iso(snapshot: SnapshotRecord) -> str:
    return snapshot.time.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_space(scratch: Path, snapshot: SnapshotRecord) -> None:
    scratch.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if scratch.exists():
        raise DrorchError(f"scratch folder {scratch} already exists; refusing to restore over it")
    need = int((snapshot.size or 0) * SPACE_MARGIN)
    free = free_bytes(scratch.parent)
    if free < need:
        raise DrorchError(
            f"scratch space too small at {scratch.parent}: the snapshot needs "
            f"{format_size(need)} and {format_size(free)} is free"
        )


def _restore_and_verify(
    ctx: RunContext,
    restic: Restic,
    repo: Repo,
    snapshot: SnapshotRecord,
    scratch: Path,
    timings: Timings,
) -> list[Check]:
    spec = ctx.job.restore_test
    wanted = spec.verify if spec else ("restic", "canary", "listing")
    scratch.mkdir(mode=0o700)
    _import_in_background(EVIDENCE_CODE)
    listing = PendingListing(restic, repo, snapshot.snapshot_id) if "listing" in wanted else None
    try:
        started = time.monotonic()
        try:
            restic.restore(repo, snapshot.snapshot_id, scratch, verify=True)
        except DrorchError as exc:
            timings.measure("restore", started)
            return [Check("restic", False, str(exc))]
        timings.measure("restore", started)
        checks = []
        if "restic" in wanted:
            checks.append(Check("restic", True, "restic restore --verify found no errors"))
        started = time.monotonic()
        checks += verify_restored(restic, repo, snapshot, scratch, wanted, listing=listing)
        timings.measure("verify", started)
        return checks
    finally:
        if listing is not None:  # a failed restore leaves it running: stop it
            listing.close()


def _import_in_background(module: str) -> threading.Thread:
    """Import `module` in a thread, while this one only waits for restic: the evidence
    log's code (cryptography, the Merkle tree: about 45 ms here) is imported lazily, and
    would otherwise be imported between the removal of the scratch folder and the append.
    A module half imported by the thread is finished, not imported twice, by whoever
    imports it next (Python's per-module import lock); a failure is left for that import
    to raise."""

    def load() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module(module)

    thread = threading.Thread(target=load, name=f"import {module}", daemon=True)
    thread.start()
    return thread


def _hash_artifacts(run_dir: Path) -> dict[str, str]:
    if not run_dir.is_dir():
        return {}
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.iterdir())
        if p.is_file()
    }
