"""Map restic outcomes to typed errors, through tables.

restic 0.14 exits 1 for nearly every failure, so its stderr text tells the
cases apart; restic 0.17 and newer also use exit codes 10/11/12. Both tables
are consulted; an exit code nobody knows is a plain ResticError, never success.
When the operating system or the network told restic why it failed (no space
left, read-only, permission denied...), the message names that cause and the
line that says it, not only restic's last words; a restic killed by a signal
is named so.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from drorch.errors import (
    Interrupted,
    PartialSnapshot,
    RepositoryFull,
    RepositoryLocked,
    RepositoryMissing,
    ResticError,
    ResticTimeout,
    WrongPassword,
)
from drorch.process import GRACE, Completed

# restic >= 0.17: documented exit codes.
EXIT_CODES: dict[int, tuple[type[ResticError], str]] = {
    10: (RepositoryMissing, "repository does not exist"),
    11: (RepositoryLocked, "repository is locked"),
    12: (WrongPassword, "wrong password"),
    130: (Interrupted, "interrupted"),
}

DAMAGED = "repository contains errors"

# restic 0.14 .. 0.16: the same cases, told apart by stderr.
STDERR_PATTERNS: tuple[tuple[re.Pattern[str], type[ResticError], str], ...] = (
    (re.compile(r"wrong password or no key found"), WrongPassword, "wrong password"),
    (
        re.compile(r"repository is already locked"),
        RepositoryLocked,
        "repository is locked",
    ),
    # `restic check` found damage; the lines before this one say what (see _damage).
    (re.compile(r"Fatal: repository contains errors"), ResticError, DAMAGED),
)

# restic 0.14 ends every failure to open a repository's config with this guess, also when
# the disk or the network failed: consulted only when no cause below says more.
MISSING = re.compile(
    r"Is there a repository at the following location\?|repository does not exist"
    r"|unable to open config file"
)


@dataclass(frozen=True)
class Cause:
    """An error of the operating system or the network that restic passes on.

    restic 0.14 prints it on a line of its own (before a Go stack trace, or in a "retrying"
    notice) and ends with its own words, such as "unable to create lock in backend".
    """

    pattern: re.Pattern[str]
    on_target: str  # what drorch calls it when the line names a path in a repository
    elsewhere: str  # ... when it names another place: a restore's destination, the cache
    error: type[ResticError] = ResticError  # the error when it is on the target


CAUSES: tuple[Cause, ...] = (
    Cause(
        re.compile(r"no space left on device|disk quota exceeded", re.IGNORECASE),
        "target full",
        "disk full",
        RepositoryFull,
    ),
    Cause(re.compile(r"read-only file system"), "target is read-only", "read-only file system"),
    Cause(
        re.compile(r"permission denied|operation not permitted"),
        "permission denied on the target",
        "permission denied",
    ),
    Cause(
        re.compile(r"input/output error"),
        "input/output error on the target",
        "input/output error",
    ),
    Cause(
        re.compile(
            r"transport endpoint is not connected|stale (?:NFS )?file handle", re.IGNORECASE
        ),
        "target unreachable (its network filesystem is gone)",
        "a network filesystem is gone",
    ),
    Cause(
        re.compile(
            r"connection refused|connection reset|connection timed out|no route to host"
            r"|network is unreachable|i/o timeout|no such host|server misbehaving"
            r"|TLS handshake timeout"
        ),
        "network error",
        "network error",
    ),
)

_REPO_FLAGS = ("--repo", "--from-repo")

_LOCK_HOLDER = re.compile(r"locked (?:exclusively )?by (PID \d+ on \S+ by [^\n]+)")


def error_for(
    completed: Completed, *, what: str, limit: str = "", password_files: Sequence[str] = ()
) -> ResticError | None:
    """Return the typed error for a finished restic call, or None when it succeeded.

    `what` names the operation and repository for the message, e.g. "backup of job
    payroll to target primary"; `limit` the timeout when it fires ("after 60s", "at the
    run's deadline: 5s (snapshot timeout of job x)"); `password_files` the files a wrong
    password may come from (restic does not say which of a copy's two refused).
    """
    code = completed.returncode
    common: dict[str, Any] = {
        "argv": completed.argv,
        "exit_code": code,
        "stderr_tail": completed.stderr_tail,
    }
    if completed.timed_out:
        stopped = (
            f"it ignored SIGINT and was killed after {GRACE:.0f}s"
            if code == -signal.SIGKILL
            else "interrupted with SIGINT"
        )
        timed_out = f"restic timed out {limit}" if limit else "restic timed out"
        return ResticTimeout(f"{what}: {timed_out}; {stopped}", **common)
    if completed.canceled:
        return Interrupted(f"{what}: canceled", **common)
    if code == 0:
        return None
    if code < 0:  # subprocess's way of saying: killed by signal -code
        return ResticError(f"{what}: {_killed(-code)}", **common)
    stderr = "\n".join(completed.stderr)
    if code == 3 and "backup" in completed.argv:  # only backup means "some files unreadable"
        return PartialSnapshot(
            f"{what}: snapshot is incomplete, some source files could not be read: "
            f"{_first_error_line(completed)}",
            snapshot_id=None,
            **common,
        )
    if code in EXIT_CODES:
        cls, reason = EXIT_CODES[code]
        return cls(f"{what}: {reason}{_detail(cls, stderr, password_files)}", **common)
    for pattern, cls, reason in STDERR_PATTERNS:
        if pattern.search(stderr):
            detail = (
                _damage(completed) if reason == DAMAGED else _detail(cls, stderr, password_files)
            )
            return cls(f"{what}: {reason}{detail}", **common)
    caused = _caused(completed, what=what, common=common)
    if caused is not None:
        return caused
    if MISSING.search(stderr):
        return RepositoryMissing(f"{what}: repository does not exist", **common)
    return ResticError(
        f"{what}: restic failed with exit code {code}: {_first_error_line(completed)}", **common
    )


def _detail(cls: type[ResticError], stderr: str, password_files: Sequence[str]) -> str:
    if cls is WrongPassword and password_files:
        return f" (password file {' or '.join(password_files)})"
    if cls is RepositoryLocked:
        match = _LOCK_HOLDER.search(stderr)
        if match:
            return f" ({match.group(1).strip()})"
    return ""


_PROGRESS = re.compile(r"^\[\d+:\d\d\]")


def _damage(completed: Completed, *, most: int = 3) -> str:
    """What `restic check` said was wrong: its first few problems, on one line.

    restic 0.14 writes each problem to stderr ("Pack ID does not match, want ..., got ...",
    or "error for tree 1a2b3c4d:" with its cause indented below) and ends with the Fatal line.
    """
    problems: list[str] = []
    for line in completed.stderr:
        if not line.strip() or line.startswith("Fatal:") or _PROGRESS.match(line):
            continue
        if line[:1].isspace() and problems:
            problems[-1] += " " + line.strip()
        else:
            problems.append(line.strip())
    if not problems:
        return ""
    more = f" (and {len(problems) - most} more)" if len(problems) > most else ""
    return ": " + "; ".join(problems[:most]) + more


def _first_error_line(completed: Completed) -> str:
    for line in completed.stderr:
        if line.startswith(("Fatal:", "error", "Error")):
            return line.strip()
    return completed.stderr[-1].strip() if completed.stderr else "no message"


def _caused(completed: Completed, *, what: str, common: dict[str, Any]) -> ResticError | None:
    """The error naming the cause restic was told, from the last line that tells it."""
    for cause in CAUSES:
        telling = [line for line in completed.stderr if cause.pattern.search(line)]
        if not telling:
            continue
        line = _words(telling[-1])  # after restic's retries, the one it gave up on
        on_target = any(f"{repo.rstrip('/')}/" in line for repo in _repositories(completed))
        label, cls = (cause.on_target, cause.error) if on_target else (cause.elsewhere, ResticError)
        last = _last_words(completed)
        context = f" ({last})" if last and last != line else ""
        return cls(f"{what}: {label}: {line}{context}", **common)
    return None


def _repositories(completed: Completed) -> list[str]:
    argv = completed.argv
    return [argv[i + 1] for i in range(len(argv) - 1) if argv[i] in _REPO_FLAGS]


def _last_words(completed: Completed) -> str:
    """restic's conclusion: its Fatal line, else its last line (after any stack trace)."""
    lines = [line for line in completed.stderr if line.strip()]
    fatal = [line for line in lines if line.startswith("Fatal:")]
    return _words(fatal[-1] if fatal else lines[-1]) if lines else ""


def _words(line: str) -> str:
    return line.strip().removeprefix("Fatal: ")


def _killed(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"restic was killed by signal {number}"
    text = f"restic was killed by {name} (signal {number})"
    if number == signal.SIGKILL:
        text += ", perhaps by the kernel's out-of-memory killer (see journalctl -k)"
    return text
