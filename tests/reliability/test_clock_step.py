"""The system clock stepped under a running daemon, for real (libfaketime, tests/faketime.py):
back an hour, then forward a day, while a job snapshots every 2 s.

- Back an hour: the daemon goes on (systemd still hears WATCHDOG=1), runs on the slots of
  the clock it now reads and says in its log that the clock stepped back. No slot runs
  twice: every scheduled run holds a slot of its own.
- Forward a day: one catch-up run, for the newest slot the step skipped; the others are
  counted and recorded as missed, never run (a slot that ran is never recorded missed).
- Throughout, no age `drorch status --json` or `drorch compliance --json` shows is
  negative, though the snapshots taken before the step back are dated an hour ahead of
  the clock (drorch gives restic `--time` from its own clock).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from drorch.catalog import RunRecord, RunStatus, models
from drorch.catalog.daemon import missed_slots
from drorch.scheduler.timing import SLOT_LIMIT
from tests.conftest import DRORCH_YAML, RootFactory
from tests.e2e.daemon_harness import DaemonProcess, catalog_of, runs_of, wait_for
from tests.faketime import FakeClock

EVERY_2S = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 2s"}
replicate: [{to: replica, schedule: "0 0 1 1 *"}]
"""
HOUR, DAY = 3600, 86400
AGES = ("rpo:", "verified_rpo", "restore_test", "check")  # compliance rules valued in seconds


def finished(root: Path, url: str) -> list[RunRecord]:
    return [r for r in runs_of(root, url=url) if r.status.finished]


def drorch_json(clock: FakeClock, root: Path, *args: str) -> Any:
    """`drorch ARGS --json` on the stepped clock, as an operator on that host runs it."""
    done = subprocess.run(
        clock.command("--config", str(root), *args, "--json"),
        capture_output=True,
        text=True,
        env={**os.environ, **clock.env()},
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 3), done.stderr  # 3: a rule violated (no copy, no test)
    return json.loads(done.stdout)


def assert_no_negative_age(clock: FakeClock, root: Path) -> None:
    status = drorch_json(clock, root, "status")
    lags = [
        row["replication_lag_s"] for row in status["jobs"] if row["replication_lag_s"] is not None
    ]
    durations = [
        row["last_duration_s"] for row in status["jobs"] if row["last_duration_s"] is not None
    ]
    assert lags, status  # the replica is never written: its lag is shown
    assert all(value >= 0 for value in lags + durations), status
    [job] = drorch_json(clock, root, "compliance")
    ages = [r for r in job["rules"] if r["rule"].startswith(AGES) and r["value"] is not None]
    assert ages, job
    assert all(rule["value"] >= 0 for rule in ages), ages


@pytest.mark.heavy
def test_the_clock_stepped_back_an_hour_then_forward_a_day_under_the_daemon(
    make_root: RootFactory, tmp_path: Path, catalog_url: str
) -> None:
    clock = FakeClock(tmp_path)
    root = make_root(jobs={"app": EVERY_2S}, drorch=DRORCH_YAML + f'catalog: "{catalog_url}"\n')
    daemon = DaemonProcess(root, tmp_path, env=clock.env(), command=clock.command("daemon"))
    try:
        daemon.wait_ready()
        wait_for(lambda: finished(root, catalog_url), 30, "a first run")
        first = finished(root, catalog_url)[0]

        clock.step(-HOUR)
        pings = daemon.notify.count("WATCHDOG=1")  # every 0.5 s: WATCHDOG_USEC is 1 s
        wait_for(lambda: daemon.notify.count("WATCHDOG=1") >= pings + 4, 20, "WATCHDOG=1")
        wait_for(
            lambda: (
                len([r for r in finished(root, catalog_url) if r.created_at < first.created_at])
                >= 2
            ),
            20,
            "two runs on the clock stepped back",
        )
        assert "the system clock stepped back by 1:00:00" in daemon.output()
        assert_no_negative_age(clock, root)

        clock.step(DAY + HOUR)
        stepped = datetime.fromtimestamp(clock.now(), UTC)
        wait_for(
            lambda: [r for r in finished(root, catalog_url) if r.created_at >= stepped][1:],
            20,
            "the catch-up run and the next slot's",
        )
        assert "the system clock stepped forward by 1 day, 1:00:00" in daemon.output()
        assert_no_negative_age(clock, root)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    runs = runs_of(root, url=catalog_url)
    catalog = catalog_of(root, catalog_url)
    try:
        with catalog.session() as session:
            claims = session.execute(select(models.SlotClaim.slot_at, models.SlotClaim.run_id))
            slot_of = {run_id: slot for slot, run_id in claims}
        missed = [slot for _, action, slot in missed_slots(catalog, job="app")]
    finally:
        catalog.close()
    # restic (under LD_PRELOAD too, unaffected) did every run; a stop may cancel the last
    assert {r.status for r in runs} <= {RunStatus.SUCCEEDED, RunStatus.CANCELED}, runs
    assert [r.status for r in runs[:-1]] == [RunStatus.SUCCEEDED] * (len(runs) - 1), runs
    # No slot ran twice, and every run the scheduler started holds its slot.
    assert sorted(slot_of) == [r.id for r in runs], (slot_of, runs)
    assert len(set(slot_of.values())) == len(slot_of)
    # One catch-up, for the newest slot the step skipped; 25 h of slots counted, the first
    # ones and the newest recorded as missed (bounded, SLOT_LIMIT); none that ran.
    [catch_up] = [r for r in runs if (r.details or {}).get("catch_up")]
    told = (catch_up.details or {})["catch_up"]
    assert abs(told["missed_slots"] - (DAY + HOUR) // 2) <= 5, told
    # the daemon notices the step within a second or so of the test making it
    assert abs(slot_of[catch_up.id] - stepped) <= timedelta(seconds=4), told
    assert told["last"] == slot_of[catch_up.id].isoformat()
    first_skipped = datetime.fromisoformat(told["first"])
    listed = {first_skipped + timedelta(seconds=2 * k) for k in range(SLOT_LIMIT - 1)}
    assert listed | {slot_of[catch_up.id]} <= set(missed)
    assert len(set(missed)) == len(missed)  # none recorded twice
    # a slot that ran is never recorded missed, but for the one the catch-up caught up
    assert set(missed) & set(slot_of.values()) == {slot_of[catch_up.id]}
    # Bounded: after the step, the catch-up and one run a slot (2 s) since; not a storm.
    after = [r for r in runs if r.created_at >= stepped]
    since = (after[-1].created_at - stepped) / timedelta(seconds=2)
    assert 2 <= len(after) <= 2 + since, [(r.id, r.created_at, r.details) for r in after]
