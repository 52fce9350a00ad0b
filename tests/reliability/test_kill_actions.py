"""SIGKILL in the middle of every disk action, of `drorch run` and, separately, of the restic
it started: whatever was killed, the next drorch command finds no run RUNNING, no stale
restic lock blocks the next run of any action, the snapshots taken before are intact, and
`restic check` passes on both repositories. Real processes, the real restic, slowed down
(1 KiB/s) so that each action is caught while restic holds its lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import DRORCH_YAML, POLICY_YAML
from tests.e2e.conftest import Cli, as_json
from tests.e2e.daemon_harness import wait_for
from tests.reliability.test_kill import newest_run
from tests.slow_restic import gone, kill_leftovers, lock_files, real_restic, throttled_restic

pytestmark = pytest.mark.heavy

VAULT = """\
  vault: {kind: tape, virtual: {path: vtl, slots: 4, capacity: 40MiB}, pool: weekly,
          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}
pools:
  weekly: {retention: 28d}
"""

JOB = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary}
replicate: [{to: replica}, {to: vault}]
restore_test: {from: [primary], verify: [restic]}
"""

# action: (what `drorch run app` is given, the restic command doing the action's work);
# a tape-out is caught copying to its staging repository, before writing to tape
ACTIONS = {
    "snapshot": (("snapshot",), "backup"),
    "replicate": (("replicate", "--to", "replica"), "copy"),
    "prune": (("prune",), "prune"),
    "check": (("check",), "check"),
    "restore-test": (("restore-test",), "restore"),
    "tape-out": (("replicate", "--to", "vault"), "copy"),
}
DISK = ("snapshot", "replicate", "restore-test", "prune", "check")


