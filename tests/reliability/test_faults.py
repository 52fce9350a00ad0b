"""Faults: a partial snapshot (exit 3), and secrets that must never leak."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import psutil
import pytest

from drorch.catalog import RunStatus
from tests.conftest import DRORCH_YAML
from tests.integration.conftest import Env

FAKE_RESTIC = """\
#!{python}
# The real restic, except that a backup ends like restic does when some source files
# could not be read (exit 3) - which root, running these tests, cannot be made to see.
import subprocess, sys
done = subprocess.run([{real!r}, *sys.argv[1:]])
if "backup" in sys.argv and done.returncode == 0:
    print("error: open /srv/app/locked.db: permission denied", file=sys.stderr)
    sys.exit(3)
sys.exit(done.returncode)
"""


def test_exit_3_is_a_partial_run_with_its_snapshot_recorded(
    make_env,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    restic_bin: str,
) -> None:
    import sys

    fake = tmp_path / "fake-restic"
    fake.write_text(FAKE_RESTIC.format(python=sys.executable, real=restic_bin))
    fake.chmod(0o755)
    env: Env = make_env(drorch=DRORCH_YAML + f"restic: {{binary: {fake}}}\n")
    run = env.run()
    assert run.status is RunStatus.PARTIAL
    assert run.error == (
        "snapshot of job app to target primary: snapshot is incomplete, some "
        "source files could not be read: error: open /srv/app/locked.db: "
        "permission denied"
    )
    [snapshot] = env.catalog.snapshots()
    assert snapshot.snapshot_id == run.snapshot_id
    assert len(snapshot.snapshot_id) == 64


def test_password_never_appears_in_argv_logs_or_artifacts(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    passwords = [t.password_file.read_text().strip() for t in env.config.targets.values()]
    seen_restic: list[list[str]] = []
    leaks: list[list[str]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for proc in psutil.process_iter(["cmdline"]):
                cmdline = proc.info["cmdline"] or []
                ours = any(arg.startswith(str(env.root)) for arg in cmdline)  # not a neighbour's
                if cmdline and os.path.basename(cmdline[0]) == "restic" and ours:
                    seen_restic.append(cmdline)
                if any(pw in arg for pw in passwords for arg in cmdline):
                    leaks.append(cmdline)
            stop.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    caplog.set_level(logging.DEBUG)
    try:
        run = env.run()
    finally:
        stop.set()
        watcher.join()
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert seen_restic, "the watcher never saw restic running, so it proved nothing"
    assert leaks == []
    assert "exec " in caplog.text and "RESTIC_PASSWORD_FILE" in caplog.text
    assert not any(pw in caplog.text for pw in passwords)
    for artifact in Path(run.artifacts or "").iterdir():
        text = artifact.read_text()
        assert not any(pw in text for pw in passwords), artifact
        if not artifact.name.endswith("-version.json"):  # the one call without a repository
            assert "RESTIC_PASSWORD_FILE" in json.loads(text)["env"]


FORGET_FAILS_LATE = """\
#!{python}
# The real restic, except that forget fails after it has forgotten (as restic 0.17+ does
# when removing some snapshot files fails after others were removed).
import subprocess, sys
done = subprocess.run([{real!r}, *sys.argv[1:]])
if "forget" in sys.argv and done.returncode == 0:
    print("Fatal: unable to remove <snapshot/x> from the repository", file=sys.stderr)
    sys.exit(1)
sys.exit(done.returncode)
"""


def test_a_forget_failing_partway_leaves_the_catalog_matching_restic(  # type: ignore[no-untyped-def]
    make_env, tmp_path: Path, restic_bin: str
) -> None:
    import subprocess
    import sys

    fake = tmp_path / "fake-restic"
    fake.write_text(FORGET_FAILS_LATE.format(python=sys.executable, real=restic_bin))
    fake.chmod(0o755)
    env: Env = make_env(
        drorch=DRORCH_YAML + f"restic: {{binary: {fake}}}\n",
        policies={"standard": "rpo: 1h\nrto: 4h\nresidency: [ML]\nretention: {daily: 1}\n"},
    )
    for _ in range(3):
        assert env.run().status is RunStatus.SUCCEEDED
    run = env.run(action="prune")
    assert run.status is RunStatus.FAILED
    spec = env.config.targets["primary"]
    listed = subprocess.run(
        [restic_bin, "--repo", str(spec.path), "snapshots", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(spec.password_file)},
    )
    in_restic = {s["id"] for s in json.loads(listed.stdout)}
    assert len(in_restic) == 1
    assert {s.snapshot_id for s in env.catalog.snapshots(target="primary")} == in_restic
