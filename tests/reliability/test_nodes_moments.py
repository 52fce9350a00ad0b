"""Two daemons on one PostgreSQL catalog, the leader SIGKILLed at an exact moment: right
after it appended a restore test's evidence (committed, the evidence writer lock still
held), and inside a tape-out's write to a cartridge. The leader runs under
tests.reliability.paused_drorch, which stops it there and touches a flag; the test kills
it then, so the fault lands at that moment every time.

Then: the standby takes over and runs the killed slot again, which succeeds; the evidence
log verifies (no torn or doubled record); no slot ran twice, no two runs overlapped; on
tape, nothing is recorded as a copy that is not whole, and the next tape-out (by the node
that was killed) succeeds and restores byte for byte. The tape case again without daemons,
on SQLite and PostgreSQL: a node's stale staging repository is never written over the
media set another node wrote."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from drorch.catalog import Catalog, RunRecord, RunStatus, models
from drorch.catalog.evidence import records_of_kind
from tests.conftest import DRORCH_YAML, REPO_ROOT, write_root
from tests.e2e.conftest import Cli, as_json
from tests.e2e.daemon_harness import wait_for
from tests.pg import pg_schema_url
from tests.reliability.test_kill_actions import VAULT
from tests.reliability.test_nodes import (
    assert_no_slot_twice_and_no_overlap,
    daemon_runs,
    leader_and_standby,
    node_root,
    run_of,
)
from tests.reliability.test_tape_faults import Site, killed
from tests.slow_restic import lock_files

pytestmark = pytest.mark.heavy

# Slots 20 s apart: the killed slot runs again long before the next one falls.
RESTORE_TEST = """\
policy: standard
source: {{paths: [{data}]}}
snapshot: {{target: primary}}
restore_test: {{from: [primary], verify: [restic], schedule: "every 20s"}}
"""
TAPE_OUT = """\
policy: standard
source: {{paths: [{data}]}}
snapshot: {{target: primary}}
replicate: [{{to: vault, schedule: "every 20s"}}]
"""


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


def roots_with_vault(pg_url: str, tmp_path: Path, cli: Cli, job: str) -> tuple[Path, Path]:
    """Nodes a and b sharing the repositories, keys, data (with 1 MiB: an archive of
    several records on tape) and the virtual tape library; a first snapshot."""
    shared = write_root(tmp_path / "shared", drorch=DRORCH_YAML + VAULT)
    (shared / "repos").mkdir()
    (shared / "data" / "big.bin").write_bytes(os.urandom(1 << 20))
    vault = VAULT.replace("path: vtl", f"path: {shared}/vtl")
    roots = tuple(node_root(tmp_path, name, pg_url, shared, job) for name in "ab")
    for root in roots:
        config = root / "drorch.yaml"
        config.write_text(config.read_text().replace("catalog:", vault + "catalog:", 1))
    cli("run", "app", "snapshot", root=roots[0], check_rc=0)
    return roots[0], roots[1]


def paused(flag: Path, what: str, count: int) -> list[str]:
    """The daemon, stopped after its `count`-th call of paused_drorch's point `what`."""
    return [sys.executable, "-m", "tests.reliability.paused_drorch", str(flag), what, str(count)]


def kill_at_the_pause_then_rerun(
    roots: tuple[Path, Path], pg_url: str, tmp_path: Path, what: str, count: int, action: str
) -> tuple[RunRecord, RunRecord, Catalog]:
    """a leads and stops at the pause, in a scheduled run of `action`; it is SIGKILLed
    there; b takes over and runs the slot again. Returns the killed run, the run again
    (both as they ended) and the reader's catalog (the caller closes it)."""
    flag = tmp_path / f"paused-{what}"
    with leader_and_standby(
        roots,
        pg_url,
        tmp_path,
        command=[*paused(flag, what, count), "daemon"],
        env={"PYTHONPATH": str(REPO_ROOT)},
    ) as (a, b, catalog):
        wait_for(flag.exists, 90, f"the leader to pause at {what} {count}")
        killed = run_of(catalog, "a", RunStatus.RUNNING, action)
        assert killed is not None, a.output()
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)

        def rerun() -> RunRecord | None:
            again = [
                r
                for r in daemon_runs(catalog, action)
                if (r.details or {}).get("rerun_of") == killed.id
            ]
            return again[0] if again and again[0].status.finished else None

        done = wait_for(rerun, 90, "b to run the killed slot again")
        assert isinstance(done, RunRecord)
        assert b.stop() == 0
    dead = catalog.run(killed.id)
    assert dead is not None and dead.status is RunStatus.INTERRUPTED, dead
    assert (done.node, done.epoch, done.status) == ("b", 2, RunStatus.SUCCEEDED), done
    assert_no_slot_twice_and_no_overlap(catalog, action)
    return dead, done, catalog


