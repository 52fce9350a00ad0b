"""A tape target behind the target interface: tape-out, restore and restore tests.

Writing (replicate to a tape target): open_for_writing gives the staging repository
(drorch.targets.tape.staging), restic copies the job's snapshots into it, and
finish_writing writes its new files to the cartridges of the current media set and reads
them back (drorch.targets.tape.writing). Reading (restore, restore test): open_for_reading
reads the newest media set into a scratch repository, removed when the block ends
(drorch.targets.tape.reading). Reading back (a lost catalog, after `drorch tape scan`
recorded the media sets): read_back reads only `config`, `keys/` and `snapshots/` of the
newest media set into scratch and lists its snapshots. Snapshots, prune and check work on
disk.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from drorch.catalog import Catalog, RepositoryRecord
from drorch.config.model import Pool, TapeTarget
from drorch.errors import TargetOffline
from drorch.process import pid_started_before
from drorch.restic import Repo, Restic, SnapshotInfo
from drorch.targets import locks
from drorch.targets.base import Capability, Target
from drorch.targets.disk import CONFIG, KEYS, SNAPSHOTS, config_hash, repository_present
from drorch.targets.tape.staging import repository_files, staging_folder, work_folder

# The drivers, the format and the tape-out and reading code are imported by the methods
# that use them: every command builds its targets (to find the catalog's repositories),
# and only those that move cartridges need the rest.

log = logging.getLogger(__name__)

SCRATCH = "scratch"  # the state dir's scratch root, shared with restore tests

# What each action is told, by what it asked of the target.
NOT_FOR_TAPE = {
    Capability.SNAPSHOT: "target {name!r} is tape; snapshots go to a disk target",
    Capability.PRUNE: "target {name!r} is tape; prune works on a disk target",
    Capability.CHECK: "target {name!r} is tape; check works on a disk target",
}


class TapeLibraryTarget(Target):
    """Cartridges in a library (virtual, or drives with a changer) of one media pool."""

    kind = "tape"
    capabilities: frozenset[Capability] = frozenset(
        {Capability.RECEIVE, Capability.RESTORE, Capability.RESTORE_TEST, Capability.REBUILD}
    )

    def __init__(self, name: str, spec: TapeTarget, *, pool: Pool, state_dir: Path) -> None:
        super().__init__(name, spec)
        self.spec = spec
        self.pool = pool
        self.state_dir = state_dir
        self.staging = staging_folder(state_dir, name)

    @property
    def location(self) -> str:
        if self.spec.virtual is not None:
            return f"virtual library {self.spec.virtual.path}"
        drive = f"drive {self.spec.drive or ', '.join(self.spec.drives)}"
        return drive + (f", changer {self.spec.changer}" if self.spec.changer else "")

    def unsupported(self, capability: Capability) -> TargetOffline:
        return TargetOffline(NOT_FOR_TAPE[capability].format(name=self.name))

    # -- writing ----------------------------------------------------------------------------

    def open_for_writing(
        self,
        catalog: Catalog,
        restic: Restic,
        *,
        managed_roots: tuple[Path, ...] = (),
        chunker_from: Repo | None = None,
    ) -> Repo:
        """The staging repository: created on first use; read back from tape when it was
        lost while the tape holds a media set (so that new files deduplicate against it),
        or when it is another repository than the one on tape (another node's tape-out
        wrote the newest media set from its own staging: the two cannot share one)."""
        repo = Repo(str(self.staging), self.spec.password_file)
        from drorch.targets.tape.library import open_library
        from drorch.targets.tape.reading import newest_media_set, stage_media_set

        try:
            _, on_tape = newest_media_set(catalog, self.name)
        except TargetOffline:  # nothing on tape yet: this staging, or a new one
            on_tape = []
        if repository_present(self.staging):
            config = next((p.sha256 for p in on_tape if p.path == CONFIG), None)
            if config in (None, config_hash(self.staging)):
                return repo
            log.warning(
                "target %s: staging repository %s is not the repository on tape (another "
                "node wrote the newest media set); reading that one back from tape",
                self.name,
                self.staging,
            )
            shutil.rmtree(self.staging)
        elif on_tape:
            log.warning("target %s: staging repository lost; reading it back from tape", self.name)
        if not on_tape:
            self.staging.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.staging.exists() and any(self.staging.iterdir()):
                raise TargetOffline(
                    f"target {self.name!r}: staging folder {self.staging} is not empty and "
                    "not a restic repository"
                ) from None
            repo_id = restic.init(repo, chunker_from=chunker_from)
            log.info("target %s: staging repository %s at %s", self.name, repo_id[:10], repo)
            return repo
        stage_media_set(
            catalog,
            self.name,
            open_library(self.spec),
            self.staging,
            purpose=f"rebuilding the staging repository of {self.name}",
        )
        return repo

    def finish_writing(
        self, catalog: Catalog, restic: Restic, repo: Repo, *, run_id: int | None = None
    ) -> dict[str, Any]:
        from drorch.targets.tape.library import open_library
        from drorch.targets.tape.writing import TapeOut, TapeSettings

        virtual = self.spec.virtual
        settings = TapeSettings(
            target=self.name,
            pool_name=self.spec.pool,
            pool=self.pool,
            capacity=virtual.capacity if virtual else None,
            usable=(
                virtual.capacity - virtual.early_warning.bytes_of(virtual.capacity)
                if virtual
                else None
            ),
            work_folder=work_folder(self.state_dir, self.name),
        )
        tape_out = TapeOut(settings, catalog, open_library(self.spec), run_id=run_id)
        report = tape_out.write(self.staging, repository_files(self.staging))
        return report.as_details()

    # -- reading ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def open_for_reading(self, catalog: Catalog, restic: Restic) -> Iterator[Repo]:
        with self._scratch(catalog, purpose=f"reading tape target {self.name}") as repo:
            yield repo

    @contextlib.contextmanager
    def _scratch(
        self, catalog: Catalog, *, purpose: str, wanted: Callable[[str], bool] | None = None
    ) -> Iterator[Repo]:
        """The newest media set (what `wanted` accepts of it) read into a scratch folder,
        removed when the block ends."""
        from drorch.targets.tape.library import open_library
        from drorch.targets.tape.reading import stage_media_set

        remove_dead_scratch(self.state_dir, self.name)
        scratch = scratch_folder(self.state_dir, self.name, os.getpid())
        try:
            stage_media_set(
                catalog, self.name, open_library(self.spec), scratch, purpose=purpose,
                wanted=wanted,
            )  # fmt: skip
            yield Repo(str(scratch), self.spec.password_file)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # -- the rest ---------------------------------------------------------------------------

    @property
    def repository_folder(self) -> Path | None:
        return None  # the staging repository is a spool, not the copy

    def repository_present(self) -> bool:
        return False  # only a cartridge read back would tell

    def remove_stale_locks(self, restic: Restic) -> list[str]:
        if not repository_present(self.staging):
            return []
        return locks.remove_stale_locks(Repo(str(self.staging), self.spec.password_file), restic)

    def snapshots_of_run(self, restic: Restic, job: str, run_id: int) -> list[SnapshotInfo]:
        raise self.unsupported(Capability.SNAPSHOT)

    def read_back(
        self, restic: Restic, *, catalog: Catalog | None = None
    ) -> tuple[RepositoryRecord | None, list[SnapshotInfo]]:
        """The snapshots the newest media set holds, as `tape scan` recorded its placements
        in `catalog`: only their files, `config` and `keys/` are read from tape. No
        repository record: the copy is the media set, which the scan recorded."""
        if catalog is None:
            raise TargetOffline(
                f"tape target {self.name!r} is read back by `drorch tape scan {self.name}` "
                "(its cartridges say where the repository lies)"
            )
        purpose = f"reading tape target {self.name} back into the catalog"
        with self._scratch(catalog, purpose=purpose, wanted=_read_back) as repo:
            infos = restic.snapshots(repo)
        log.info("target %s: media set holds %d snapshot(s)", self.name, len(infos))
        return None, infos


def scratch_folder(state_dir: Path, target: str, pid: int) -> Path:
    """A folder of its own for a reader of the tape target, named by the reader's pid."""
    return state_dir / SCRATCH / f"tape-{target}-{pid}-{uuid.uuid4().hex[:12]}"


def remove_dead_scratch(state_dir: Path, target: str) -> list[Path]:
    """Remove the scratch folders of the target's readers that died (SIGKILL, power loss)
    before they could: each holds a copy of what they had read of a media set, and
    nothing else would ever remove it. A living reader's folder is left alone."""
    root = state_dir / SCRATCH
    prefix = f"tape-{target}-"
    found = sorted(root.glob(f"{prefix}*")) if root.is_dir() else []
    removed = []
    for folder in found:
        pid = folder.name[len(prefix) :].partition("-")[0]
        # Its reader made it after it started: a process with that pid started later (the
        # pid reused), or a zombie, is not the reader.
        if pid.isdigit() and not pid_started_before(int(pid), folder.stat().st_mtime):
            shutil.rmtree(folder, ignore_errors=True)
            log.warning("target %s: removed %s, left by a reader that died", target, folder)
            removed.append(folder)
    return removed


def _read_back(path: str) -> bool:
    """`restic snapshots` needs no more of a repository (no index, no pack)."""
    return path == CONFIG or path.startswith((f"{KEYS}/", f"{SNAPSHOTS}/"))
