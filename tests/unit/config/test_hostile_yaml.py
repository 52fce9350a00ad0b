"""Hostile files in a config root: alias bombs, recursive aliases, deep nesting, huge files
and files that are not regular files. Each is one problem naming the file and the line,
found quickly; none hangs, none crashes with a traceback.

The cases that hung or exhausted memory before their fix run as subprocesses in
tests/reliability/test_hostile_config.py; here they are small enough to finish either way.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from drorch.config import load_config
from drorch.config.yamlsource import MAX_ALIAS_VALUES, MAX_DEPTH, MAX_FILE_BYTES
from tests.conftest import JOB_YAML, RootFactory
from tests.unit.config.conftest import problems


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


def bomb(levels: int, width: int = 10) -> str:
    """A billion-laughs file: each level lists the previous one `width` times."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_the_alias_that_expands_too_far(
    make_root: RootFactory,
) -> None:
    # Levels of 10: l4's aliases expand 11,111 values each, and the budget of 100,000 runs
    # out inside l4 (line 5). Small enough to finish without the limit: 1.1 million values.
    assert MAX_ALIAS_VALUES == 100_000
    root = make_root(keys=False, jobs={"app": bomb(6)})
    [problem] = problems(root)
    assert problem.startswith("jobs/app.yaml:5: l4[")
    assert problem.endswith("YAML aliases expand to more than 100000 values (an alias bomb?)")


def test_a_recursive_alias_names_file_line_and_field(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs={"app": JOB_YAML + "x: &a [1, *a]\n"})
    assert problems(root) == [
        "jobs/app.yaml:4: x[1]: alias *a refers to the value that contains it (a cycle)"
    ]


def test_a_cycle_through_a_mapping_is_refused_too(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs={"app": JOB_YAML + "x: &m\n  y:\n    z: *m\n"})
    assert problems(root) == [
        "jobs/app.yaml:6: x.y.z: alias *m refers to the value that contains it (a cycle)"
    ]


def test_a_recursive_alias_in_drorch_yaml_is_a_config_error(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    with (root / "drorch.yaml").open("a", encoding="utf-8") as out:
        out.write("loop: &r {again: *r}\n")
    assert problems(root) == [
        "drorch.yaml:10: loop.again: alias *r refers to the value that contains it (a cycle)"
    ]


def test_shared_values_are_still_fine(make_root: RootFactory) -> None:
    """Aliases used as YAML means them (a value written once, used twice) keep working,
    and an error inside an aliased value names where the alias is used."""
    job = (
        "policy: standard\n"
        "source: {paths: &where [data]}\n"
        "snapshot: {target: primary}\n"
        "check: {read_data_subset: &share 5%}\n"
        "replicate: [{to: replica, verify_read_subset: *share}]\n"
    )
    config = load_config(make_root(keys=False, jobs={"app": job}), check_secrets=False)
    job_ = config.jobs["app"]
    assert [r.verify_read_subset for r in job_.replicate] == ["5%"]
    assert job_.source.paths == (config.root / "data",)
    bad = job.replace("5%}", "{every: 5%}}")
    assert problems(make_root(keys=False, jobs={"app": bad})) == [
        "jobs/app.yaml:5: replicate[0].verify_read_subset: must be a valid string",
        "jobs/app.yaml:4: check.read_data_subset: must be a valid string",
    ]


def test_deep_nesting_is_refused_not_a_recursion_error(make_root: RootFactory) -> None:
    deep = "[" * (MAX_DEPTH + 50) + "]" * (MAX_DEPTH + 50)
    root = make_root(keys=False, jobs={"app": JOB_YAML + f"x: {deep}\n"})
    [problem] = problems(root)
    assert problem.startswith("jobs/app.yaml:4: ")
    assert problem.endswith(f"invalid YAML: nested more than {MAX_DEPTH} levels deep")


def test_nesting_through_aliases_is_bounded_too(make_root: RootFactory) -> None:
    """Each alias may add the depth of what it names: the limit holds on the result."""
    half = MAX_DEPTH // 2 + 1
    text = f"a: &a {'[' * half}1{']' * half}\nb: {'[' * half}*a{']' * half}\n"
    [problem] = problems(make_root(keys=False, jobs={"app": text}))
    assert problem.startswith("jobs/app.yaml:2: b")
    assert problem.endswith(f"nested more than {MAX_DEPTH} levels deep")


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
