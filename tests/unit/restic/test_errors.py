import pytest

from drorch.errors import (
    Interrupted,
    PartialSnapshot,
    RepositoryLocked,
    RepositoryMissing,
    ResticError,
    ResticTimeout,
    WrongPassword,
)
from drorch.process import Completed
from drorch.restic.errors import error_for


def completed(
    code: int,
    *stderr: str,
    timed_out: bool = False,
    canceled: bool = False,
    command: str = "snapshots",
) -> Completed:
    return Completed(
        argv=("restic", command),
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
        completed(1, "some noise", "Fatal: disk quota exceeded", "more"), what="backup"
    )
    assert str(error) == "backup: restic failed with exit code 1: Fatal: disk quota exceeded"


def test_timeout_and_cancel_win_over_the_exit_code() -> None:
    assert type(error_for(completed(130, timed_out=True), what="x")) is ResticTimeout
    assert type(error_for(completed(130, canceled=True), what="x")) is Interrupted


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
