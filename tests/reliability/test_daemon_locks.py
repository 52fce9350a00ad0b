"""A running daemon and a stale restic lock: restic SIGKILLed (as the OOM killer would)
while the daemon runs leaves its lock, and the daemon's next check removes it and goes on,
without a restart. The real daemon, the real restic, a real lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli, as_json
from tests.e2e.daemon_harness import DaemonProcess, wait_for
from tests.slow_restic import kill_leftovers, random_file, stale_lock

# Every 5 s, not more often: a check holds restic's exclusive lock, and the test's own
# restic must find a moment between two checks to take its lock (on a loaded machine a
# check every 2 s left none within a minute).
CHECK_EVERY_5S = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "0 0 1 1 *"}
check: {schedule: "every 5s"}
"""


@pytest.mark.heavy
def test_a_running_daemon_removes_a_stale_lock_before_its_next_check(  # type: ignore[no-untyped-def]
    cli: Cli, make_root, tmp_path: Path
) -> None:
    root = make_root(jobs={"app": CHECK_EVERY_5S})
    cli("run", "app", root=root, check_rc=0)
    random_file(root / "slow.bin", 8)

    def checks() -> list[dict[str, Any]]:
        runs = as_json(cli("runs", "--json", root=root, check_rc=0))
        return [r for r in runs if r["action"] == "check"]

    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        wait_for(lambda: any(r["status"] == "SUCCEEDED" for r in checks()), 30, "a check")
        lock, pid = stale_lock(
            root / "repos" / "primary",
            root / "keys" / "primary.pass",
            root / "slow.bin",
            watched=True,  # the daemon may remove it before this test looks again
        )
        after = max(r["id"] for r in checks())
        wait_for(
            lambda: any(r["id"] > after and r["status"] == "SUCCEEDED" for r in checks()),
            60,
            "a check after the stale lock to succeed",
        )
        assert daemon.stop() == 0
    finally:
        daemon.close()
        kill_leftovers(root / "repos" / "primary")
    assert f"removed stale restic lock {lock[:8]} of pid {pid}" in daemon.output()
