from datetime import timedelta
from pathlib import Path

import pytest

from drorch.errors import UsageError
from drorch.restic import commands
from drorch.restic.commands import Repo

REPO = Repo("/backups/primary", Path("/etc/drorch/keys/primary.pass"))


def test_init_command() -> None:
    assert commands.make_init_command(REPO) == ("restic", "--repo", "/backups/primary", "init")


def test_backup_command_with_every_option() -> None:
    argv = commands.make_backup_command(
        REPO,
        ["/srv/a", "/srv/-b"],
        excludes=["*.tmp", "cache"],
        tags=["drorch", "job:a"],
        host="node1",
    )
    assert argv == (
        "restic",
        "--repo",
        "/backups/primary",
        "backup",
        "--json",
        "--exclude",
        "*.tmp",
        "--exclude",
        "cache",
        "--tag",
        "drorch",
        "--tag",
        "job:a",
        "--host",
        "node1",
        "--",
        "/srv/a",
        "/srv/-b",
    )


def test_backup_command_minimal_separates_paths_from_flags() -> None:
    assert commands.make_backup_command(REPO, ["--help"]) == (
        "restic",
        "--repo",
        "/backups/primary",
        "backup",
        "--json",
        "--",
        "--help",
    )


def test_snapshots_command() -> None:
    assert commands.make_snapshots_command(REPO, snapshot_ids=["abc"], tags=["job:a"]) == (
        "restic",
        "--repo",
        "/backups/primary",
        "snapshots",
        "--json",
        "--tag",
        "job:a",
        "abc",
    )


def test_restore_command() -> None:
    assert commands.make_restore_command(
        REPO, "abcdef12", "/restore/here", includes=["/srv/a/x"], verify=True
    ) == (
        "restic",
        "--repo",
        "/backups/primary",
        "restore",
        "abcdef12",
        "--target",
        "/restore/here",
        "--include",
        "/srv/a/x",
        "--verify",
    )


def test_check_command_with_and_without_subset() -> None:
    assert commands.make_check_command(REPO) == ("restic", "--repo", "/backups/primary", "check")
    assert commands.make_check_command(REPO, read_data_subset="1/5") == (
        "restic",
        "--repo",
        "/backups/primary",
        "check",
        "--read-data-subset",
        "1/5",
    )


def test_no_builder_puts_the_password_file_on_argv() -> None:
    argvs = [
        commands.make_init_command(REPO),
        commands.make_cat_config_command(REPO),
        commands.make_backup_command(REPO, ["/x"]),
        commands.make_snapshots_command(REPO),
        commands.make_restore_command(REPO, "a", "/t"),
        commands.make_check_command(REPO),
        commands.make_forget_command(REPO, tags=["job:a"], keep_daily=1),
        commands.make_prune_command(REPO),
    ]
    for argv in argvs:
        assert not any("pass" in arg for arg in argv), argv


def test_forget_command_groups_the_job_as_one_and_passes_every_rule() -> None:
    argv = commands.make_forget_command(
        REPO,
        tags=["job:payroll"],
        keep_hourly=24,
        keep_daily=7,
        keep_weekly=5,
        keep_monthly=12,
        keep_yearly=3,
        keep_within="2d",
    )
    assert argv == (
        "restic",
        "--repo",
        "/backups/primary",
        "forget",
        "--json",
        "--tag",
        "job:payroll",
        "--group-by",
        "",
        "--keep-hourly",
        "24",
        "--keep-daily",
        "7",
        "--keep-weekly",
        "5",
        "--keep-monthly",
        "12",
        "--keep-yearly",
        "3",
        "--keep-within",
        "2d",
    )


def test_forget_command_leaves_out_zero_rules_and_joins_tags_as_one_filter() -> None:
    argv = commands.make_forget_command(REPO, tags=["drorch", "job:a"], keep_daily=1, dry_run=True)
    assert argv == (
        "restic",
        "--repo",
        "/backups/primary",
        "forget",
        "--json",
        "--tag",
        "drorch,job:a",
        "--group-by",
        "",
        "--keep-daily",
        "1",
        "--dry-run",
    )


def test_forget_command_with_only_keep_within() -> None:
    assert commands.make_forget_command(REPO, tags=["job:a"], keep_within="1d12h") == (
        "restic",
        "--repo",
        "/backups/primary",
        "forget",
        "--json",
        "--tag",
        "job:a",
        "--group-by",
        "",
        "--keep-within",
        "1d12h",
    )


def test_forget_command_refuses_to_keep_nothing_or_to_span_every_job() -> None:
    with pytest.raises(UsageError, match="no keep rule"):
        commands.make_forget_command(REPO, tags=["job:a"])
    with pytest.raises(UsageError, match="no keep rule"):
        commands.make_forget_command(REPO, tags=["job:a"], keep_daily=0, keep_within="")
    with pytest.raises(UsageError, match="without a tag filter"):
        commands.make_forget_command(REPO, tags=[], keep_daily=1)


def test_prune_command() -> None:
    assert commands.make_prune_command(REPO) == ("restic", "--repo", "/backups/primary", "prune")


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(hours=48), "2d"),
        (timedelta(hours=36), "1d12h"),
        (timedelta(hours=5), "5h"),
        # restic has no minutes (its `m` is months): round up, keep-within is a floor.
        (timedelta(minutes=90), "2h"),
        (timedelta(minutes=15), "1h"),
        (timedelta(days=400, seconds=1), "400d1h"),
    ],
)
def test_restic_duration_speaks_days_and_hours(duration: timedelta, expected: str) -> None:
    assert commands.restic_duration(duration) == expected


SOURCE = Repo("/backups/primary", Path("/etc/drorch/keys/primary.pass"))
DEST = Repo("/mnt/dc2/replica", Path("/etc/drorch/keys/replica.pass"))


def test_init_copying_chunker_params_uses_the_014_flags() -> None:
    assert commands.make_init_command(DEST, chunker_from=SOURCE) == (
        "restic", "--repo", "/mnt/dc2/replica", "init",
        "--from-repo", "/backups/primary",
        "--from-password-file", "/etc/drorch/keys/primary.pass",
        "--copy-chunker-params",
    )  # fmt: skip


def test_copy_command_reads_from_the_source_into_the_destination() -> None:
    argv = commands.make_copy_command(DEST, SOURCE, tags=["job:payroll"])
    assert argv == (
        "restic", "--repo", "/mnt/dc2/replica", "copy",
        "--from-repo", "/backups/primary",
        "--from-password-file", "/etc/drorch/keys/primary.pass",
        "--tag", "job:payroll",
    )  # fmt: skip
    assert "--repo2" not in argv


def test_cat_lock_never_takes_a_lock() -> None:
    assert commands.make_cat_lock_command(SOURCE, "ab12") == (
        "restic", "--repo", "/backups/primary", "--no-lock", "cat", "lock", "ab12",
    )  # fmt: skip
