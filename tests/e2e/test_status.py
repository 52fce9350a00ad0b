"""`drorch status` as a process, on a catalog written behind it: each job's newest run, its
next time, and the replication lag of each copy target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drorch.catalog import RunStatus, open_catalog
from tests.catalog_rows import run, snapshot
from tests.conftest import RootFactory
from tests.e2e.conftest import Cli, as_json

REPLICATED = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "5 * * * *"}
replicate: [{to: replica, schedule: "every 1h"}]
"""


def test_status_shows_newest_runs_next_times_and_lags(cli: Cli, make_root: RootFactory) -> None:
    root = make_root(jobs={"behind": REPLICATED, "in-step": REPLICATED, "idle": REPLICATED})
    now = datetime.now(UTC).replace(microsecond=0)
    catalog = open_catalog(None, root / "state")
    try:
        run(catalog, "snapshot", RunStatus.SUCCEEDED, now - timedelta(hours=3), job="behind")
        newest = run(catalog, "snapshot", RunStatus.FAILED, now - timedelta(hours=2), job="behind")
        copied = run(catalog, "replicate:replica", RunStatus.SUCCEEDED, now, job="in-step")
        for job in ("behind", "in-step"):
            for hours in (3, 2):
                at = now - timedelta(hours=hours)
                snapshot(catalog, "primary", f"{job}-{hours}", at, job=job)
                if job == "in-step" or hours == 3:
                    snapshot(
                        catalog,
                        "replica",
                        f"{job}-c{hours}",
                        at,
                        job=job,
                        original=f"{job}-{hours}",
                    )
    finally:
        catalog.close()
    status = as_json(cli("status", "--json", root=root, check_rc=0))
    rows = {(r["job"], r["action"]): r for r in status["jobs"]}
    assert rows[("behind", "snapshot")]["last_run"]["id"] == newest
    assert rows[("behind", "snapshot")]["last_run"]["status"] == "FAILED"
    assert rows[("in-step", "replicate:replica")]["last_run"]["id"] == copied
    assert rows[("idle", "snapshot")]["last_run"] is None
    # One cron expression, one next time for every job that has it: minute 5 of an hour.
    nexts = {rows[(job, "snapshot")]["next_at"] for job in ("behind", "in-step", "idle")}
    [next_at] = nexts
    assert next_at[14:19] == "05:00"
    lag = rows[("behind", "replicate:replica")]["replication_lag_s"]
    assert 2 * 3600 <= lag < 2 * 3600 + 600  # the newest snapshot with no copy: 2 h old
    assert rows[("in-step", "replicate:replica")]["replication_lag_s"] is None
    assert rows[("idle", "replicate:replica")]["replication_lag_s"] is None
