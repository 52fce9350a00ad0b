from pathlib import Path

import pytest

from drorch.errors import (
    Interrupted,
    PartialSnapshot,
    RepositoryFull,
    RepositoryLocked,
    RepositoryMissing,
    ResticError,
    ResticTimeout,
    TargetFull,
    WrongPassword,
)
from drorch.process import Completed
from drorch.restic.errors import error_for

# stderr of restic 0.14.0 (Debian), recorded on a real tmpfs: see each file's test.
RECORDED = Path(__file__).parent / "stderr"


def recorded(name: str) -> tuple[str, ...]:
    return tuple(RECORDED.joinpath(name).read_text().splitlines())


def completed(
    code: int,
    *stderr: str,
    timed_out: bool = False,
    canceled: bool = False,
    command: str = "snapshots",
    repo: str | None = None,
) -> Completed:
    return Completed(
        argv=("restic", *(("--repo", repo) if repo else ()), command),
        returncode=code,
        stdout=(),
        stderr=stderr,
        duration=0.1,
        timed_out=timed_out,
        canceled=canceled,
    )


def test_success_is_no_error() -> None:
    assert error_for(completed(0), what="x") is None


# Texts as restic 0.14 prints them (exit 1 for all of these).
@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (("Fatal: wrong password or no key found",), WrongPassword),
        (
            (
                "Fatal: unable to open config file: stat /r/config: no such file or directory",
                "Is there a repository at the following location?",
                "/r",
            ),
            RepositoryMissing,
        ),
        (
            (
                "unable to create lock in backend: repository is already locked by PID 5465 on vm "
                "by root (UID 0, GID 0)",
                "lock was created at 2026-11-28 15:34:33",
            ),
            RepositoryLocked,
        ),
        (("Fatal: something else went wrong",), ResticError),
    ],
)
def test_restic_014_exit_1_is_told_apart_by_stderr(stderr: tuple[str, ...], expected: type) -> None:
    error = error_for(completed(1, *stderr), what="listing")
    assert type(error) is expected
    assert error.returncode == 1
    assert error.argv == ("restic", "snapshots")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (10, RepositoryMissing),
        (11, RepositoryLocked),
        (12, WrongPassword),
        (130, Interrupted),
        (3, ResticError),
        (2, ResticError),
        (99, ResticError),
    ],
)
def test_exit_codes_of_newer_restic(code: int, expected: type) -> None:
    assert type(error_for(completed(code, "Fatal: x"), what="op")) is expected


def test_locked_message_names_the_holder() -> None:
    error = error_for(
        completed(
            1,
            "unable to create lock in backend: repository is already "
            "locked by PID 77 on node2 by root (UID 0, GID 0)",
        ),
        what="prune of primary",
    )
    assert (
        str(error) == "prune of primary: repository is locked (PID 77 on node2 by root "
        "(UID 0, GID 0))"
    )


def test_unknown_failure_names_the_fatal_line() -> None:
    error = error_for(
        completed(1, "some noise", "Fatal: unexpected snapshot format", "more"), what="backup"
    )
    assert str(error) == "backup: restic failed with exit code 1: Fatal: unexpected snapshot format"


def test_timeout_and_cancel_win_over_the_exit_code() -> None:
    assert type(error_for(completed(130, timed_out=True), what="x")) is ResticTimeout
    assert type(error_for(completed(130, canceled=True), what="x")) is Interrupted


def test_a_timeout_names_its_limit_and_how_restic_was_stopped() -> None:
    limit = "at the run's deadline: 5s (snapshot timeout of job app)"
    stopped = error_for(completed(130, timed_out=True), what="backup", limit=limit)
    assert str(stopped) == f"backup: restic timed out {limit}; interrupted with SIGINT"
    killed = error_for(completed(-9, timed_out=True), what="backup", limit="after 60s")
    assert str(killed) == (
        "backup: restic timed out after 60s; it ignored SIGINT and was killed after 30s"
    )


