"""One interface for every kind of target: what an action needs of the place a copy lives.

A target's kind is chosen once, by drorch.targets.factory from its config; from then on
actions ask the target what it can do and for its repository, and never test its kind:

    target = open_target(name, config)
    target.require(Capability.PRUNE)            # TargetOffline saying why not
    repo = target.open_for_writing(catalog, restic, managed_roots=...)
    ...                                         # restic copy into repo
    target.finish_writing(catalog, restic, repo)  # tape: write the new files to cartridges
    with target.open_for_reading(catalog, restic) as repo:
        ...                                     # tape stages into a scratch repository
"""

from __future__ import annotations

import abc
import enum
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from drorch.catalog import Catalog, RepositoryRecord
from drorch.errors import TargetOffline
from drorch.restic import Repo, Restic, SnapshotInfo


class Capability(enum.Enum):
    """What an action may ask of a target."""

    SNAPSHOT = "snapshot"  # holds a job's primary copy: snapshot runs write to it
    RECEIVE = "receive"  # receives copies made by replication
    PRUNE = "prune"  # forgets snapshots by retention and frees their data
    CHECK = "check"  # restic check of its repository
    RESTORE = "restore"  # an operator's restore reads from it
    RESTORE_TEST = "restore-test"  # a restore test reads from it
    REBUILD = "rebuild"  # its repository is read back into a lost catalog


class Placement(Protocol):
    """What every kind of target's config says of where its copy lives."""

    @property
    def media(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def jurisdiction(self) -> str: ...
    @property
    def offline(self) -> bool: ...


class Target(abc.ABC):
    """A configured target, of one kind; its identity and placement are the config's."""

    kind: str
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, name: str, placement: Placement) -> None:
        self.name = name
        self.media = placement.media
        self.site = placement.site
        self.jurisdiction = placement.jurisdiction
        self.offline = placement.offline

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} at {self.location}>"

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability) -> None:
        """Nothing when the target can do it; else TargetOffline saying why not."""
        if not self.can(capability):
            raise self.unsupported(capability)

    def unsupported(self, capability: Capability) -> TargetOffline:
        """The error an action gets when it asks this target for what it cannot do."""
        return TargetOffline(
            f"target {self.name!r} is {self.kind}; it does not support {capability.value}"
        )

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the target is, in words an operator recognises (a path, a device)."""

    @property
    def repository_folder(self) -> Path | None:
        """The folder on this host's filesystems its repository lives in, if it has one."""
        return None

    @abc.abstractmethod
    def open_for_writing(
        self,
        catalog: Catalog,
        restic: Restic,
        *,
        managed_roots: tuple[Path, ...] = (),
        chunker_from: Repo | None = None,
    ) -> Repo:
        """Its repository, ready to be written: created on first use, never over a lost one
        (TargetOffline), and with the room its config asks for (TargetFull)."""

    def finish_writing(
        self, catalog: Catalog, restic: Restic, repo: Repo, *, run_id: int | None = None
    ) -> dict[str, Any]:
        """After a copy into the repository open_for_writing gave: put it where it belongs
        for good and prove it is there (tape writes the staging repository's new files to
        cartridges and reads them back). Only after it returns are the copies recorded.
        What it did, for the run's details; nothing to do for a disk."""
        return {}

    @abc.abstractmethod
    def open_for_reading(self, catalog: Catalog, restic: Restic) -> AbstractContextManager[Repo]:
        """Its existing repository, never created, for the time of the `with` block (restore,
        restore test, check, prune, the source of a copy): the one the catalog knows
        (TargetOffline when it is gone or is another one). A tape target will stage what is
        needed into a scratch repository and remove it when the block ends."""

    @abc.abstractmethod
    def repository_present(self) -> bool:
        """Whether its repository can be reached here now, without loading any media."""

    @abc.abstractmethod
    def remove_stale_locks(self, restic: Restic) -> list[str]:
        """Remove the restic locks processes of this host left and are gone; their ids."""

    @abc.abstractmethod
    def snapshots_of_run(self, restic: Restic, job: str, run_id: int) -> list[SnapshotInfo]:
        """The snapshots a run of job wrote here, found by their tags (no catalog)."""

    def written_snapshot(
        self, repo: Repo, restic: Restic, reported: str
    ) -> tuple[str | None, str | None]:
        """The full id (and tree, if learnt) of the snapshot restic reported writing, once
        the repository proves it holds it; (None, None) when it does not."""
        infos = restic.snapshots(repo, snapshot_ids=[reported])
        return (infos[0].id, infos[0].tree) if len(infos) == 1 else (None, None)

    @abc.abstractmethod
    def read_back(
        self, restic: Restic, *, catalog: Catalog | None = None
    ) -> tuple[RepositoryRecord | None, list[SnapshotInfo]]:
        """Its repository's record and snapshots, read from the repository alone, for a
        catalog rebuild; (None, []) when no repository is there. A kind of target whose
        repository is found only through what `catalog` says of it (tape: the placements
        `drorch tape scan` recorded) raises TargetOffline, saying how, without one."""
