"""A tape target's staging repository: the restic repository replication copies into, and
the spool the drive is fed from.

    state_dir/tape/<target>/staging     the repository (the tape target's own password)
    state_dir/tape/<target>/work        archives read back for verification, briefly

Everything in it but restic's lock files goes to tape; restic never changes a file once
written (pack, index and snapshot files are named by their content), so a path the
current media set holds is never written again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from drorch.targets.locks import LOCKS

TAPE = "tape"
STAGING = "staging"
WORK = "work"


@dataclass(frozen=True)
class StagedFile:
    path: str  # repository-relative, "/"-separated
    size: int


def tape_folder(state_dir: Path, target: str) -> Path:
    return state_dir / TAPE / target


def staging_folder(state_dir: Path, target: str) -> Path:
    return tape_folder(state_dir, target) / STAGING


def work_folder(state_dir: Path, target: str) -> Path:
    return tape_folder(state_dir, target) / WORK


def repository_files(folder: Path) -> list[StagedFile]:
    """The repository's files to put on tape: `config` and `keys/` first (a reader needs
    them first), snapshots last, by path within each."""
    found: list[StagedFile] = []
    for directory, subdirs, names in os.walk(folder):
        here = Path(directory)
        if here == folder:
            subdirs[:] = [d for d in subdirs if d != LOCKS]  # this host's, not the data
        subdirs.sort()
        for name in names:
            if name.endswith((".partial", ".tmp")) or "-tmp-" in name:
                continue  # a file restic is still writing
            path = here / name
            relative = path.relative_to(folder).as_posix()
            found.append(StagedFile(relative, path.stat().st_size))
    return sorted(found, key=_order)


_FIRST = {"config": 0, "keys": 1, "data": 2, "index": 3, "snapshots": 4}


def _order(item: StagedFile) -> tuple[int, str]:
    return _FIRST.get(item.path.split("/", 1)[0], 5), item.path


def archives_of(files: list[StagedFile], limit: int) -> list[list[StagedFile]]:
    """Cut `files`, in order, into archives of at most `limit` bytes of members (a file
    larger than `limit` is an archive of its own)."""
    batches: list[list[StagedFile]] = []
    size = 0
    for item in files:
        if not batches or (batches[-1] and size + item.size > limit):
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += item.size
    return batches
