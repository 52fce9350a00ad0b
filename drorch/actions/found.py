"""A snapshot restic listed, as the catalog records it: what restic says of it, and what
only the recorder knows (its status, which run wrote it, the original it copies)."""

from __future__ import annotations

from drorch.catalog import SnapshotRecord, SnapshotStatus
from drorch.restic import SnapshotInfo


def found_snapshot(
    job: str,
    target: str,
    info: SnapshotInfo,
    *,
    status: SnapshotStatus,
    original_id: str | None = None,
    run_id: int | None = None,
    origin: SnapshotRecord | None = None,
) -> SnapshotRecord:
    """The record of `info` on `target`. restic 0.14 keeps no size nor our canary with a
    snapshot: they come from `origin` (the recorded original of a copy) when there is one."""
    return SnapshotRecord(
        job=job,
        target=target,
        snapshot_id=info.id,
        time=info.time,
        tree=info.tree,
        hostname=info.hostname,
        paths=info.paths,
        tags=info.tags,
        size=origin.size if origin else None,
        files=origin.files if origin else None,
        original_id=original_id,
        run_id=run_id,
        canary_path=origin.canary_path if origin else None,
        canary_sha256=origin.canary_sha256 if origin else None,
        status=status,
    )
