"""Pure functions that build restic argv tuples. Nothing here runs anything.

The password never appears here: it travels as RESTIC_PASSWORD_FILE (see runner).
Every builder starts with the same global part, so tests compare exact tuples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drorch.errors import UsageError


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


def make_init_command(repo: Repo, *, chunker_from: Repo | None = None) -> tuple[str, ...]:
    """With chunker_from, the new repository splits files like that one, so copies between
    them deduplicate. 0.14 spells it --from-repo (never the older, reversed --repo2)."""
    return (
        *_base(repo),
        "init",
        *(
            (
                "--from-repo",
                chunker_from.location,
                "--from-password-file",
                str(chunker_from.password_file),
                "--copy-chunker-params",
            )
            if chunker_from
            else ()
        ),
    )


def make_copy_command(dest: Repo, source: Repo, *, tags: Sequence[str]) -> tuple[str, ...]:
    """Copy into `dest` the snapshots of `source` carrying all `tags` that dest lacks.

    The password file's path, not the password, is on argv.
    """
    return (
        *_base(dest),
        "copy",
        "--from-repo",
        source.location,
        "--from-password-file",
        str(source.password_file),
        *(("--tag", ",".join(tags)) if tags else ()),
    )


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


def restic_duration(duration: timedelta) -> str:
    """A duration as restic's --keep-within reads it: days and whole hours, rounded up.

    restic's units are y, m, d, h, where `m` is months, not minutes: minutes cannot be
    said at all, so a duration is rounded up to the hour (keep-within is a safety floor).
    """
    hours = max(1, math.ceil(duration.total_seconds() / 3600))
    days, hours = divmod(hours, 24)
    return (f"{days}d" if days else "") + (f"{hours}h" if hours else "")


def restic_size(size: int) -> str:
    """A size as restic's --read-data-subset reads it: a whole number of K, M, G or T.

    restic's units are powers of 1024, and restic 0.14 refuses a bare number of bytes,
    a decimal and "KiB". The largest unit that says the size exactly, or as at least 100
    of it (rounded up, within 1%), is used.
    """
    for suffix, unit in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= unit and (size % unit == 0 or size >= 100 * unit):
            return f"{math.ceil(size / unit)}{suffix}"
    return "1K"


def make_forget_command(
    repo: Repo,
    *,
    tags: Sequence[str],
    keep_hourly: int = 0,
    keep_daily: int = 0,
    keep_weekly: int = 0,
    keep_monthly: int = 0,
    keep_yearly: int = 0,
    keep_within: str | None = None,
    group_by: str = "",
    dry_run: bool = False,
) -> tuple[str, ...]:
    """Forget the snapshots carrying every one of `tags` that the keep rules do not keep.

    The tags form one filter (restic's comma form: all must match). `group_by=""` puts
    every matching snapshot in one group; never group by tags, since each snapshot carries
    a unique run tag and would be its own group, always kept. A keep rule is required:
    without one, the call would mean "forget everything".
    """
    if not tags:
        raise UsageError("refusing to forget without a tag filter: it would span every job")
    keeps = (
        ("--keep-hourly", keep_hourly),
        ("--keep-daily", keep_daily),
        ("--keep-weekly", keep_weekly),
        ("--keep-monthly", keep_monthly),
        ("--keep-yearly", keep_yearly),
    )
    if not keep_within and not any(count > 0 for _, count in keeps):
        raise UsageError("refusing to forget with no keep rule: it would remove every snapshot")
    return (
        *_base(repo),
        "forget",
        "--json",
        "--tag",
        ",".join(tags),
        "--group-by",
        group_by,
        *(item for flag, count in keeps if count > 0 for item in (flag, str(count))),
        *(("--keep-within", keep_within) if keep_within else ()),
        *(("--dry-run",) if dry_run else ()),
    )


def make_prune_command(repo: Repo) -> tuple[str, ...]:
    return (*_base(repo), "prune")


def make_cat_lock_command(repo: Repo, lock_id: str) -> tuple[str, ...]:
    """Read one lock without taking one (a stale lock must not block its own inspection)."""
    return (*_base(repo), "--no-lock", "cat", "lock", lock_id)


def make_ls_command(repo: Repo, snapshot_id: str) -> tuple[str, ...]:
    return (*_base(repo), "ls", "--json", snapshot_id)
