"""Map restic outcomes to typed errors, through tables.

restic 0.14 exits 1 for nearly every failure, so its stderr text tells the
cases apart; restic 0.17 and newer also use exit codes 10/11/12. Both tables
are consulted; an exit code nobody knows is a plain ResticError, never success.
"""

from __future__ import annotations

import re
from typing import Any

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
        re.compile(
            r"Is there a repository at the following location\?|repository does not exist"
            r"|unable to open config file"
        ),
        RepositoryMissing,
        "repository does not exist",
    ),
    (
        re.compile(r"repository is already locked"),
        RepositoryLocked,
        "repository is locked",
    ),
    # `restic check` found damage; the lines before this one say what (see _damage).
    (re.compile(r"Fatal: repository contains errors"), ResticError, DAMAGED),
)

_LOCK_HOLDER = re.compile(r"locked (?:exclusively )?by (PID \d+ on \S+ by [^\n]+)")


def error_for(completed: Completed, *, what: str) -> ResticError | None:
    """Return the typed error for a finished restic call, or None when it succeeded.

    `what` names the operation and repository for the message, e.g. "backup of job
    payroll to target primary".
    """
    code = completed.returncode
    common: dict[str, Any] = {
        "argv": completed.argv,
        "exit_code": code,
        "stderr_tail": completed.stderr_tail,
    }
    if completed.timed_out:
        return ResticTimeout(f"{what}: restic timed out and was interrupted", **common)
    if completed.canceled:
        return Interrupted(f"{what}: canceled", **common)
    if code == 0:
        return None
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
        return cls(f"{what}: {reason}{_detail(cls, stderr)}", **common)
    for pattern, cls, reason in STDERR_PATTERNS:
        if pattern.search(stderr):
            detail = _damage(completed) if reason == DAMAGED else _detail(cls, stderr)
            return cls(f"{what}: {reason}{detail}", **common)
    return ResticError(
        f"{what}: restic failed with exit code {code}: {_first_error_line(completed)}", **common
    )


def _detail(cls: type[ResticError], stderr: str) -> str:
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
