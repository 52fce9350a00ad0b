"""Several daemons on one PostgreSQL catalog, as real subprocesses with the real restic: one
leads, a standby takes over when the leader is SIGKILLed mid-run or cut off from the
server, and the catalog shows that no slot ran twice and no two runs overlapped.

Each daemon has a config root of its own (its state dir, its node name) sharing the
catalog, the repository, the keys and the data."""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from drorch.catalog import Catalog, RunRecord, RunStatus, models, open_catalog, utc_now
from drorch.catalog.leadership import leader, lock_key
from drorch.catalog.nodes import set_draining
from tests.conftest import DRORCH_YAML, POLICY_YAML, write_root
from tests.e2e.conftest import Cli
from tests.e2e.daemon_harness import DaemonProcess, wait_for
from tests.pg import pg_schema_url

log = logging.getLogger(__name__)

# A snapshot every 3 s that spends 2 s in its before hook: there is always a run to kill.
JOB = """\
policy: standard
source: {{paths: [{data}], before: [[sleep, "2"]]}}
snapshot: {{target: primary, schedule: "every 3s"}}
"""
TIGHT = """\
rpo: 10s
rto: 4h
residency: [ML]
"""
# Slots 20 s apart: the slot lost with its node runs again long before the next one.
AT_RISK = """\
policy: tight
source: {{paths: [{data}], before: [[sleep, "2"]]}}
snapshot: {{target: primary, schedule: "every 20s"}}
"""
FAST = {"DRORCH_LEADERSHIP_EVERY": "1", "DRORCH_COMPLIANCE_EVERY": "5"}
TAKEOVER_LIMIT = 60.0  # no timing assertion: only "did not take over at all"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


def node_root(base: Path, name: str, url: str, shared: Path, job: str = JOB) -> Path:
    """A config root for node `name`: its own state dir, the shared repositories, keys and
    data (under `shared`)."""
    drorch = DRORCH_YAML.replace("repos/", f"{shared}/repos/").replace(
        "min_free: 1MiB}", "min_free: 1MiB, require_mount: false}"
    ) + (f"catalog: {url}\ndaemon: {{node: {name}}}\n")
    root = write_root(
        base / name,
        drorch=drorch,
        jobs={"app": job.format(data=shared / "data")},
        policies={"standard": POLICY_YAML, "tight": TIGHT},
        keys=False,
    )
    shutil.copytree(shared / "keys", root / "keys", dirs_exist_ok=True)
    return root


def two_roots(pg_url: str, tmp_path: Path, cli: Cli, job: str = JOB) -> tuple[Path, Path]:
    shared = write_root(tmp_path / "shared")  # its keys and data, shared by the nodes
    (shared / "repos").mkdir()
    a, b = (node_root(tmp_path, name, pg_url, shared, job) for name in ("a", "b"))
    cli("run", "app", root=a, check_rc=0)  # the schema, the repository, a first snapshot
    return a, b


@pytest.fixture
def roots(pg_url: str, tmp_path: Path, cli: Cli) -> tuple[Path, Path]:
    return two_roots(pg_url, tmp_path, cli)


def status_of(daemon: DaemonProcess) -> str:
    states = [s for s in daemon.notify.states() if s.startswith("STATUS=")]
    return states[-1] if states else ""


def daemon_runs(catalog: Catalog, action: str = "snapshot") -> list[RunRecord]:
    return sorted(
        (r for r in catalog.runs(job="app", action=action) if r.epoch is not None),
        key=lambda r: r.id,
    )


def assert_no_slot_twice_and_no_overlap(catalog: Catalog, action: str = "snapshot") -> None:
    """Every daemon run that was not INTERRUPTED holds a slot claim of its own (the claims
    are unique per slot), and no two runs of the job's action overlapped in time."""
    runs = daemon_runs(catalog, action)
    with catalog.session() as session:
        claimed = session.execute(select(models.SlotClaim.run_id, models.SlotClaim.slot_at)).all()
    holders = [run_id for run_id, _ in claimed]
    assert len(holders) == len(set(holders))
    for run in runs:
        if run.status is not RunStatus.INTERRUPTED:
            assert run.id in holders, f"run {run.id} ran without a slot of its own"
    spans = sorted(
        (r.started_at, r.finished_at, r.id)
        for r in catalog.runs(job="app", action=action)
        if r.started_at is not None
    )
    for (_, end, before), (begin, _, after) in itertools.pairwise(spans):
        assert end is not None and end <= begin, f"runs {before} and {after} overlapped"


