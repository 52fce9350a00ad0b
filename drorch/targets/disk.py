"""Disk targets: a restic repository on a local or mounted filesystem.

A repository is initialised only on first use and recorded in the catalog with
restic's repository id. When a repository the catalog knows is gone (an
unmounted disk), runs fail with "target offline": drorch never creates a new,
empty repository in its place.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import psutil

from drorch.catalog import Catalog, RepositoryRecord, utc_now
from drorch.config.model import DiskTarget
from drorch.config.units import format_size
from drorch.errors import TargetFull, TargetOffline
from drorch.locks import resource_lock
from drorch.restic import Repo, Restic, SnapshotInfo
from drorch.targets import locks
from drorch.targets.base import Capability, Target

log = logging.getLogger(__name__)

INIT_WAIT = 600.0  # seconds a run waits while another one creates the repository

# restic's repository layout, as far as drorch looks into it (locks/: drorch.targets.locks)
CONFIG = "config"  # the repository's config file: present once it is initialised
SNAPSHOTS = "snapshots"  # one file per snapshot, named by its full id
KEYS = "keys"  # the key files that unlock the repository with its password

_HEX_ID = re.compile(r"[0-9a-f]{1,64}")
_FULL_ID = re.compile(r"[0-9a-f]{64}")  # not a "<id>-tmp-<n>" file restic left mid-write


class DiskRepositoryTarget(Target):
    """A restic repository in a folder of a local or mounted filesystem: it does it all."""

    kind = "disk"
    capabilities = frozenset(Capability)

    def __init__(self, name: str, spec: DiskTarget) -> None:
        super().__init__(name, spec)
        self.spec = spec
        self.repo = Repo(str(spec.path), spec.password_file)

    @property
    def location(self) -> str:
        return str(self.spec.path)

    @property
    def repository_folder(self) -> Path:
        return self.spec.path

    def open_for_writing(
        self,
        catalog: Catalog,
        restic: Restic,
        *,
        managed_roots: tuple[Path, ...] = (),
        chunker_from: Repo | None = None,
    ) -> Repo:
        return open_disk_repository(
            self.name,
            self.spec,
            catalog,
            restic,
            create=True,
            managed_roots=managed_roots,
            chunker_from=chunker_from,
        )

    @contextlib.contextmanager
    def open_for_reading(self, catalog: Catalog, restic: Restic) -> Iterator[Repo]:
        yield open_disk_repository(self.name, self.spec, catalog, restic, create=False)

    def repository_present(self) -> bool:
        return repository_present(self.spec.path)

    def remove_stale_locks(self, restic: Restic) -> list[str]:
        return locks.remove_stale_locks(self.repo, restic)

    def snapshots_of_run(self, restic: Restic, job: str, run_id: int) -> list[SnapshotInfo]:
        return restic.snapshots(self.repo, tags=(f"drorch,job:{job},run:{run_id}",))

    def written_snapshot(
        self, repo: Repo, restic: Restic, reported: str
    ) -> tuple[str | None, str | None]:
        try:  # the file restic stores it under, without another restic call
            return full_snapshot_id(self.spec.path, reported), None
        except OSError:  # its snapshots folder cannot be listed here: ask restic
            return super().written_snapshot(repo, restic, reported)

    def read_back(
        self, restic: Restic, *, catalog: Catalog | None = None
    ) -> tuple[RepositoryRecord | None, list[SnapshotInfo]]:
        if not repository_present(self.spec.path):
            log.warning("target %s: no repository at %s", self.name, self.spec.path)
            return None, []
        repo_id = restic.repository_id(self.repo)
        infos = restic.snapshots(self.repo)
        log.info(
            "target %s: repository %s holds %d snapshot(s)", self.name, repo_id[:10], len(infos)
        )
        record = RepositoryRecord(
            target=self.name,
            location=self.repo.location,
            repo_id=repo_id,
            created_at=utc_now(),
            restic_version=str(restic.version()),
            config_sha256=config_hash(self.spec.path),
        )
        return record, infos


def open_disk_repository(
    name: str,
    target: DiskTarget,
    catalog: Catalog,
    restic: Restic,
    *,
    create: bool,
    managed_roots: tuple[Path, ...] = (),
    chunker_from: Repo | None = None,
) -> Repo:
    """Return the target's repository, ready to use; with create=True, initialise it once.

    `managed_roots` are folders drorch may create missing parents under (the config
    root and state dir); elsewhere the parent must exist, like a mount point. A first use
    is serialised across processes, so that jobs starting together on a new target do
    not race to create its repository.
    """
    known = catalog.repository(name)
    lock = (
        resource_lock(
            catalog, f"repository-init:{name}", purpose=f"first use of {name}", wait=INIT_WAIT
        )
        if known is None
        else contextlib.nullcontext()
    )
    with lock:
        return _open(
            name,
            target,
            catalog,
            restic,
            # looked up again under the lock: another process may have just created it
            known=known or catalog.repository(name),
            create=create,
            managed_roots=managed_roots,
            chunker_from=chunker_from,
        )


def _open(
    name: str,
    target: DiskTarget,
    catalog: Catalog,
    restic: Restic,
    *,
    known: RepositoryRecord | None,
    create: bool,
    managed_roots: tuple[Path, ...],
    chunker_from: Repo | None,
) -> Repo:
    repo = Repo(str(target.path), target.password_file)
    present = repository_present(target.path)
    if known is not None:
        if not present:
            raise TargetOffline(
                f"target {name!r} is offline: repository {known.repo_id[:10]} is missing at "
                f"{target.path} (is the disk mounted?); drorch will not create a new empty "
                "repository in its place"
            )
        _check_identity(name, target, catalog, restic, repo, known.repo_id, known.config_sha256)
        if create:
            _check_writable(name, target)
        return repo
    if present:
        repo_id = restic.repository_id(repo)
        log.info("target %s: adopting existing repository %s", name, repo_id[:10])
        catalog.record_repository(
            target=name,
            location=repo.location,
            repo_id=repo_id,
            restic_version=str(restic.version()),
            config_sha256=config_hash(target.path),
        )
        if create:
            _check_writable(name, target)
        return repo
    if not create:
        raise TargetOffline(
            f"target {name!r} has no repository at {target.path} yet "
            "(it is created by the first snapshot)"
        )
    _prepare_new(name, target, managed_roots)
    repo_id = restic.init(repo, chunker_from=chunker_from)
    log.info("target %s: initialised repository %s at %s", name, repo_id[:10], target.path)
    catalog.record_repository(
        target=name,
        location=repo.location,
        repo_id=repo_id,
        restic_version=str(restic.version()),
        config_sha256=config_hash(target.path),
    )
    return repo


def repository_present(path: Path) -> bool:
    """Whether a restic repository is at path: its config file is there."""
    return (path / CONFIG).is_file()


def config_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256((path / CONFIG).read_bytes()).hexdigest()
    except OSError:
        return None


def _check_identity(
    name: str,
    target: DiskTarget,
    catalog: Catalog,
    restic: Restic,
    repo: Repo,
    repo_id: str,
    known_hash: str | None,
) -> None:
    """The repository at the path is the one the catalog knows, not another one mounted or
    restored there: its config file is unchanged, or restic confirms the id."""
    current = config_hash(target.path)
    if current is not None and current == known_hash:
        return
    found = restic.repository_id(repo)  # a rewritten config (restic migrate), or a first check
    if not found.startswith(repo_id):
        raise TargetOffline(
            f"target {name!r}: the repository at {target.path} is {found[:10]}, not "
            f"{repo_id[:10]} which the catalog knows; refusing to use another repository "
            "(a different disk mounted there?)"
        )
    if current is not None:
        catalog.set_repository_config_hash(name, current)


def _prepare_new(name: str, target: DiskTarget, managed_roots: tuple[Path, ...]) -> None:
    path = target.path
    if path.exists() and not path.is_dir():
        raise TargetOffline(f"target {name!r}: {path} is a file, not a folder")
    if path.exists() and any(path.iterdir()):
        raise TargetOffline(
            f"target {name!r}: {path} is not empty and not a restic repository; "
            "refusing to initialise a repository there"
        )
    parent = path.parent
    managed = any(path.is_relative_to(root) for root in managed_roots)
    if not parent.is_dir():
        if not managed:
            raise TargetOffline(
                f"target {name!r} is offline: {parent} does not exist (is the disk mounted?)"
            )
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if target.require_mount and not managed and not on_mounted_filesystem(path):
        raise TargetOffline(
            f"target {name!r} is offline: neither {path} nor a folder above it is a mount "
            "point, so the disk is probably not mounted; drorch will not create a repository "
            "on the root filesystem in its place (set require_mount: false if it belongs there)"
        )
    _check_writable(name, target)


def on_mounted_filesystem(path: Path) -> bool:
    """Whether path, or a folder above it other than /, is a mount point."""
    return any(os.path.ismount(folder) for folder in (path, *path.parents) if folder != Path("/"))


def _check_writable(name: str, target: DiskTarget) -> None:
    probe = target.path if target.path.exists() else target.path.parent
    if not os.access(probe, os.W_OK):
        raise TargetOffline(f"target {name!r}: {probe} is read-only")
    free = free_bytes(probe)
    if free < target.min_free:
        raise TargetFull(
            f"target full: {name!r} has {format_size(free)} free at {probe}, "
            f"below its min_free of {format_size(target.min_free)}; nothing was written"
        )


def free_bytes(path: Path) -> int:
    return int(psutil.disk_usage(str(path)).free)


def full_snapshot_id(repo_path: Path, snapshot_id: str) -> str | None:
    """The full id of a snapshot the repository holds, from its short or full id.

    restic 0.14 reports only a short id after a backup, newer ones the full id; either way
    the file restic stores the snapshot under, named by its full id, proves it is there. A
    local directory listing answers without another restic call (each costs a key
    derivation). None when no single snapshot file matches, also for an id that is not hex;
    OSError when the snapshots folder cannot be listed.
    """
    if not _HEX_ID.fullmatch(snapshot_id):
        return None
    names = [
        entry.name
        for entry in os.scandir(repo_path / SNAPSHOTS)
        if entry.name.startswith(snapshot_id) and _FULL_ID.fullmatch(entry.name)
    ]
    return names[0] if len(names) == 1 else None
