"""Hostile files in a config root: alias bombs, recursive aliases, deep nesting, huge files
and files that are not regular files. Each is one problem naming the file and the line,
found quickly; none hangs, none crashes with a traceback.

The cases that hung or exhausted memory before their fix run as subprocesses in
tests/e2e/test_hostile_config.py; here they are small enough to finish either way.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from drorch.config import load_config
from drorch.config.yamlsource import MAX_FILE_BYTES
from drorch.errors import ConfigError
from tests.conftest import RootFactory


def problems(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(root, check_secrets=False)
    return [str(issue) for issue in caught.value.issues]


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Turn a blocking open() into a failure instead of a hung test run."""

    def hung(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("load_config blocked for 20 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_file_over_the_size_limit_is_refused_unread(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    big = root / "policies" / "big.yaml"
    text = "# " + "x" * MAX_FILE_BYTES + "\nrpo: 1h\n"
    big.write_text(text, encoding="utf-8")
    assert MAX_FILE_BYTES == 1024**2
    assert problems(root) == [
        f"policies/big.yaml: {len(text)} bytes, more than the 1 MiB a config file may have"
    ]


@pytest.mark.usefixtures("no_hang")
def test_a_fifo_is_refused_without_blocking(make_root: RootFactory) -> None:
    """A FIFO nobody writes to would block an open() for reading forever; it is opened
    non-blocking and refused."""
    root = make_root(keys=False)
    os.mkfifo(root / "jobs" / "x.yaml")
    assert problems(root) == ["jobs/x.yaml: not a regular file (a FIFO); drorch reads only files"]


def test_a_symlink_to_a_device_is_refused(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    (root / "jobs" / "x.yaml").symlink_to("/dev/null")
    assert problems(root) == [
        "jobs/x.yaml: not a regular file (a character device); drorch reads only files"
    ]


def test_a_folder_named_like_a_definition_is_refused(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    (root / "runbooks" / "x.yaml").mkdir()
    assert problems(root) == [
        "runbooks/x.yaml: not a regular file (a directory); drorch reads only files"
    ]


def test_a_symlink_to_a_regular_file_is_read(make_root: RootFactory, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared-policy.yaml"
    elsewhere.write_text("rpo: 1h\nrto: 4h\nresidency: [ML]\n", encoding="utf-8")
    root = make_root(keys=False)
    (root / "policies" / "linked.yaml").symlink_to(elsewhere)
    config = load_config(root, check_secrets=False)
    assert set(config.policies) == {"standard", "linked"}


@pytest.mark.usefixtures("no_hang")
def test_drorch_yaml_must_be_a_regular_file(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    (root / "drorch.yaml").unlink()
    os.mkfifo(root / "drorch.yaml")
    assert problems(root) == ["drorch.yaml: not a regular file (a FIFO); drorch reads only files"]
