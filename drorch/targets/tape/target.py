"""A tape target behind the target interface: validated, but nothing is written to it yet.

Every operation refuses with TargetOffline in the words the actions used before the seam
("... is not supported yet"); tape-out, restore from tape and restore tests from tape
fill it in, with drorch.targets.tape.library for the hardware.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from drorch.catalog import Catalog, RepositoryRecord
from drorch.config.model import TapeTarget
from drorch.errors import TargetOffline
from drorch.restic import Repo, Restic, SnapshotInfo
from drorch.targets.base import Capability, Target

# What each action is told, by what it asked of the target.
NOT_YET = {
    Capability.SNAPSHOT: "target {name!r} is tape; snapshots go to a disk target",
    Capability.RECEIVE: "replication to tape target {name!r} is not supported yet",
    Capability.PRUNE: "target {name!r} is tape; prune works on a disk target",
    Capability.CHECK: "target {name!r} is tape; check works on a disk target",
    Capability.RESTORE: "restoring from tape target {name!r} is not supported yet",
    Capability.RESTORE_TEST: "restore tests from tape target {name!r} are not supported yet",
    Capability.REBUILD: "reading tape target {name!r} back into a catalog is not supported yet",
}


class TapeLibraryTarget(Target):
    """Cartridges in a library (virtual or a drive with a changer); no capability yet."""

    kind = "tape"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, name: str, spec: TapeTarget) -> None:
        super().__init__(name, spec)
        self.spec = spec

    @property
    def location(self) -> str:
        if self.spec.virtual is not None:
            return f"virtual library {self.spec.virtual.path}"
        drive = f"drive {self.spec.drive}"
        return drive + (f", changer {self.spec.changer}" if self.spec.changer else "")

    def unsupported(self, capability: Capability) -> TargetOffline:
        return TargetOffline(NOT_YET[capability].format(name=self.name))

    def open_for_writing(
        self,
        catalog: Catalog,
        restic: Restic,
        *,
        managed_roots: tuple[Path, ...] = (),
        chunker_from: Repo | None = None,
    ) -> Repo:
        raise self.unsupported(Capability.RECEIVE)

    def open_for_reading(self, catalog: Catalog, restic: Restic) -> AbstractContextManager[Repo]:
        raise self.unsupported(Capability.RESTORE)

    def repository_present(self) -> bool:
        return False  # only a cartridge read back would tell

    def remove_stale_locks(self, restic: Restic) -> list[str]:
        return []  # no restic ever ran on it

    def snapshots_of_run(self, restic: Restic, job: str, run_id: int) -> list[SnapshotInfo]:
        raise self.unsupported(Capability.SNAPSHOT)

    def read_back(self, restic: Restic) -> tuple[RepositoryRecord | None, list[SnapshotInfo]]:
        raise self.unsupported(Capability.REBUILD)
