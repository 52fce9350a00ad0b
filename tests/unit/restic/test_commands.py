from pathlib import Path

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
    ]
    for argv in argvs:
        assert not any("pass" in arg for arg in argv), argv
