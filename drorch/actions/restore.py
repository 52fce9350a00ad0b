"""restore: an operator's restore of a job's snapshot into a folder.

Refuses `/` and system folders, refuses a non-empty destination unless told to replace
it, and never guesses a snapshot: `latest` (the newest complete one), an id (prefix) known
to the catalog, a copy's own or its source's, or the newest complete one as of a time.

A restore is atomic for whoever looks at the destination: restic writes into a hidden
folder beside it, which is renamed onto the destination only once restic succeeded.
Whatever stops it (restic failing, SIGTERM, Ctrl-C) removes that folder: nothing
half-restored is ever found where the restore was meant to be. An operator's folder that
is replaced is moved aside, never deleted.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from drorch.actions.context import ActionResult, RunContext
from drorch.actions.restore_progress import DEFAULT_INTERVAL, ProgressPoller, RestoreProgress
from drorch.catalog import Catalog, RunStatus, SnapshotRecord, SnapshotStatus
from drorch.errors import DestinationNotEmpty, UnknownSnapshot, UsageError
from drorch.restic import Restic
from drorch.restic.commands import Repo
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
    force: bool = False  # replace a non-empty destination, keeping its contents aside
    verify: bool = False
    on_progress: Callable[[RestoreProgress], None] | None = field(default=None, compare=False)


def check_destination(to: Path, *, force: bool) -> Path:
    """The resolved destination, or UsageError/DestinationNotEmpty saying why not."""
    given = to.expanduser()
    resolved = given.resolve()
    if resolved in SYSTEM_DIRS:
        # A link is named as well: the operator typed its name, not the folder's.
        lexical = Path(os.path.normpath(given.absolute()))
        through = "" if lexical == resolved else f" ({given} leads there through a symbolic link)"
        raise UsageError(
            f"refusing to restore into {resolved}: it is a system directory{through}; "
            "restore into an empty folder and move what you need"
        )
    if resolved.exists() and not resolved.is_dir():
        raise UsageError(f"restore destination {resolved} exists and is not a directory")
    existing = next(p for p in (resolved, *resolved.parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"restore destination {resolved} cannot be made: {existing} is a file")
    if resolved.is_dir() and any(resolved.iterdir()) and not force:
        raise DestinationNotEmpty(
            f"restore destination {resolved} is not empty; choose an empty folder, or "
            "pass --force to restore in its place (its contents are moved aside, not deleted)"
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


def find_snapshot_as_of(catalog: Catalog, job: str, target: str, as_of: datetime) -> SnapshotRecord:
    """The newest COMPLETE snapshot of `job` on `target` taken at or before `as_of` (an
    aware time): what the data looked like then, as well as a backup can tell. A PARTIAL
    or ORPHANED one is never chosen by time, as `latest` never chooses one."""
    if as_of.tzinfo is None:
        raise UsageError(
            f"as-of time {as_of.isoformat()} has no time zone; write it in UTC with a Z "
            "(2026-03-01T12:00:00Z) or with an offset"
        )
    complete = [s for s in catalog.snapshots(job=job, target=target) if s.complete]
    chosen = [s for s in complete if s.time <= as_of]
    if chosen:
        return chosen[-1]
    asked = f"taken at or before {utc_text(as_of)}"
    if not complete:
        raise UnknownSnapshot(
            f"job {job!r} has no complete snapshot on target {target!r}, none {asked} "
            f"(list them with: drorch snapshots --job {job} --target {target})"
        )
    oldest = complete[0]
    raise UnknownSnapshot(
        f"job {job!r} has no complete snapshot on target {target!r} {asked}; the oldest "
        f"there is {oldest.short_id} of {utc_text(oldest.time)}: choose a later time, or "
        "another target that keeps older snapshots"
    )


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(snapshot: SnapshotRecord) -> str:
    """1a2b3c4d, or 5e6f7a8b (copy of 1a2b3c4d, PARTIAL)"""
    notes = [f"copy of {snapshot.original_id[:8]}"] if snapshot.original_id else []
    notes += [] if snapshot.complete else [snapshot.status.value]
    return snapshot.short_id + (f" ({', '.join(notes)})" if notes else "")


# What a caller's tag may be: it becomes part of two folder names beside the destination.
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Restored:
    """What restore_into did: the destination, now complete, and what it measured."""

    folder: Path  # the destination, now complete
    kept: Path | None  # where the destination's earlier contents were moved (overwrite)
    bytes: int  # regular-file bytes restored
    files: int  # regular files restored
    seconds: float  # wall time of restic restore


def partial_folder(destination: Path, tag: str) -> Path:
    """Where restic writes before the rename: hidden, and beside the destination, so on
    the same filesystem, where a rename is one step."""
    return destination.parent / f".{destination.name}.drorch-partial-{tag}"


def kept_folder(destination: Path, tag: str) -> Path:
    """Where a replaced destination's earlier contents go: beside it, never deleted."""
    return destination.parent / f"{destination.name}.before-{tag}"