def evidence_verifies(root: Path, cli: Cli, tmp_path: Path) -> int:
    """The whole log, exported and verified as an auditor would; its record count."""
    bundle = tmp_path / "bundle"
    cli("evidence", "export", "--out", bundle, root=root, check_rc=0)
    public = tmp_path / "drorch.pub.pem"
    public.write_text(cli("keys", "export-public", root=root, check_rc=0).stdout)
    report = as_json(cli("evidence", "verify", bundle, "--key", public, "--json", check_rc=0))
    assert report["ok"] is True and report["problem"] is None, report
    records: int = report["records"]
    return records


def test_the_leader_killed_right_after_it_appends_a_restore_tests_evidence(
    pg_url: str,
    tmp_path: Path,
    cli: Cli,
) -> None:
    roots = roots_with_vault(pg_url, tmp_path, cli, RESTORE_TEST)
    dead, done, catalog = kill_at_the_pause_then_rerun(
        roots, pg_url, tmp_path, "append", 1, "restore-test"
    )
    try:
        tests = records_of_kind(catalog, "restore-test")
        # the killed run's record, committed before the kill, and the run again's: each once
        assert [r.data["run"] for r in tests] == [dead.id, done.id], tests
        with catalog.session() as session:
            rows = session.execute(select(models.EvidenceEntry.seq)).scalars().all()
        assert sorted(rows) == list(range(1, len(rows) + 1))  # no gap, no seq twice
        assert evidence_verifies(roots[1], cli, tmp_path) == len(rows)
    finally:
        catalog.close()


def test_the_leader_killed_inside_a_tape_outs_write_to_a_cartridge(
    pg_url: str,
    tmp_path: Path,
    cli: Cli,
) -> None:
    roots = roots_with_vault(pg_url, tmp_path, cli, TAPE_OUT)
    # the label is record 1, the 1 MiB archive's first records follow: killed mid-archive
    dead, _, catalog = kill_at_the_pause_then_rerun(
        roots, pg_url, tmp_path, "write", 3, "replicate:vault"
    )
    try:
        with catalog.session() as session:
            kinds = session.execute(
                select(models.TapeFile.kind).where(models.TapeFile.run_id == dead.id)
            ).all()
        assert models.TapeFileKind.ARCHIVE not in {k for (k,) in kinds}, kinds  # nothing half
        evidence_verifies(roots[1], cli, tmp_path)
    finally:
        catalog.close()
    a = roots[0]  # the killed node's next tape-out, over its staging copy's leftovers
    (a.parent / "shared" / "data" / "more.bin").write_bytes(os.urandom(300_000))
    cli("run", "app", "snapshot", root=a, check_rc=0)
    again = cli("run", "app", "replicate", "--to", "vault", root=a, check_rc=0)
    assert "copied 1 new snapshot(s)" in again.stdout, again.stdout
    assert lock_files(a / "state" / "tape" / "vault" / "staging") == []
    back = tmp_path / "back"
    cli("restore", "app", "--from", "vault", "--to", back, root=a, check_rc=0)
    data = a.parent / "shared" / "data"
    for name in ("big.bin", "more.bin"):
        assert (back / (data / name).relative_to("/")).read_bytes() == (data / name).read_bytes()


def test_a_stale_staging_left_by_a_killed_tape_out_is_not_written_over_another_nodes(
    catalog_url: str, tmp_path: Path, cli: Cli
) -> None:
    """The tape case without daemons, on both catalogs: a's tape-out killed after the
    label (its staging repository made, nothing on tape), b's writes the media set from its
    own; a's next one reads b's back from tape instead of writing its own over it."""
    roots = roots_with_vault(catalog_url, tmp_path, cli, TAPE_OUT)
    a, b = (Site(root, cli) for root in roots)
    process, _ = a.paused("write", 1, "run", "app", "replicate", "--to", "vault")
    killed(process, a)
    b("run", "app", "replicate", "--to", "vault")
    data = tmp_path / "shared" / "data"
    (data / "more.bin").write_bytes(os.urandom(300_000))
    a("run", "app", "snapshot")
    again = a("run", "app", "replicate", "--to", "vault")
    assert "copied 1 new snapshot(s)" in again.stdout, again.stdout
    back = tmp_path / "back"
    a("restore", "app", "--from", "vault", "--to", back)
    for name in ("big.bin", "more.bin"):
        assert (back / (data / name).relative_to("/")).read_bytes() == (data / name).read_bytes()