@pytest.mark.parametrize("code", [1, 12])  # restic 0.14 says it on stderr, 0.17 by its code
def test_a_wrong_password_names_the_password_files(code: int) -> None:
    fatal = "Fatal: wrong password or no key found"
    one = error_for(completed(code, fatal), what="backup", password_files=("/k/p.pass",))
    assert str(one) == "backup: wrong password (password file /k/p.pass)"
    both = error_for(completed(code, fatal), what="copy", password_files=("/k/r", "/k/p"))
    assert type(both) is WrongPassword
    assert str(both) == "copy: wrong password (password file /k/r or /k/p)"


def test_damaged_repository_names_what_check_found() -> None:
    # restic 0.14's stderr for a check of a repository with a flipped byte in a tree pack.
    error = error_for(
        completed(
            1,
            "error for tree dcf853ad:",
            "  decrypting blob dcf853ad3cee failed: ciphertext verification failed",
            "Fatal: repository contains errors",
        ),
        what="check of /r",
    )
    assert type(error) is ResticError
    assert str(error) == (
        "check of /r: repository contains errors: error for tree dcf853ad: decrypting "
        "blob dcf853ad3cee failed: ciphertext verification failed"
    )


def test_damaged_repository_keeps_the_message_short() -> None:
    lines = [f"Pack ID does not match, want {n}, got {n + 1}" for n in range(10)]
    error = error_for(completed(1, *lines, "Fatal: repository contains errors"), what="check")
    assert str(error) == (
        "check: repository contains errors: " + "; ".join(lines[:3]) + " (and 7 more)"
    )


def test_exit_3_is_a_partial_snapshot_only_for_backup() -> None:
    assert (
        type(
            error_for(completed(3, "error: open /x: permission denied", command="backup"), what="b")
        )
        is PartialSnapshot
    )
    assert type(error_for(completed(3, "Fatal: x"), what="s")) is ResticError


# -- the cause, not restic's last words (issue 10, defect 13) ----------------------------


def test_prune_on_a_full_disk_says_target_full_not_only_unable_to_lock() -> None:
    # `restic prune` with the repository's tmpfs filled up: the cause is the first line, then
    # a Go stack trace, then restic's conclusion "unable to create lock in backend".
    stderr = recorded("prune-enospc.txt")
    assert stderr[-1] == "unable to create lock in backend"
    error = error_for(
        completed(1, *stderr, command="prune", repo="/tmp/rx/full/repo"),
        what="prune of /tmp/rx/full/repo",
    )
    assert type(error) is RepositoryFull
    assert isinstance(error, TargetFull)  # one `except TargetFull` catches drorch's own check too
    assert str(error) == (
        "prune of /tmp/rx/full/repo: target full: write /tmp/rx/full/repo/locks/"
        "81b03273d03b814253a4ecc98b3a17eeb9255f0399700906d8bd801e1c59a358-tmp-2557416144: "
        "no space left on device (unable to create lock in backend)"
    )
    assert error.returncode == 1


def test_backup_filling_the_disk_midway_says_target_full() -> None:
    # restic 0.14 `backup` when the repository's filesystem fills while it writes a pack.
    line = (
        "Fatal: unable to save snapshot: write /tmp/rx/full/repo/data/94/949ec7ef4f9c3e324b7ed"
        "c6ef3e755f3bdb6daa75d370aa823d9a05922ba0011-tmp-3571056238: no space left on device"
    )
    error = error_for(
        completed(1, line, command="backup", repo="/tmp/rx/full/repo"),
        what="snapshot of job app to target primary",
    )
    assert type(error) is RepositoryFull
    assert str(error) == (
        "snapshot of job app to target primary: target full: " + line.removeprefix("Fatal: ")
    )


