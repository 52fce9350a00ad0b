"""Rebuild a lost catalog from the repositories: `drorch catalog rebuild`.

Not a run: there is no catalog to record one in, and nothing is invented. Each disk
target's repository is adopted again (restic's id, the hash of its config file) and its
snapshots are read with `restic snapshots`; the job comes from the `job:NAME` tag, and a
copy made by replication is mapped to its source by restic's `original` field, as
replicate does.

A snapshot is COMPLETE unless what its run left says otherwise: restic 0.14 stores a
snapshot whose source files could not all be read like any other, so the only witness is
the backup record its run wrote in the lost catalog's `runs/<id>/` (or in a
`runs.replaced-*/` an earlier rebuild moved aside). Where that record is gone, the snapshot
is COMPLETE without proof, and the report says how many are. Canary hashes lived only in
the catalog: rebuilt snapshots have none. The run history, the evidence log, locks, missed
slots, rule states and pending notifications are not in the repositories and start empty.

A tape target is not read by the rebuild: where its repository lies on which cartridge is
known only from the cartridges themselves. `drorch tape scan` records its media sets, then
reads back the snapshots of the newest one with read_back_copies, recorded as here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from itertools import pairwise
from pathlib import Path
from typing import Any

from drorch.actions.found import found_snapshot
from drorch.catalog import Catalog, RepositoryRecord, SnapshotRecord, SnapshotStatus
from drorch.catalog import rebuild as catalog_rebuild
from drorch.catalog.database import default_url
from drorch.catalog.identity import no_daemon
from drorch.config import Config
from drorch.errors import TargetOffline
from drorch.restic import Restic, SnapshotInfo
from drorch.targets import Capability, open_target, restic_for, targets_of

log = logging.getLogger(__name__)

JOB_TAG, RUN_TAG = "job:", "run:"


@dataclass(frozen=True)
class TargetRead:
    """What one target gave back."""

    target: str
    path: Path | None
    repo_id: str | None = None  # None: no repository at the path
    snapshots: int = 0  # written there by snapshot runs
    copies: int = 0  # written there by replication
    skipped: tuple[str, ...] = ()  # snapshots not recorded, each with the reason
    kind: str = "disk"
    read: bool = True  # False: not read back by the rebuild (tape)
    later: str | None = None  # how it is read back afterwards, when it is


@dataclass(frozen=True)
class RebuildReport:
    where: str
    identity: str
    targets: tuple[TargetRead, ...]
    confirmed: int  # COMPLETE, as their run's backup record says
    partial: int  # PARTIAL, as their run's backup record says (exit 3)
    unconfirmed: int  # COMPLETE without a record to say so
    moved_aside: tuple[Path, ...] = field(default_factory=tuple)


def rebuild_catalog(config: Config, *, force: bool = False) -> RebuildReport:
    """Create a new catalog from the disk targets' repositories and put it in place.

    Refused while a daemon uses the state dir, and over a catalog that is present (a SQLite
    one is moved aside with `force`). Any repository that cannot be read stops the rebuild
    before anything is written: a partial rebuild would pass for a whole one.
    """
    url = config.settings.catalog or default_url(config.state_dir)
    restic = _restic(config)
    with no_daemon(config.state_dir):
        catalog_rebuild.refuse_present(url, force=force)  # before the slow part
        repositories: list[RepositoryRecord] = []
        found: dict[str, list[SnapshotInfo]] = {}
        targets = sorted(targets_of(config).items())
        later: dict[str, str] = {}  # target: how it is read back, after the rebuild
        for name, target in targets:
            if target.can(Capability.REBUILD):
                try:
                    record, infos = target.read_back(restic)
                except TargetOffline as exc:  # tape: found through a catalog, by `tape scan`
                    later[name] = str(exc)
                    continue
                if record is not None:
                    repositories.append(record)
                    found[name] = infos
        witness = _Witness(config.state_dir)
        snapshots, counts = _records(found, witness)
        rebuilt = catalog_rebuild.build(url, config.state_dir, repositories, snapshots, force=force)
    known = {r.target: r.repo_id for r in repositories}
    reads = []
    for name, target in targets:
        if not target.can(Capability.REBUILD) or name in later:
            reads.append(
                TargetRead(name, None, kind=target.kind, read=False, later=later.get(name))
            )
            continue
        originals, copies, skipped = counts.get(name, (0, 0, ()))
        reads.append(
            TargetRead(name, target.repository_folder, known.get(name), originals, copies, skipped)
        )
    return RebuildReport(
        where=rebuilt.where,
        identity=rebuilt.identity.id,
        targets=tuple(reads),
        confirmed=witness.confirmed,
        partial=witness.partial,
        unconfirmed=witness.unconfirmed,
        moved_aside=rebuilt.moved_aside,
    )


def _restic(config: Config) -> Restic:
    return restic_for(config, timeout=config.settings.restic.timeout.total_seconds())


@dataclass(frozen=True)
class CopiesRead:
    """What a target read back into a standing catalog gave (`tape scan`)."""

    target: str
    recorded: tuple[SnapshotRecord, ...]  # new to the catalog
    known: int  # the catalog had them already
    skipped: tuple[str, ...] = ()  # not recorded, each with the reason


def read_back_copies(config: Config, catalog: Catalog, name: str) -> CopiesRead:
    """Record the snapshots target `name` holds that the catalog does not, as a rebuild
    records them: the job from the `job:` tag, a copy mapped to its original by restic's
    `original` field, with the status (and size) the catalog gives its original, or else
    the one its run's backup record in `runs/` gives. For a tape target after `tape scan`:
    its repository is found through the media sets the scan recorded."""
    target = open_target(name, config)
    target.require(Capability.REBUILD)
    _, infos = target.read_back(_restic(config), catalog=catalog)
    known = {s.snapshot_id for s in catalog.snapshots(target=name)}
    sources: dict[str, SnapshotRecord] = {}  # what the catalog holds, by the original's id
    for held in sorted(catalog.snapshots(), key=lambda s: s.original_id is None):
        sources[held.original_id or held.snapshot_id] = held  # an original wins over copies
    witness = _Witness(config.state_dir)
    recorded, skipped = [], []
    for info in infos:
        if info.id in known:
            continue
        job = _tag(info.tags, JOB_TAG)
        origin = sources.get(info.original or info.id)
        if refusal := _not_recorded(info, job, origin):
            skipped.append(refusal)
            continue
        assert job is not None  # _not_recorded refuses a snapshot without one
        status = origin.status if origin is not None else witness.status(info)
        record = found_snapshot(
            job, name, info, status=status, original_id=info.original, origin=origin
        )
        catalog.record_snapshot(record)
        recorded.append(record)
    return CopiesRead(name, tuple(recorded), len(known & {i.id for i in infos}), tuple(skipped))


Counts = dict[str, tuple[int, int, tuple[str, ...]]]  # target: (snapshots, copies, skipped)


def _records(
    found: dict[str, list[SnapshotInfo]], witness: _Witness
) -> tuple[list[SnapshotRecord], Counts]:
    """The snapshot rows of every target, and what each target gave."""
    by_id = {info.id: info for infos in found.values() for info in infos}
    records: list[SnapshotRecord] = []
    counts: Counts = {}
    for name, infos in sorted(found.items()):
        skipped, originals, copies = [], 0, 0
        for info in infos:
            job = _tag(info.tags, JOB_TAG)
            source = by_id.get(info.original) if info.original else None
            if refusal := _not_recorded(info, job, source):
                skipped.append(refusal)
                continue
            assert job is not None  # _not_recorded refuses a snapshot without one
            status = witness.status(info)
            # the run it names, its size and its canary's hash were only in the lost catalog
            records.append(
                found_snapshot(job, name, info, status=status, original_id=info.original)
            )
            copies += info.original is not None
            originals += info.original is None
        counts[name] = (originals, copies, tuple(skipped))
    return records, counts


def _not_recorded(
    info: SnapshotInfo, job: str | None, source: SnapshotInfo | SnapshotRecord | None
) -> str | None:
    """Why a snapshot read back is not recorded, or None: one drorch did not write (no
    job: tag), or a copy whose tree is not its source's."""
    if job is None:
        return f"{info.short_id}: no job: tag (not written by drorch)"
    if source is not None and source.tree != info.tree:
        return (
            f"{info.short_id}: a copy whose tree {info.tree[:8]} differs from its "
            f"source {source.short_id}'s {(source.tree or '?')[:8]}"
        )
    return None