@contextlib.contextmanager
def leader_and_standby(
    roots: tuple[Path, Path],
    pg_url: str,
    tmp_path: Path,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[DaemonProcess, DaemonProcess, Catalog]]:
    """Daemon a, READY as the leader, then daemon b, READY as its standby, and a reader on
    their catalog (left open for the test's checks after the daemons are gone); a runs
    under `command` (DaemonProcess's) when given, with `env` added."""
    a = DaemonProcess(roots[0], tmp_path, env={**FAST, **(env or {})}, command=command)
    b: DaemonProcess | None = None
    catalog = open_catalog(pg_url, tmp_path / "reader")
    try:
        a.wait_ready()
        assert "leader a (epoch 1)" in status_of(a), a.output()
        b = DaemonProcess(roots[1], tmp_path, env=FAST)
        b.wait_ready()
        assert status_of(b) == "STATUS=standby; leader a (epoch 1)", b.output()
        yield a, b, catalog
    except BaseException:
        catalog.close()
        raise
    finally:
        a.close()
        if b is not None:
            b.close()


def run_of(
    catalog: Catalog, node: str, status: RunStatus, action: str = "snapshot"
) -> RunRecord | None:
    """The newest daemon run of `node` in `status`."""
    found = [r for r in daemon_runs(catalog, action) if r.node == node and r.status is status]
    return found[-1] if found else None


def took_over(b: DaemonProcess, catalog: Catalog, since: float, what: str) -> None:
    """b leads (logged: how long after `since`), and a run of its own succeeds."""
    wait_for(lambda: "leader b" in status_of(b), TAKEOVER_LIMIT, "b to take over")
    took = time.monotonic() - since
    log.warning("takeover after %s: %.1f s", what, took)
    print(f"takeover after {what}: {took:.1f} s")
    wait_for(lambda: run_of(catalog, "b", RunStatus.SUCCEEDED), 60, "a run of b's to succeed")


@pytest.mark.heavy
def test_a_standby_takes_over_from_a_leader_killed_mid_run(
    roots: tuple[Path, Path], pg_url: str, tmp_path: Path
) -> None:
    with leader_and_standby(roots, pg_url, tmp_path) as (a, b, catalog):
        wait_for(lambda: run_of(catalog, "a", RunStatus.SUCCEEDED), 30, "a run of a's")
        killed = wait_for(
            lambda: run_of(catalog, "a", RunStatus.RUNNING), 30, "a run of a's in its hook"
        )
        assert isinstance(killed, RunRecord)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
        took_over(b, catalog, time.monotonic(), "SIGKILL of the leader")
        assert b.stop() == 0
    try:
        now = leader(catalog)
        assert now.epoch == 2 and now.node == "b"
        dead = catalog.run(killed.id)
        assert dead is not None and dead.status is RunStatus.INTERRUPTED, dead
        assert "ended without finishing it" in (dead.error or "")
        runs = daemon_runs(catalog)
        assert {(r.node, r.epoch) for r in runs} == {("a", 1), ("b", 2)}
        assert_no_slot_twice_and_no_overlap(catalog)
    finally:
        catalog.close()