@dataclass
class Site:
    root: Path
    flag: Path  # while it exists, restic runs at 1 KiB/s

    def repo(self, target: str) -> Path:
        return self.root / "repos" / target

    def restic(self, target: str, *args: str) -> subprocess.CompletedProcess[str]:
        """The real restic, unthrottled, on a target's repository."""
        return subprocess.run(
            [real_restic(), "--repo", str(self.repo(target)), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "RESTIC_PASSWORD_FILE": str(self.root / "keys" / f"{target}.pass")},
        )

    def snapshot_ids(self, target: str) -> set[str]:
        done = self.restic(target, "snapshots", "--json")
        assert done.returncode == 0, done.stderr
        return {s["id"] for s in json.loads(done.stdout)}

    def start(self, action: str) -> subprocess.Popen[str]:
        args, _ = ACTIONS[action]
        return subprocess.Popen(
            [sys.executable, "-m", "drorch", "--config", str(self.root), "run", "app", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def restic_at_work(self, action: str) -> psutil.Process:
        """Wait until the restic doing the action's work runs and holds its lock on primary
        (every action here reads or writes primary)."""
        _, verb = ACTIONS[action]
        primary = str(self.repo("primary"))

        def working() -> list[psutil.Process]:
            found = []
            for proc in psutil.process_iter(["name", "cmdline"]):
                cmdline = proc.info["cmdline"] or []
                if proc.info["name"] == "restic" and verb in cmdline and primary in cmdline:
                    found.append(proc)
            return found if lock_files(self.repo("primary")) else []

        found = wait_for(working, 60, f"restic {verb} holding its lock")
        assert isinstance(found, list) and len(found) == 1, found
        return found[0]


@pytest.fixture
def site(make_root, tmp_path: Path) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    """A job with a snapshot on primary, replicated to replica; restic can be slowed."""
    binary, flag = throttled_restic(tmp_path / "bin", kib_per_s=1)
    root = make_root(
        drorch=DRORCH_YAML + VAULT + f"restic: {{binary: {binary}}}\n",
        jobs={"app": JOB},
        policies={"standard": POLICY_YAML + "retention: {daily: 7}\n"},
    )
    made = Site(root, flag)
    yield made
    for target in ("primary", "replica"):
        kill_leftovers(made.repo(target))


def before_the_fault(cli: Cli, site: Site, action: str) -> dict[str, set[str]]:
    """A snapshot on primary, replicated to replica (and, before a tape-out, to tape)."""
    for before in ("snapshot", "replicate", *(["tape-out"] if action == "tape-out" else [])):
        cli("run", "app", *ACTIONS[before][0], root=site.root, check_rc=0)
    taken = {target: site.snapshot_ids(target) for target in ("primary", "replica")}
    assert all(len(ids) == 1 for ids in taken.values()), taken
    return taken


def repositories_hold(site: Site, taken: dict[str, set[str]]) -> None:
    """The snapshots taken are there, and both repositories pass `restic check --read-data`
    (--no-lock: a stale lock the fault left is drorch's to remove, not this check's)."""
    for target, ids in taken.items():
        assert ids <= site.snapshot_ids(target), target
        checked = site.restic(target, "--no-lock", "check", "--read-data")
        assert checked.returncode == 0, (target, checked.stdout, checked.stderr)


def nothing_lost(cli: Cli, site: Site, action: str, taken: dict[str, set[str]]) -> None:
    """No run left RUNNING; the earlier snapshots intact and both disk repositories valid;
    the next run of every action succeeds, stale locks or not; after a tape-out, the next
    one succeeds and a restore from tape alone gives the data back."""
    assert as_json(cli("status", "--json", root=site.root, check_rc=0))["running"] == []
    repositories_hold(site, taken)
    for next_action in (*DISK, *(["tape-out"] if action == "tape-out" else [])):
        done = cli("run", "app", *ACTIONS[next_action][0], root=site.root)
        assert done.returncode == 0, (next_action, done.stdout, done.stderr)
    assert lock_files(site.repo("primary")) == []  # check and prune removed what was stale
    if action == "tape-out":
        back = site.root.parent / "from-tape"
        cli("restore", "app", "--from", "vault", "--to", back, root=site.root, check_rc=0)
        hello = back / (site.root / "data" / "hello.txt").relative_to("/")
        assert hello.read_text() == "hello drorch\n"
    # the prune's retention (daily: 7) kept the newest snapshot of the day on primary
    repositories_hold(site, {"primary": set(), "replica": taken["replica"]})
    runs = as_json(cli("runs", "--json", root=site.root, check_rc=0))
    assert [r for r in runs if r["status"] == "RUNNING"] == []


@pytest.mark.parametrize("action", list(ACTIONS))
def test_sigkill_of_drorch_mid_action(cli: Cli, site: Site, action: str) -> None:
    taken = before_the_fault(cli, site, action)
    site.flag.touch()
    drorch = site.start(action)
    restic = site.restic_at_work(action)
    drorch.kill()
    drorch.communicate(timeout=30)
    wait_for(lambda: gone(restic.pid), 10, f"restic {restic.pid} to die with drorch")
    site.flag.unlink()

    run = newest_run(cli, site.root)  # the first command to look marks it
    assert run["status"] == "INTERRUPTED", run
    assert f"(pid {drorch.pid}) ended without finishing it" in run["error"]
    nothing_lost(cli, site, action, taken)


@pytest.mark.parametrize("action", list(ACTIONS))
def test_sigkill_of_restic_mid_action(cli: Cli, site: Site, action: str) -> None:
    taken = before_the_fault(cli, site, action)
    site.flag.touch()
    drorch = site.start(action)
    restic = site.restic_at_work(action)
    restic.send_signal(signal.SIGKILL)
    site.flag.unlink()
    out, err = drorch.communicate(timeout=120)

    assert drorch.returncode == 1, (out, err)
    assert "restic was killed by SIGKILL (signal 9)" in err, err
    run = newest_run(cli, site.root)
    assert run["status"] == "FAILED", run
    assert "restic was killed by SIGKILL (signal 9)" in run["error"]
    # drorch saw its restic die: the lock it left is gone at once, before anyone meets it
    # (a copy's on its source stays: non-exclusive, it blocks only prune and check, which
    # remove a stale lock first)
    if ACTIONS[action][1] != "copy":
        assert lock_files(site.repo("primary")) == []
    nothing_lost(cli, site, action, taken)
