"""Run a job's before/after hooks: argument lists, no shell, with a timeout."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from drorch import process
from drorch.config.model import HookSpec
from drorch.errors import HookFailed, Interrupted

log = logging.getLogger(__name__)


def run_hooks(
    hooks: Sequence[HookSpec],
    *,
    when: str,
    cwd: Path,
    cancel: threading.Event | None = None,
    succeeded: list[HookSpec] | None = None,
) -> None:
    """Run hooks in order from cwd; the first failure raises HookFailed naming it.

    `succeeded` collects the hooks that ran to success, so a caller knows what to undo.
    """
    for number, hook in enumerate(hooks, start=1):
        try:
            completed = process.run(
                hook.command,
                cwd=cwd,
                timeout=hook.timeout.total_seconds(),
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
            raise HookFailed(
                f"{when} hook {number} ({' '.join(hook.command)}) timed out after "
                f"{hook.timeout.total_seconds():.0f}s"
            )
        if completed.returncode != 0:
            raise HookFailed(
                f"{when} hook {number} ({' '.join(hook.command)}) failed with exit "
                f"code {completed.returncode}: {completed.stderr_tail or 'no output'}"
            )
        if succeeded is not None:
            succeeded.append(hook)