@pytest.mark.heavy
def test_a_leader_cut_off_from_the_server_stops_and_the_standby_takes_over(
    roots: tuple[Path, Path], pg_url: str, tmp_path: Path
) -> None:
    with leader_and_standby(roots, pg_url, tmp_path) as (a, b, catalog):
        seen = max(r.id for r in catalog.runs())

        def started() -> RunRecord | None:  # a run of a's in its 2 s hook, not near its end
            run = run_of(catalog, "a", RunStatus.RUNNING)
            return run if run is not None and run.id > seen else None

        wait_for(started, 30, "a new run of a's")
        assert catalog.anchor is not None
        key = lock_key(catalog.anchor.identity.id)
        with catalog.engine.connect() as admin:  # the partition: a's lock session is cut
            [pid] = (
                admin.execute(
                    text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND classid = :high AND objid = :low"
                    ),
                    {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
                )
                .scalars()
                .all()
            )
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        took_over(b, catalog, time.monotonic(), "the leader's session was cut")
        wait_for(lambda: status_of(a).startswith("STATUS=standby"), 30, "a to stand by")
        assert a.stop() == 0
        assert b.stop() == 0
    try:
        assert leader(catalog).node == "b"
        a_runs = [r for r in daemon_runs(catalog) if r.node == "a"]
        assert all(r.status is not RunStatus.RUNNING for r in a_runs)
        canceled = [r for r in a_runs if r.status is RunStatus.CANCELED]
        assert canceled and all((r.error or "").startswith("leadership lost") for r in canceled)
        b_first = min(r.created_at for r in daemon_runs(catalog) if r.node == "b")
        assert all(r.created_at < b_first for r in a_runs)  # a started nothing after b led
        assert "no longer leads" in a.output()
        assert_no_slot_twice_and_no_overlap(catalog)
    finally:
        catalog.close()


@pytest.mark.heavy
def test_a_slot_lost_with_its_node_runs_again_at_once(
    pg_url: str, tmp_path: Path, cli: Cli
) -> None:
    roots = two_roots(pg_url, tmp_path, cli, AT_RISK)
    with leader_and_standby(roots, pg_url, tmp_path) as (a, b, catalog):
        killed = wait_for(
            lambda: run_of(catalog, "a", RunStatus.RUNNING), 30, "a's first scheduled run"
        )
        assert isinstance(killed, RunRecord)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)

        def rerun() -> RunRecord | None:
            again = [r for r in daemon_runs(catalog) if (r.details or {}).get("rerun_of")]
            return again[0] if again and again[0].status.finished else None

        done = wait_for(rerun, 30, "b to run the lost slot again")
        assert isinstance(done, RunRecord)
        assert b.stop() == 0
    try:
        assert (done.node, done.status, done.details["rerun_of"]) == (  # type: ignore[index]
            "b",
            RunStatus.SUCCEEDED,
            killed.id,
        )
        with catalog.session() as session:
            holders = session.execute(
                select(models.SlotClaim.run_id, models.SlotClaim.slot_at)
            ).all()
        slot_of = {run_id: slot for run_id, slot in holders}
        assert killed.id not in slot_of and done.id in slot_of  # the claim moved
        assert catalog.run(killed.id).status is RunStatus.INTERRUPTED  # type: ignore[union-attr]
        assert_no_slot_twice_and_no_overlap(catalog)
    finally:
        catalog.close()


def test_an_unreachable_catalog_is_waited_for_with_ready_withheld(tmp_path: Path, cli: Cli) -> None:
    """Nothing listens on port 1: the daemon names the catalog (not its password), tries
    again with backoff and never says READY; a command fails with the same message."""
    url = "postgresql+psycopg://drorch:sekret@127.0.0.1:1/drorch"
    root = write_root(tmp_path / "root", drorch=DRORCH_YAML + f"catalog: {url}\n")
    daemon = DaemonProcess(root, tmp_path)
    try:
        wait_for(lambda: daemon.output().count("trying again") >= 2, 30, "two tries")
        assert daemon.proc.poll() is None and daemon.notify.count("READY=1") == 0
        assert status_of(daemon).startswith(
            "STATUS=waiting for the catalog: cannot reach the catalog "
            "postgresql+psycopg://drorch:***@127.0.0.1:1/drorch"
        )
        assert "trying again in 1s" in daemon.output() and "trying again in 2s" in daemon.output()
        daemon.signal(signal.SIGTERM)
        daemon.proc.wait(10)
    finally:
        daemon.close()
    done = cli("status", root=root, check_rc=1)
    assert "cannot reach the catalog postgresql+psycopg://drorch:***@127.0.0.1:1/drorch" in (
        done.stderr
    )
    assert "sekret" not in daemon.output() + done.stderr + done.stdout
    assert "Traceback" not in done.stderr and "[SQL" not in done.stderr


