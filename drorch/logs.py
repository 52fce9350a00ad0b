"""Logging set-up: stderr, journald-friendly, with job= and run= on every line."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
from collections.abc import Iterator

_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("job", default=None)
_run: contextvars.ContextVar[int | None] = contextvars.ContextVar("run", default=None)


@contextlib.contextmanager
def context(*, job: str | None = None, run: int | None = None) -> Iterator[None]:
    tokens = (_job.set(job), _run.set(run))
    try:
        yield
    finally:
        _job.reset(tokens[0])
        _run.reset(tokens[1])


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        parts = []
        if (job := _job.get()) is not None:
            parts.append(f"job={job}")
        if (run := _run.get()) is not None:
            parts.append(f"run={run}")
        record.context = (" " + " ".join(parts)) if parts else ""
        return True


def configure(verbosity: int = 0) -> None:
    """WARNING by default, INFO with -v, DEBUG with -vv. No timestamps under systemd."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    under_systemd = "JOURNAL_STREAM" in os.environ or "INVOCATION_ID" in os.environ
    fmt = "%(levelname)s %(name)s: %(message)s%(context)s"
    if not under_systemd:
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler narrates every job at INFO; drorch logs the runs itself.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
