"""Hostile config roots against the real command line and daemon: each exits 2 naming the
file (and line), within a bounded time and memory, instead of hanging, swelling to
gigabytes or printing a RecursionError traceback.

Run as subprocesses because the failures they guard against are a hang and an exhausted
memory: the harness's timeout and an address-space limit turn those into a failed test.
"""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

from tests.conftest import RootFactory
from tests.e2e.conftest import Cli

MEMORY_LIMIT = 2 * 1024**3  # far above what validate needs, far below a bomb's appetite


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def drorch(cli: Cli, root: Path, command: str) -> subprocess.CompletedProcess[str]:
    """The command, with its memory bounded; the harness's timeout bounds its time."""
    return cli(command, root=root, preexec_fn=_limit_memory)


def test_validate_refuses_a_fifo_without_blocking(cli: Cli, make_root: RootFactory) -> None:
    root = make_root()
    os.mkfifo(root / "jobs" / "x.yaml")
    done = drorch(cli, root, "validate")
    assert done.returncode == 2, done.stderr
    assert "jobs/x.yaml: not a regular file (a FIFO); drorch reads only files" in done.stderr


def test_validate_refuses_a_symlink_to_dev_zero(cli: Cli, make_root: RootFactory) -> None:
    root = make_root()
    (root / "jobs" / "x.yaml").symlink_to("/dev/zero")
    done = drorch(cli, root, "validate")
    assert done.returncode == 2, done.stderr[-2000:]
    assert (
        "jobs/x.yaml: not a regular file (a character device); drorch reads only files"
        in done.stderr
    )
