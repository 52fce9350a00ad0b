"""A repository damaged behind drorch's back: a pack deleted, an index truncated. The check
(reading all data) and the restore test both catch it, each failing with the repository
named; the failed restore test is signed evidence like a passed one; compliance turns
violated. The real CLI, the real restic, the damage done as a failing disk would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drorch.catalog import RunStatus
from tests.conftest import JOB_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json
from tests.integration.conftest import Env
from tests.integration.test_restore_test import evidence, job, restore_test

JOB = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary}
restore_test: {from: [primary], verify: [restic, canary]}
check: {read_data_subset: "100%"}
"""


def flip_bytes(path: Path) -> None:
    path.chmod(0o600)  # restic writes its files read-only
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for index in range(middle, middle + 16):
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))


def packs(env: Env) -> list[Path]:
    return sorted(
        (p for p in (env.root / "repos" / "primary" / "data").rglob("*") if p.is_file()),
        key=lambda p: p.stat().st_size,
    )


def files_in(repo: Path, folder: str) -> list[Path]:
    """The repository's files in folder, largest first."""
    found = [p for p in (repo / folder).rglob("*") if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_size, reverse=True)


def delete_the_largest_pack(repo: Path) -> None:
    files_in(repo, "data")[0].unlink()  # the 200 kB of file data


def truncate_the_index(repo: Path) -> None:
    for index in files_in(repo, "index"):
        index.chmod(0o600)
        index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])


DAMAGE: dict[str, Callable[[Path], None]] = {
    "a deleted pack": delete_the_largest_pack,
    "a truncated index": truncate_the_index,
}


def violated(cli: Cli, root: Path) -> set[str]:
    [job] = as_json(cli("compliance", "--json", root=root))
    return {rule["rule"] for rule in job["rules"] if not rule["ok"]}


def newest(runs: list[dict[str, Any]], action: str) -> dict[str, Any]:
    return next(r for r in runs if r["action"] == action)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_caught_by_check_and_restore_test_and_is_evidence(
    cli: Cli, make_root: RootFactory, damage: str
) -> None:
    root = make_root(jobs={"app": JOB})
    repo = root / "repos" / "primary"
    cli("run", "app", root=root, check_rc=0)
    cli("run", "app", "restore-test", root=root, check_rc=0)
    cli("run", "app", "check", root=root, check_rc=0)
    healthy = violated(cli, root)

    DAMAGE[damage](repo)

    check = cli("run", "app", "check", root=root)
    assert check.returncode == 1, (check.stdout, check.stderr)
    assert f"check of {repo}: " in check.stderr, check.stderr
    tested = cli("run", "app", "restore-test", root=root)
    assert tested.returncode == 1, (tested.stdout, tested.stderr)
    runs = as_json(cli("runs", "--json", root=root, check_rc=0))
    assert newest(runs, "check")["status"] == "FAILED"
    assert newest(runs, "restore-test")["status"] == "FAILED"
    records = as_json(cli("evidence", "list", "--json", root=root, check_rc=0))
    tests = [r for r in records if r["kind"] == "restore-test"]
    assert [r["result"] for r in tests] == ["pass", "fail"]
    assert {r["verified"] for r in records} == {True}
    now = violated(cli, root)
    assert now > healthy, (healthy, now)
    assert "failed_runs" in now


def test_damaged_file_data_is_found_by_reading_data(make_env: Callable[..., Env]) -> None:
    job = JOB_YAML + 'check: {read_data_subset: "100%"}\n'
    env = make_env(jobs={"app": job})
    assert env.run().status is RunStatus.SUCCEEDED
    flip_bytes(packs(env)[-1])  # the largest pack holds the 200 kB of file data

    run = env.run(action="check")

    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert "repository contains errors: Pack ID does not match, want " in run.error


def test_corrupted_repository_fails_the_check_with_restics_message(env: Env) -> None:
    assert env.run().status is RunStatus.SUCCEEDED
    for pack in packs(env):
        flip_bytes(pack)

    run = env.run(action="check")

    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert run.error.startswith(f"check of {env.root / 'repos' / 'primary'}: repository contains")
    # restic's own words about what it found, not only its closing "Fatal:" line: a plain
    # check loads every tree, so the damaged tree pack is what it reports.
    assert "error for tree " in run.error
    assert "ciphertext verification failed" in run.error


def test_flipped_bytes_in_a_pack_fail_with_restics_reason(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": job()})
    env.run()
    packs = sorted(
        (env.root / "repos" / "primary" / "data").rglob("*"),
        key=lambda p: p.is_file() and p.stat().st_size,
        reverse=True,
    )
    pack = packs[0]
    data = bytearray(pack.read_bytes())
    for offset in range(100, 200):
        data[offset] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(data))
    run = restore_test(env)
    assert run.status is RunStatus.FAILED
    record = evidence(run)
    assert record["result"] == "fail"
    [restic_check] = [c for c in record["checks"] if c["name"] == "restic"]
    assert restic_check["passed"] is False
    assert "restore of snapshot" in restic_check["detail"]
    assert run.error is not None and run.error.startswith("restic: ")