# A run long enough to be drained in the middle of (a 6 s hook), slots 10 s apart.
LONG = """\
policy: standard
source: {{paths: [{data}], before: [[sleep, "6"]]}}
snapshot: {{target: primary, schedule: "every 10s"}}
"""


@pytest.mark.heavy
def test_a_drained_leader_finishes_its_run_then_hands_over(
    pg_url: str, tmp_path: Path, cli: Cli
) -> None:
    roots = two_roots(pg_url, tmp_path, cli, LONG)
    with leader_and_standby(roots, pg_url, tmp_path) as (a, b, catalog):
        running = wait_for(lambda: run_of(catalog, "a", RunStatus.RUNNING), 30, "a run of a's")
        assert isinstance(running, RunRecord)
        set_draining(catalog, "a", draining=True, by="test")  # as `drorch node drain a` does
        wait_for(
            lambda: "draining: 1 run(s) to finish before the handover" in status_of(a),
            30,
            "a to say it finishes its run first",
        )
        wait_for(lambda: "leader b (epoch 2)" in status_of(b), TAKEOVER_LIMIT, "b to take over")
        wait_for(lambda: status_of(a) == "STATUS=standby; node a is draining", 30, "a to stand by")
        wait_for(lambda: run_of(catalog, "b", RunStatus.SUCCEEDED), 60, "a run of b's")
        refused = cli("node", "drain", "b", root=roots[1], check_rc=2)
        assert "no other node is up to take over from b" in refused.stderr
        assert a.stop() == 0
        assert b.stop() == 0
    try:
        finished = catalog.run(running.id)
        assert finished is not None and finished.status is RunStatus.SUCCEEDED, finished
        a_runs = [r for r in daemon_runs(catalog) if r.node == "a"]
        b_runs = [r for r in daemon_runs(catalog) if r.node == "b"]
        assert max(r.id for r in a_runs) == running.id  # a started nothing once drained
        assert finished.finished_at is not None
        assert min(r.created_at for r in b_runs) >= finished.finished_at  # handed over after
        assert {r.epoch for r in b_runs} == {2}
        assert_no_slot_twice_and_no_overlap(catalog)
    finally:
        catalog.close()


@pytest.mark.heavy
def test_every_session_of_both_daemons_cut_at_once_as_a_server_restart_does(
    roots: tuple[Path, Path], pg_url: str, tmp_path: Path
) -> None:
    """The server ends every session of both daemons (what a PostgreSQL restart does to its
    clients): they reconnect, one leads again at a higher epoch, runs go on, nothing is
    left RUNNING, no slot ran twice."""
    with leader_and_standby(roots, pg_url, tmp_path) as (a, b, catalog):
        wait_for(lambda: run_of(catalog, "a", RunStatus.SUCCEEDED), 30, "a run of a's")
        names = [f"drorch pid {d.proc.pid}" for d in (a, b)]
        with catalog.engine.connect() as admin:
            cut = admin.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name IN (:a, :b)"
                ),
                {"a": names[0], "b": names[1]},
            ).scalar_one()
            admin.commit()
        assert cut >= 3  # at least the leader's lock session and a pooled one of each
        cut_at = utc_now()

        def leads_again() -> RunRecord | None:
            if leader(catalog).epoch < 2:
                return None
            after = [r for r in daemon_runs(catalog) if r.created_at > cut_at]
            done = [r for r in after if r.status is RunStatus.SUCCEEDED]
            return done[0] if done else None

        wait_for(leads_again, TAKEOVER_LIMIT, "a leader again, and a run of its own")
        assert a.proc.poll() is None and b.proc.poll() is None  # both reconnected
        assert a.stop() == 0
        assert b.stop() == 0
    try:
        assert all(r.status is not RunStatus.RUNNING for r in daemon_runs(catalog))
        assert_no_slot_twice_and_no_overlap(catalog)
    finally:
        catalog.close()


