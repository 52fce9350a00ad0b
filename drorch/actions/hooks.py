"""Run a job's before/after hooks: argument lists, no shell, within the run's deadline."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from drorch import process
from drorch.actions.context import Deadline
from drorch.config.model import HookSpec
from drorch.config.units import format_duration
from drorch.errors import HookFailed, Interrupted

log = logging.getLogger(__name__)


def run_hooks(
    hooks: Sequence[HookSpec],
    *,
    when: str,
    cwd: Path,
    cancel: threading.Event | None = None,
    succeeded: list[HookSpec] | None = None,
    deadline: Deadline | None = None,
) -> None:
    """Run hooks in order from cwd; the first failure raises HookFailed naming it.

    Each hook stops at its own timeout or at the run's `deadline`, whichever comes first,
    so hooks share the action's timeout with restic; none starts once the deadline passed.
    `succeeded` collects the hooks that ran to success, so a caller knows what to undo.
    """
    for number, hook in enumerate(hooks, start=1):
        own = hook.timeout.total_seconds()
        left = deadline.remaining() if deadline is not None else None
        if left is not None and left <= 0:
            raise HookFailed(
                f"{when} hook {number} ({' '.join(hook.command)}) not started: the run's "
                f"deadline passed: {deadline}"
            )
        try:
            completed = process.run(
                hook.command,
                cwd=cwd,
                timeout=own if left is None else min(own, left),
                cancel=cancel,
                grace=10,
            )
        except OSError as exc:
            raise HookFailed(
                f"{when} hook {number} ({hook.command[0]}) could not start: {exc.strerror}"
            ) from exc
        for line in completed.stdout:
            log.info("%s hook %d: %s", when, number, line)
        if completed.canceled:
            raise Interrupted(f"{when} hook {number} ({hook.command[0]}) canceled")
        if completed.timed_out:
            if left is not None and left < own:
                raise HookFailed(
                    f"{when} hook {number} ({' '.join(hook.command)}) stopped at the run's "
                    f"deadline: {deadline}"
                )
            raise HookFailed(
                f"{when} hook {number} ({' '.join(hook.command)}) timed out after its own "
                f"timeout of {format_duration(hook.timeout)}"
            )
        if completed.returncode != 0:
            raise HookFailed(
                f"{when} hook {number} ({' '.join(hook.command)}) failed with exit "
                f"code {completed.returncode}: {completed.stderr_tail or 'no output'}"
            )
        if succeeded is not None:
            succeeded.append(hook)
