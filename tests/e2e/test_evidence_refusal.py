"""Every appender refuses to sign over a damaged log, and `keys init` refuses to make a
new evidence key under a log signed with another: from the CLI and from the daemon, on a
real catalog changed by hand and a real restore test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from drorch.catalog import RunStatus
from drorch.catalog import evidence as table
from drorch.evidence.canonical import canonical_bytes
from drorch.evidence.merkle import Tree, leaf_hash
from tests.e2e.conftest import Cli
from tests.e2e.daemon_harness import DaemonProcess, catalog_of, runs_of, wait_for
from tests.unit.evidence.conftest import write_key_pair

TESTED_EVERY_2S = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "*/15 * * * *"}
restore_test: {schedule: "every 2s"}
"""


def two_restore_tests(cli: Cli, root: Path) -> Path:
    """A snapshot and two restore tests: records 1 and 2 in the log."""
    cli("run", "app", root=root, check_rc=0)
    for _ in range(2):
        cli("run", "app", "restore-test", root=root, check_rc=0)
    return root


@pytest.fixture
def logged(cli: Cli, make_root) -> Path:  # type: ignore[no-untyped-def]
    return two_restore_tests(cli, make_root())


def replace_key(root: Path, tmp_path: Path) -> Path:
    """Another key in the evidence key file, as `keys init` once made after it was moved."""
    key = root / "keys" / "evidence.ed25519"
    key.write_bytes(write_key_pair(tmp_path / "new").private.read_bytes())
    return key


def count(root: Path) -> int:
    catalog = catalog_of(root)
    try:
        return table.count(catalog)
    finally:
        catalog.close()


def fail_record_1_and_fix_the_newest_root(root: Path) -> None:
    """Record 1 made a failure, the newest checkpoint's root_hash column fixed to match:
    the log's tip as the old check saw it is whole again."""
    catalog = catalog_of(root)
    with catalog.engine.begin() as connection:
        body = json.loads(
            connection.execute(text("SELECT body FROM evidence_records WHERE seq = 1")).scalar_one()
        )
        edited = canonical_bytes({**body, "result": "fail"}).decode()
        connection.execute(
            text("UPDATE evidence_records SET body = :b WHERE seq = 1"), {"b": edited}
        )
    leaves = [leaf_hash(body.encode()) for _, body in table.leaves(catalog)]
    with catalog.engine.begin() as connection:
        connection.execute(
            text("UPDATE checkpoints SET root_hash = :r WHERE tree_size = :n"),
            {"r": Tree(leaves).root().hex(), "n": len(leaves)},
        )
    catalog.close()


def test_run_restore_test_fails_rather_than_sign_over_a_tampered_log(
    cli: Cli, logged: Path
) -> None:
    root = logged
    fail_record_1_and_fix_the_newest_root(root)
    done = cli("run", "app", "restore-test", root=root, check_rc=1)
    assert "the result could not be recorded as evidence" in done.stderr
    assert "checkpoint 2 has a root_hash column that disagrees with its signed body" in (
        done.stderr
    )
    assert count(root) == 2
    assert runs_of(root, "restore-test")[-1].status == RunStatus.FAILED


def test_run_restore_test_refuses_a_replaced_key_naming_both(
    cli: Cli, logged: Path, tmp_path: Path
) -> None:
    root = logged
    replace_key(root, tmp_path)
    done = cli("run", "app", "restore-test", root=root, check_rc=1)
    assert "the result could not be recorded as evidence: the evidence log is signed with key" in (
        done.stderr
    )
    assert "drorch keys rotate" in done.stderr
    assert count(root) == 2


def test_keys_init_refuses_a_new_evidence_key_under_a_signed_log(
    cli: Cli, logged: Path, tmp_path: Path
) -> None:
    root = logged
    key = root / "keys" / "evidence.ed25519"
    signed_with = json.loads(cli("evidence", "show", "2", "--json", root=root, check_rc=0).stdout)[
        "key_id"
    ]
    key.rename(tmp_path / "moved.ed25519")
    (root / "keys" / "replica.pass").unlink()
    done = cli("keys", "init", root=root, check_rc=1)
    assert (
        f"the evidence key {key} is missing, but the evidence log in the catalog holds "
        f"records signed with key {signed_with}" in done.stderr
    )
    assert "from a backup" in done.stderr and "drorch keys rotate" in done.stderr
    assert done.stdout == ""
    assert not key.exists() and not (root / "keys" / "replica.pass").exists()  # nothing
    (tmp_path / "moved.ed25519").rename(key)  # the key restored: keys init goes on
    again = cli("keys", "init", root=root, check_rc=0)
    assert again.stdout == f"created {root / 'keys' / 'replica.pass'}\n"


def test_keys_init_makes_the_first_key_without_creating_a_catalog(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root(keys=False)
    cli("keys", "init", root=root, check_rc=0)
    assert not (root / "state" / "catalog.sqlite").exists()


def test_the_daemon_refuses_to_sign_over_a_log_signed_by_another_key(
    cli: Cli, make_root, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    root = two_restore_tests(cli, make_root(jobs={"app": TESTED_EVERY_2S}))
    replace_key(root, tmp_path)
    before = len(runs_of(root, "restore-test"))
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        wait_for(
            lambda: (
                len(runs_of(root, "restore-test")) > before
                and runs_of(root, "restore-test")[-1].status != RunStatus.RUNNING
            ),
            120,
            "a scheduled restore test to end",
        )
        assert daemon.stop() == 0
    finally:
        daemon.close()
    tested = runs_of(root, "restore-test")[before:]
    assert tested and all(run.status == RunStatus.FAILED for run in tested)
    assert "could not be recorded as evidence" in (tested[0].error or "")
    assert count(root) == 2
    output = daemon.output()
    assert "the evidence log is damaged" in output  # the self-check at start
    assert "the evidence log is signed with key" in output  # each refusal, logged
