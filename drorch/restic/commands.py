"""Pure functions that build restic argv tuples. Nothing here runs anything.

The password never appears here: it travels as RESTIC_PASSWORD_FILE (see runner).
Every builder starts with the same global part, so tests compare exact tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Repo:
    """A restic repository and the file holding its password."""

    location: str
    password_file: Path


def _flag_each(flag: str, values: Iterable[str]) -> tuple[str, ...]:
    return tuple(item for value in values for item in (flag, value))


def _base(repo: Repo) -> tuple[str, ...]:
    return ("restic", "--repo", repo.location)


def make_version_command() -> tuple[str, ...]:
    return ("restic", "version")


def make_init_command(repo: Repo) -> tuple[str, ...]:
    return (*_base(repo), "init")


def make_cat_config_command(repo: Repo) -> tuple[str, ...]:
    return (*_base(repo), "cat", "config")


def make_backup_command(
    repo: Repo,
    paths: Sequence[str],
    *,
    excludes: Sequence[str] = (),
    tags: Sequence[str] = (),
    host: str | None = None,
    time: datetime | None = None,
) -> tuple[str, ...]:
    """`time` (UTC) is written as restic wants it; the runner runs restic with TZ=UTC."""
    return (
        *_base(repo),
        "backup",
        "--json",
        *_flag_each("--exclude", excludes),
        *_flag_each("--tag", tags),
        *(("--host", host) if host else ()),
        *(("--time", time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")) if time else ()),
        "--",
        *paths,
    )


def make_snapshots_command(
    repo: Repo, *, snapshot_ids: Sequence[str] = (), tags: Sequence[str] = ()
) -> tuple[str, ...]:
    return (
        *_base(repo),
        "snapshots",
        "--json",
        *_flag_each("--tag", tags),
        *snapshot_ids,
    )


def make_restore_command(
    repo: Repo,
    snapshot_id: str,
    target_dir: str,
    *,
    includes: Sequence[str] = (),
    verify: bool = False,
) -> tuple[str, ...]:
    return (
        *_base(repo),
        "restore",
        snapshot_id,
        "--target",
        target_dir,
        *_flag_each("--include", includes),
        *(("--verify",) if verify else ()),
    )


def make_check_command(repo: Repo, *, read_data_subset: str | None = None) -> tuple[str, ...]:
    return (
        *_base(repo),
        "check",
        *(("--read-data-subset", read_data_subset) if read_data_subset else ()),
    )
