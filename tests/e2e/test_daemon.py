"""The daemon as a real subprocess under a fake systemd: readiness, watchdog, signals,
crash recovery and catch-up, with the real restic."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psutil
from sqlalchemy import update

from drorch.catalog import RunStatus, models
from drorch.catalog.daemon import missed_slots
from drorch.config.schedule import parse_schedule
from drorch.scheduler.timing import slots_between
from tests.conftest import DRORCH_YAML, RootFactory
from tests.e2e.daemon_harness import DaemonProcess, catalog_of, runs_of, wait_for

EVERY_2S = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 2s"}
"""

HOURLY = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "*/15 * * * *"}
"""


def big_file(root: Path, megabytes: int) -> None:
    with (root / "data" / "big.bin").open("wb") as handle:
        for _ in range(megabytes):
            handle.write(os.urandom(1024 * 1024))


def restic_children(root: Path) -> list[psutil.Process]:
    repo = str(root / "repos" / "primary")
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "restic" and repo in (proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_ready_watchdog_and_stopping(make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root(jobs={"app": EVERY_2S})
    daemon = DaemonProcess(root, tmp_path, watchdog_usec=600_000)
    try:
        daemon.wait_ready()
        wait_for(lambda: daemon.notify.count("WATCHDOG=1") >= 3, 10, "three watchdog pings")
        assert any(s.startswith("STATUS=1 jobs") for s in daemon.notify.states())
        assert daemon.stop() == 0
    finally:
        daemon.close()
    states = daemon.notify.states()
    assert "STOPPING=1" in states
    assert states.index("READY=1") < states.index("STOPPING=1")


def test_every_2s_runs_repeatedly_and_never_overlaps(
    make_root: RootFactory, tmp_path: Path, catalog_url: str
) -> None:
    """On each catalog backend (the root's `catalog:`)."""
    root = make_root(jobs={"app": EVERY_2S}, drorch=DRORCH_YAML + f'catalog: "{catalog_url}"\n')
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        wait_for(
            lambda: len([r for r in runs_of(root, url=catalog_url) if r.status.finished]) >= 3,
            60,
            "three finished runs",
        )
        assert daemon.stop() == 0
    finally:
        daemon.close()
    runs = runs_of(root, url=catalog_url)
    assert all(r.status is RunStatus.SUCCEEDED for r in runs), [(r.id, r.error) for r in runs]
    assert all(r.actor == "scheduler" for r in runs)
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished_at is not None and later.started_at is not None
        assert later.started_at >= earlier.finished_at, "two runs of one job overlapped"
    # the daemon's heartbeat said it was up, and it recorded its stop
    assert (
        "daemon: not running"
        in subprocess.run(
            [sys.executable, "-m", "drorch", "--config", str(root), "status"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_sighup_with_broken_yaml_keeps_the_old_schedule(make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root(jobs={"app": EVERY_2S})
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        wait_for(lambda: runs_of(root), 30, "a first run")
        (root / "jobs" / "app.yaml").write_text("policy: [unclosed\n")
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in daemon.output(), 10, "the reload to be refused")
        assert "jobs/app.yaml:2: invalid YAML" in daemon.output()
        count = len(runs_of(root))
        wait_for(
            lambda: len([r for r in runs_of(root) if r.status.finished]) >= count + 1,
            30,
            "runs to go on under the old schedule",
        )
        assert daemon.notify.count("READY=1") == 2  # ready again after the refused reload
        assert daemon.stop() == 0
    finally:
        daemon.close()


def test_catch_up_after_downtime_runs_exactly_once(make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root(jobs={"app": HOURLY})
    done = subprocess.run(
        [sys.executable, "-m", "drorch", "--config", str(root), "run", "app"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    catalog = catalog_of(root)
    [first] = catalog.runs()
    # the daemon was down for an hour after that run
    with catalog.session() as session, session.begin():
        session.execute(
            update(models.Run)
            .where(models.Run.id == first.id)
            .values(
                created_at=first.created_at - timedelta(hours=1),
                started_at=first.created_at - timedelta(hours=1),
            )
        )
    catalog.close()
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()  # every catch-up is decided before READY, and due at once
        wait_for(
            lambda: len([r for r in runs_of(root) if r.status.finished]) >= 2,
            30,
            "the catch-up run",
        )
        # a reload must not catch up again: wait until it is done, then stop, which waits
        # for every run started; from then on the log and the catalog are complete
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: f"reloaded {root}" in daemon.output(), 30, "the reload")
        assert daemon.stop() == 0
    finally:
        daemon.close()
    log = daemon.output()
    # one decision; a second one would also be in the log and double the missed slots
    assert log.count("(no daemon ran it); running it once now") == 1, log
    # a second catch-up run meeting the first is refused, and the refusal is logged
    assert "snapshot of app skipped" not in log
    runs = runs_of(root)
    assert len(runs) == 2
    assert [run.id for run in runs if (run.details or {}).get("catch_up")] == [runs[1].id]
    assert runs[1].status is RunStatus.SUCCEEDED
    # four quarter-hours in the hour of downtime, five when one more began before the
    # daemon came up: what the clock says, not a constant
    _, missed = slots_between(
        parse_schedule("*/15 * * * *"), first.created_at - timedelta(hours=1), runs[1].created_at
    )
    assert missed in (4, 5)
    assert runs[1].details is not None and runs[1].details["catch_up"]["missed_slots"] == missed
    catalog = catalog_of(root)
    assert [action for _, action, _ in missed_slots(catalog, job="app")] == ["snapshot"] * missed
    catalog.close()


def test_invalid_config_exits_2_before_ready(make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root(jobs={"app": EVERY_2S.replace("primary", "primry")})
    daemon = DaemonProcess(root, tmp_path)
    try:
        assert daemon.proc.wait(30) == 2
    finally:
        daemon.close()
    assert "snapshot.target: no target named 'primry'" in daemon.output()
    assert daemon.notify.count("READY=1") == 0


def test_unusable_catalog_exits_non_zero(make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    root = make_root(drorch=DRORCH_YAML + f"catalog: sqlite:///{blocker}/catalog.sqlite\n")
    daemon = DaemonProcess(root, tmp_path)
    try:
        assert daemon.proc.wait(30) == 1
    finally:
        daemon.close()
    assert "cannot open the catalog" in daemon.output()
    assert daemon.notify.count("READY=1") == 0


def test_offline_target_at_start_does_not_stop_the_daemon(make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root(jobs={"app": EVERY_2S})
    done = subprocess.run(
        [sys.executable, "-m", "drorch", "--config", str(root), "run", "app"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (root / "repos" / "primary").rename(root / "repos" / "unplugged")
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        assert "target primary is offline" in daemon.output()
        wait_for(
            lambda: len(runs_of(root)) >= 2 and runs_of(root)[-1].status.finished,
            30,
            "a run against the offline target",
        )
        assert daemon.stop() == 0
    finally:
        daemon.close()
    last = runs_of(root)[-1]
    assert last.status is RunStatus.FAILED
    assert (last.error or "").startswith("target 'primary' is offline")
    assert not (root / "repos" / "primary").exists()


def test_a_second_run_of_the_same_job_is_refused_naming_the_first(make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    big_file(root, 300)
    cli = [sys.executable, "-m", "drorch", "--config", str(root), "run", "app"]
    first = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: restic_children(root), 30, "the first run's restic")
        second = subprocess.run(cli, capture_output=True, text=True, check=False)
        assert second.returncode == 1
        assert f"already running (run 1, pid {first.pid} on " in second.stderr
    finally:
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert [r.id for r in runs_of(root)] == [1]
    assert (
        json.loads(
            subprocess.run(
                [*cli[:-2], "runs", "--json"], capture_output=True, text=True, check=True
            ).stdout
        )[0]["status"]
        == "SUCCEEDED"
    )


def test_an_unreadable_evidence_key_stops_the_daemon_before_ready(
    make_root, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    root = make_root(jobs={"app": EVERY_2S})
    (root / "keys" / "evidence.ed25519").write_text("not a key\n")
    daemon = DaemonProcess(root, tmp_path)
    try:
        assert daemon.proc.wait(30) == 2
    finally:
        daemon.close()
    assert "evidence" in daemon.output()
    assert daemon.notify.count("READY=1") == 0


def test_a_hand_edited_evidence_log_is_reported_at_start(make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root(jobs={"app": HOURLY})
    cli = [sys.executable, "-m", "drorch", "--config", str(root), "run", "app"]
    assert subprocess.run(cli, capture_output=True, check=False).returncode == 0
    done = subprocess.run([*cli, "restore-test"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    catalog = catalog_of(root)
    with catalog.session() as session, session.begin():
        row = session.get(models.EvidenceEntry, 1)
        assert row is not None
        row.body = row.body.replace('"result":"pass"', '"result":"fail"')
    catalog.close()
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        wait_for(
            lambda: "the evidence log is damaged" in daemon.output(),
            20,
            "the self-check to report the edit",
        )
        assert daemon.stop() == 0
    finally:
        daemon.close()
    assert "evidence record 1" in daemon.output()