@pytest.mark.heavy
def test_three_daemons_with_the_leader_killed_at_random_moments(
    pg_url: str, tmp_path: Path, cli: Cli
) -> None:
    """Three nodes; four times, at a random moment (seeded: a failure replays), the leader
    is SIGKILLed and started again. Each kill hands leadership to another node at the next
    epoch; runs the kills cut short are INTERRUPTED; nothing is left RUNNING; no slot ran
    twice and no two runs overlapped."""
    shared = write_root(tmp_path / "shared")
    (shared / "repos").mkdir()
    roots = {name: node_root(tmp_path, name, pg_url, shared) for name in "abc"}
    cli("run", "app", root=roots["a"], check_rc=0)
    rng = random.Random(15)
    catalog = open_catalog(pg_url, tmp_path / "reader")
    daemons: dict[str, DaemonProcess] = {}
    try:
        for name in "abc":
            daemons[name] = DaemonProcess(roots[name], tmp_path, env=FAST)
            daemons[name].wait_ready()
        cut_short: list[int] = []
        for _ in range(4):
            time.sleep(rng.uniform(0.5, 4.0))
            before = leader(catalog)
            assert before.node is not None
            running = run_of(catalog, before.node, RunStatus.RUNNING)
            victim = daemons[before.node]
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait(10)
            killed = time.monotonic()
            if running is not None:
                cut_short.append(running.id)
            wait_for(lambda e=before.epoch: leader(catalog).epoch > e, TAKEOVER_LIMIT, "a takeover")
            after = leader(catalog)
            print(f"takeover {before.node} -> {after.node}: {time.monotonic() - killed:.1f} s")
            assert (after.epoch, after.node != before.node) == (before.epoch + 1, True)
            victim.close()
            daemons[before.node] = DaemonProcess(roots[before.node], tmp_path, env=FAST)
            daemons[before.node].wait_ready()
        last = leader(catalog)
        assert last.node is not None
        wait_for(
            lambda: [
                r for r in daemon_runs(catalog) if r.epoch == last.epoch and r.status.finished
            ],
            60,
            "a run of the last leader's",
        )
        for daemon in daemons.values():  # each stop may hand leadership to the next
            assert daemon.stop() == 0
        runs = daemon_runs(catalog)
        assert all(r.status is not RunStatus.RUNNING for r in runs)
        for run_id in cut_short:
            cut = catalog.run(run_id)
            assert cut is not None and cut.status in (RunStatus.INTERRUPTED, RunStatus.SUCCEEDED)
        assert {r.epoch for r in runs} <= set(range(1, leader(catalog).epoch + 1))
        assert_no_slot_twice_and_no_overlap(catalog)
    finally:
        for daemon in daemons.values():
            daemon.close()
        catalog.close()


@pytest.mark.heavy
def test_the_runs_of_a_target_only_one_node_reaches_go_to_that_node(
    pg_url: str, tmp_path: Path, cli: Cli
) -> None:
    """The primary target names node b (`nodes: [b]`, its disk is mounted there): a leads
    and schedules, b runs every snapshot, fenced by a's epoch; a runs none."""
    roots = two_roots(pg_url, tmp_path, cli)
    for root in roots:
        drorch = root / "drorch.yaml"
        text_ = drorch.read_text()
        assert text_.count("require_mount: false}") == 2
        drorch.write_text(
            text_.replace("require_mount: false}", "require_mount: false, nodes: [b]}", 1)
        )
    with leader_and_standby(roots, pg_url, tmp_path) as (a, b, catalog):

        def two_done() -> list[RunRecord]:
            done = [r for r in daemon_runs(catalog) if r.status is RunStatus.SUCCEEDED]
            return done if len(done) >= 2 else []

        wait_for(two_done, 60, "two snapshots made by b")
        assert b.stop() == 0  # b first: a stopping first would hand b the leadership
        assert a.stop() == 0
        assert "goes to node b" in a.output()
    try:
        runs = daemon_runs(catalog)
        assert {r.node for r in runs} == {"b"}
        assert {r.epoch for r in runs} == {1}  # a assigned them, at its epoch
        done = [r for r in runs if r.status is RunStatus.SUCCEEDED]
        assert len(done) >= 2
        assert all((r.details or {}).get("assigned_at_epoch") == 1 for r in done)
        assert_no_slot_twice_and_no_overlap(catalog)
    finally:
        catalog.close()
