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

from tests.conftest import JOB_YAML, RootFactory
from tests.e2e.conftest import Cli

MEMORY_LIMIT = 2 * 1024**3  # far above what validate needs, far below a bomb's appetite


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def drorch(cli: Cli, root: Path, command: str) -> subprocess.CompletedProcess[str]:
    """The command, with its memory bounded; the harness's timeout bounds its time."""
    return cli(command, root=root, preexec_fn=_limit_memory)


def billion_laughs() -> str:
    """Ten levels of ten: about 10**10 values once expanded, from 600 bytes."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_validate_refuses_an_alias_bomb(cli: Cli, make_root: RootFactory) -> None:
    root = make_root()  # its keys are made from a valid config: hostile files come after
    (root / "jobs" / "bomb.yaml").write_text(billion_laughs(), encoding="utf-8")
    done = drorch(cli, root, "validate")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "jobs/bomb.yaml:5: l4[" in done.stderr
    assert "YAML aliases expand to more than 100000 values" in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_and_the_daemon_refuse_a_recursive_alias(cli: Cli, make_root: RootFactory) -> None:
    root = make_root()
    (root / "jobs" / "app.yaml").write_text(JOB_YAML + "x: &a [*a]\n", encoding="utf-8")
    expected = "jobs/app.yaml:4: x[0]: alias *a refers to the value that contains it (a cycle)"
    for command in ("validate", "daemon"):
        done = drorch(cli, root, command)
        assert done.returncode == 2, (command, done.stderr[-2000:])
        assert expected in done.stderr, command
        assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr


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
