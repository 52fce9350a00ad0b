"""Where the config points on disk. A job's source must not hold a repository (the
repository would back itself up, growing with every snapshot) nor drorch's state dir;
paths are compared after resolving symlinks. The metrics text file must be writable
where it is named.

A repository inside a source is fine when the job excludes it: an exclude pattern that
restic would match against the repository's folder or a folder above it (a glob per path
component; anchored when it starts with /, else matching anywhere). The state dir cannot
be excluded that way: that would also drop the canary drorch adds to every snapshot from
state_dir/canaries.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from drorch.config.model import DiskTarget, Job, Settings, Target
from drorch.config.references import JobFile
from drorch.config.yamlsource import Document
from drorch.errors import ConfigIssue

LOOP = "the repository would back itself up"


class _Place(NamedTuple):
    shown: Path  # as configured (resolved against the root)
    real: str  # symlinks resolved: what is compared


def source_overlaps(settings: Settings, jobs: Mapping[str, JobFile]) -> list[ConfigIssue]:
    """Every source path of every valid job that holds a target, lies inside one, or holds
    the state dir."""
    places = {
        name: _Place(path, _real(path))
        for name, target in settings.targets.items()
        if (path := _place(target)) is not None
    }
    state = _Place(settings.state_dir, _real(settings.state_dir))
    issues: list[ConfigIssue] = []
    reals: dict[Path, str] = {}  # jobs share source paths: one realpath each in this check
    for file in jobs.values():
        if file.job is not None:
            issues.extend(_job_overlaps(file.job, file.doc, places, state, reals))
    return issues


def _job_overlaps(
    job: Job,
    doc: Document,
    places: Mapping[str, _Place],
    state: _Place,
    reals: dict[Path, str],
) -> list[ConfigIssue]:
    issues = []
    for i, source in enumerate(job.source.paths):
        real = reals[source] if source in reals else reals.setdefault(source, _real(source))

        def problem(message: str, i: int = i) -> None:
            issues.append(doc.issue(("source", "paths", i), message))

        for name, place in places.items():
            if _within(place.real, real):
                seen = source / os.path.relpath(place.real, real)  # the path restic meets
                if not _excluded(seen, job.source.exclude):
                    problem(
                        f"{source} contains target {name!r} ({place.shown}): {LOOP}; "
                        f"move one of them, or exclude it (exclude: [{seen}])"
                    )
            elif _within(real, place.real):
                problem(f"{source} is inside target {name!r} ({place.shown}): {LOOP}")
        if _within(state.real, real):
            problem(
                f"{source} contains the state dir ({state.shown}): the catalog, restic's cache "
                "and the restore tests' scratch space would be backed up; move the state dir "
                "out of the source"
            )
    return issues


def _within(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or below it (both absolute and resolved): a string
    comparison, as Path.is_relative_to costs a parse per call and a site has thousands."""
    return path == folder or path.startswith(folder if folder.endswith("/") else folder + "/")


def _place(target: Target) -> Path | None:
    """The folder a target writes to, if it is one: a disk repository, a virtual library."""
    if isinstance(target, DiskTarget):
        return target.path
    return target.virtual.path if target.virtual is not None else None


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _excluded(path: Path, patterns: Iterable[str]) -> bool:
    """Whether one of restic's --exclude patterns matches `path` or a folder above it."""
    parts = path.parts[1:]
    for pattern in patterns:
        globs = [part for part in pattern.split("/") if part]
        if not globs:
            continue
        starts = range(1) if pattern.startswith("/") else range(len(parts))
        for start in starts:
            window = parts[start : start + len(globs)]
            if len(window) == len(globs) and all(map(fnmatch.fnmatchcase, window, globs)):
                return True
    return False


def textfile_problem(path: Path) -> str | None:
    """Why the daemon could not write the metrics text file `path`, or None."""
    folder = path.parent
    try:
        mode = folder.stat().st_mode
    except FileNotFoundError:
        return (
            f"the folder {folder} does not exist; create it "
            "(node-exporter's textfile collector reads it)"
        )
    except OSError as exc:
        return f"the folder {folder} cannot be read: {exc.strerror}"
    if not stat.S_ISDIR(mode):
        return f"{folder} is not a folder"
    if os.path.isdir(path):
        return f"{path} is a folder, not a file"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable by this user"
    return None