def _tag(tags: Iterable[str], prefix: str) -> str | None:
    return next((tag[len(prefix) :] for tag in tags if tag.startswith(prefix)), None)


class _Witness:
    """What the run folders of lost catalogs say of how a snapshot's backup ended: `runs/`,
    and the `runs.replaced-*/` that earlier rebuilds moved aside (run ids restart at 1 after
    each). A backup record counts when its argv wrote this snapshot: the run's tag, and the
    time drorch told restic (`--time`, to the second, which restic keeps as the snapshot's)."""

    def __init__(self, state_dir: Path) -> None:
        self.folders = [state_dir / "runs", *sorted(state_dir.glob("runs.replaced-*"))]
        self.confirmed = self.partial = self.unconfirmed = 0
        self._seen: dict[str, SnapshotStatus] = {}

    def status(self, info: SnapshotInfo) -> SnapshotStatus:
        """The status of a snapshot (a copy has its source's), each source counted once."""
        key = info.original or info.id
        if key in self._seen:
            return self._seen[key]
        exit_code = self._backup_exit(info)
        if exit_code == 3:
            self.partial += 1
            status = SnapshotStatus.PARTIAL
        else:
            self.confirmed += exit_code == 0
            self.unconfirmed += exit_code != 0
            status = SnapshotStatus.COMPLETE
        self._seen[key] = status
        return status

    def _backup_exit(self, info: SnapshotInfo) -> int | None:
        """The exit code of the backup that wrote the snapshot, from its run's record."""
        run = _tag(info.tags, RUN_TAG)
        if run is None or not run.isdigit():
            return None
        # As make_backup_command writes it; a copy keeps its source's time and tags.
        wrote = [
            ("--tag", RUN_TAG + run),
            ("--time", info.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")),
        ]
        for folder in self.folders:
            for path in sorted((folder / run).glob("*-backup.json")):
                try:
                    record = json.loads(path.read_text(encoding="utf-8"))
                    argv = [str(arg) for arg in record["argv"]]
                except (OSError, ValueError, TypeError, KeyError):
                    continue
                pairs = set(pairwise(argv))
                if all(pair in pairs for pair in wrote):
                    return _exit_code(record)
        return None


def _exit_code(record: dict[str, Any]) -> int | None:
    code = record.get("exit_code")
    return code if isinstance(code, int) else None
