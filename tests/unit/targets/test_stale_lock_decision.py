"""Which restic locks are stale (drorch.targets.locks.is_stale), against real processes.

A lock's time is restic's wall clock when it made the lock; a process's start is dated by
psutil from the boot time read now. A step of the clock forward after the lock was made
(NTP, a resumed virtual machine) makes the live holder look younger than its lock: here
that is a lock dated an hour before its holder started."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from drorch.process import program_of
from drorch.restic.models import LockFile
from drorch.targets.locks import is_stale, restic_programs

Start = Callable[[str], "subprocess.Popen[bytes]"]
HOST = "this-host"
PROGRAMS = frozenset({"restic"})


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """start(name): a live process (sleep) that the kernel calls `name`."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(name: str) -> subprocess.Popen[bytes]:
        program = tmp_path / name
        shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
        child = subprocess.Popen([str(program), "60"])
        started.append(child)
        deadline = time.monotonic() + 10
        while program_of(child.pid) != name[:15] and time.monotonic() < deadline:
            time.sleep(0.01)  # between fork and exec it is still called python
        return child

    yield spawn
    for child in started:
        child.kill()
        child.wait()


def lock_of(pid: int, *, before_start: timedelta, host: str = HOST) -> LockFile:
    """A lock of `pid`, dated `before_start` before that process started."""
    began = datetime.fromtimestamp(psutil.Process(pid).create_time(), UTC)
    return LockFile(time=began - before_start, exclusive=True, hostname=host, pid=pid)


def test_a_live_restic_keeps_its_lock_after_the_clock_stepped_forward(start: Start) -> None:
    restic = start("restic")
    assert not is_stale(lock_of(restic.pid, before_start=timedelta(hours=1)), HOST, PROGRAMS)


def test_a_restic_under_the_configured_binary_name_is_known_too(start: Start) -> None:
    restic = start("restic-0.16.4-linux-amd64")  # cut to 15 characters by the kernel
    programs = restic_programs("/opt/bin/restic-0.16.4-linux-amd64")
    assert not is_stale(lock_of(restic.pid, before_start=timedelta(hours=1)), HOST, programs)
    assert is_stale(lock_of(restic.pid, before_start=timedelta(hours=1)), HOST, PROGRAMS)


def test_a_pid_taken_by_another_program_after_the_lock_is_stale(start: Start) -> None:
    other = start("sleep")
    assert is_stale(lock_of(other.pid, before_start=timedelta(minutes=5)), HOST, PROGRAMS)


def test_a_program_started_before_its_lock_may_hold_it(start: Start) -> None:
    """A restic under a name drorch cannot know: the start and the lock's time decide."""
    other = start("wrapper")
    assert not is_stale(lock_of(other.pid, before_start=-timedelta(seconds=5)), HOST, PROGRAMS)


def test_another_hosts_lock_is_never_stale_and_a_gone_pid_always_is(start: Start) -> None:
    other = start("sleep")
    lock = lock_of(other.pid, before_start=timedelta(hours=1), host="elsewhere")
    assert not is_stale(lock, HOST, PROGRAMS)
    other.kill()
    other.wait()
    gone = LockFile(time=datetime.now(UTC), exclusive=True, hostname=HOST, pid=other.pid)
    assert program_of(other.pid) is None
    assert is_stale(gone, HOST, PROGRAMS)


def test_a_zombie_restic_is_gone(start: Start) -> None:
    restic = start("restic")
    lock = lock_of(restic.pid, before_start=-timedelta(seconds=5))
    restic.kill()  # not waited for: a zombie until then
    deadline = time.monotonic() + 10
    while psutil.Process(restic.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert program_of(restic.pid) is None
    assert is_stale(lock, HOST, PROGRAMS)


def test_restic_programs_names_the_binary_and_what_it_resolves_to(tmp_path: Path) -> None:
    real = tmp_path / "restic_0.17.3_linux_amd64"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", real)
    link = tmp_path / "backup-tool"
    link.symlink_to(real)
    assert restic_programs(str(link)) == {"restic", "backup-tool", "restic_0.17.3_l"}
    assert restic_programs("restic-not-installed") == {"restic", "restic-not-inst"}