def restore_into(
    restic: Restic,
    repo: Repo,
    snapshot: SnapshotRecord,
    destination: Path,
    *,
    tag: str,
    includes: Sequence[str] = (),
    overwrite: bool = False,
    on_progress: Callable[[RestoreProgress], None] | None = None,
    verify: bool = False,
    interval: float = DEFAULT_INTERVAL,
) -> Restored:
    """Restore `snapshot` so that `destination` appears complete, or not at all.

    restic writes into partial_folder(destination, tag), made afresh (a leftover of an
    earlier attempt with the same tag is removed); on success it is renamed onto the
    destination. A non-empty destination is refused before restic runs, unless
    `overwrite`: then it is moved to kept_folder(destination, tag) and Restored.kept says
    so. Any exception, KeyboardInterrupt included, removes the partial folder and goes on.
    `on_progress` is called every `interval` seconds from a thread of its own, and once
    more at the end; if it raises, restic is stopped and the exception is raised here.
    """
    destination = _preflight(destination, tag, overwrite=overwrite)
    partial = partial_folder(destination, tag)
    destination.parent.mkdir(parents=True, exist_ok=True)
    _remove(partial, why="left by an earlier attempt")
    try:
        partial.mkdir(mode=0o700)
        partial.chmod(0o700)  # whatever the umask
        with ProgressPoller(
            partial,
            on_progress,
            bytes_total=None if includes else snapshot.size,
            files_total=None if includes else snapshot.files,
            interval=interval,
            cancel=restic.cancel,
        ) as poller:
            completed = replace(restic, cancel=poller.cancel).restore(
                repo, snapshot.snapshot_id, partial, includes=includes, verify=verify
            )
        # restic's own duration, unless a poll that fell after restic ended reported more
        # (its clock starts before restic does): the last report is never "earlier".
        elapsed = max(completed.duration, poller.reported)
        final = replace(poller.now(), elapsed_s=elapsed)
        if on_progress is not None:
            on_progress(final)
        kept = _place(partial, destination, tag=tag, overwrite=overwrite)
    except BaseException:
        _remove_quietly(partial)
        raise
    return Restored(destination, kept, final.bytes_done, final.files_done, final.elapsed_s)


def _preflight(destination: Path, tag: str, *, overwrite: bool) -> Path:
    """The resolved destination, once everything that can be refused before restic runs
    was: the tag, `/` and system folders, a non-empty folder, a kept folder in the way."""
    if not TAG.fullmatch(tag):
        raise UsageError(
            f"restore tag {tag!r} cannot name a folder: use letters, digits, '.', '_' "
            "and '-', starting with a letter or digit"
        )
    resolved = check_destination(destination, force=overwrite)
    kept = kept_folder(resolved, tag)
    if _has_contents(resolved) and (kept.exists() or kept.is_symlink()):
        raise UsageError(
            f"restore destination {resolved} is to be replaced and its contents moved to "
            f"{kept}, which already exists; move {kept} away first"
        )
    return resolved