def test_a_full_restore_destination_is_not_a_full_target() -> None:
    # restic 0.14 `restore` into a full scratch folder: the repository is fine.
    error = error_for(
        completed(1, *recorded("restore-enospc.txt"), command="restore", repo="/tmp/rx/repo"),
        what="restore of snapshot 98ccb6e9",
    )
    assert type(error) is ResticError
    assert str(error) == (
        "restore of snapshot 98ccb6e9: disk full: ignoring error for /src/d: write "
        "/tmp/rx/scratch/restore/src/d: no space left on device (There were 2 errors)"
    )


@pytest.mark.parametrize(
    ("name", "repo", "expected"),
    [
        # `restic prune` on a tmpfs remounted read-only: ten "retrying" lines, then the cause.
        (
            "prune-erofs.txt",
            "/tmp/rx/full/repo",
            "target is read-only: open /tmp/rx/full/repo/locks/a6bdbefadfd27d1fd2fbb913bf47c698f"
            "1eaf2dae3b8ebaa96b9cde1cc8cf9eb-tmp-3241250636: read-only file system "
            "(unable to create lock in backend)",
        ),
        # `restic backup` run as nobody on a repository owned by root.
        (
            "backup-eacces.txt",
            "/tmp/rx/repo",
            "permission denied on the target: open /tmp/rx/repo/locks/fa56b404d31d01dbd6be9a2a3e4"
            "2b31bcdad6d63979ca536940282db394416f2-tmp-541706336: permission denied "
            "(unable to create lock in backend)",
        ),
    ],
)
def test_the_os_error_behind_a_failed_lock_is_named(name: str, repo: str, expected: str) -> None:
    error = error_for(completed(1, *recorded(name), repo=repo), what="op")
    assert type(error) is ResticError
    assert str(error) == f"op: {expected}"


@pytest.mark.parametrize(
    ("line", "cause"),
    [
        (
            'Fatal: unable to open config file: client.Head: Head "http://127.0.0.1:1/config": '
            "dial tcp 127.0.0.1:1: connect: connection refused",
            "connection refused",
        ),
        (
            'Fatal: unable to open config file: client.Head: Head "http://no-such-host.invalid/'
            'config": dial tcp: lookup no-such-host.invalid on 10.255.255.53:53: no such host',
            "no such host",
        ),
    ],
)
def test_an_unreachable_server_is_not_a_missing_repository(line: str, cause: str) -> None:
    # restic 0.14 on a rest: repository it cannot reach ends with its guess that there is no
    # repository; the network error before it is the cause.
    location = (
        "rest:http://no-such-host.invalid/" if "lookup" in line else "rest:http://127.0.0.1:1/"
    )
    error = error_for(
        completed(1, line, "Is there a repository at the following location?", location),
        what="listing",
    )
    assert type(error) is ResticError
    assert str(error) == "listing: network error: " + line.removeprefix("Fatal: ")
    assert cause in str(error)


def test_a_missing_repository_is_still_missing() -> None:
    error = error_for(
        completed(
            1,
            "Fatal: unable to open config file: stat /r/config: no such file or directory",
            "Is there a repository at the following location?",
            "/r",
            repo="/r",
        ),
        what="listing",
    )
    assert type(error) is RepositoryMissing


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            -9,
            "restic was killed by SIGKILL (signal 9), perhaps by the kernel's out-of-memory "
            "killer (see journalctl -k)",
        ),
        (-11, "restic was killed by SIGSEGV (signal 11)"),
        (-15, "restic was killed by SIGTERM (signal 15)"),
        (-77, "restic was killed by signal 77"),
    ],
)
def test_a_restic_killed_by_a_signal_names_the_signal(code: int, expected: str) -> None:
    error = error_for(completed(code, command="check"), what="check of /r")
    assert type(error) is ResticError
    assert str(error) == f"check of /r: {expected}"
    assert error.returncode == code


def test_the_signal_wins_over_whatever_restic_printed_before() -> None:
    error = error_for(completed(-9, "[0:12] 40.00%  2 / 5 packs"), what="check")
    assert str(error).startswith("check: restic was killed by SIGKILL (signal 9)")