def _has_contents(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _place(partial: Path, destination: Path, *, tag: str, overwrite: bool) -> Path | None:
    """Rename the complete restore onto the destination; rename(2) replaces an absent or
    empty folder in one step. A non-empty one is moved aside first (overwrite), and moved
    back if the restore cannot take its place."""
    kept = None
    if _has_contents(destination):
        if not overwrite:
            raise DestinationNotEmpty(
                f"restore destination {destination} was filled while the restore ran; "
                "it was left as it is: restore again into an empty folder"
            )
        kept = kept_folder(destination, tag)
        destination.rename(kept)
        log.info("moved the earlier contents of %s to %s", destination, kept)
    try:
        partial.rename(destination)
    except BaseException:
        if kept is not None:
            kept.rename(destination)
        raise
    return kept


def _remove(folder: Path, *, why: str) -> None:
    """Remove a partial folder of ours, also when restic restored read-only folders in it."""
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
        return
    if not folder.exists():
        return
    log.info("removing %s, %s", folder, why)
    try:
        shutil.rmtree(folder)
    except OSError:
        _make_folders_writable(folder)
        shutil.rmtree(folder)


def _make_folders_writable(top: Path) -> None:
    """u+rwx on every folder below top (top down, so each can be listed when it is
    reached); symlinks are never followed."""
    top.chmod(stat.S_IRWXU)
    for root, folders, _ in os.walk(top):
        for name in folders:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | stat.S_IRWXU)


def discard_partial(destination: Path, tag: str) -> bool:
    """Remove what an attempt tagged `tag` left half restored beside `destination` (its
    process killed before it could); True when something was there."""
    partial = partial_folder(destination, tag)
    if not (partial.exists() or partial.is_symlink()):
        return False
    _remove_quietly(partial)
    return True


def _remove_quietly(partial: Path) -> None:
    """_remove on the way out of a failure, which must not hide the failure itself."""
    try:
        _remove(partial, why="of a restore that did not finish")
    except OSError as exc:
        log.error("could not remove %s: %s; remove it by hand", partial, exc)


def run_restore(ctx: RunContext) -> ActionResult:
    options: RestoreOptions = ctx.options
    name = options.from_target or ctx.job.snapshot.target
    target = open_target(name, ctx.config)
    target.require(Capability.RESTORE)
    destination = check_destination(options.to, force=options.force)
    snapshot = find_snapshot(ctx.catalog, ctx.job_name, name, options.snapshot)
    with target.open_for_reading(ctx.catalog, ctx.restic) as repo:
        log.info(
            "restoring snapshot %s of %s from %s into %s",
            snapshot.short_id,
            ctx.job_name,
            name,
            destination,
        )
        restored = restore_into(
            ctx.restic,
            repo,
            snapshot,
            destination,
            tag=f"run-{ctx.run_id}",
            includes=options.includes,
            overwrite=options.force,
            on_progress=options.on_progress,
            verify=options.verify,
        )
    summary = (
        f"restored snapshot {describe(snapshot)} of {ctx.job_name} from {name} into {destination}"
    )
    if restored.kept is not None:
        summary += f"; its earlier contents are in {restored.kept}"
    if not snapshot.complete:
        summary += f"; {INCOMPLETE[snapshot.status]}"
    return ActionResult(
        status=RunStatus.SUCCEEDED,
        target=name,
        snapshot_id=snapshot.snapshot_id,
        summary=summary,
        bytes_processed=restored.bytes,
        files=restored.files,
        details={
            "to": str(destination),
            "kept": None if restored.kept is None else str(restored.kept),
            "includes": list(options.includes),
            "verified": options.verify,
            "snapshot_status": snapshot.status.value,
            "restore_s": round(restored.seconds, 3),
        },
    )
