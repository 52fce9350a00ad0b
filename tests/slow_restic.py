"""The real restic, made slow enough to be caught in the middle of a call.

restic's own --limit-upload / --limit-download (KiB/s) also throttle a local repository,
so a 20 MB backup takes about 20 s: long enough to kill drorch, restic or the daemon while
restic holds its lock. Nothing is faked: the wrapper execs the real binary, so the process
drorch started is restic itself (same pid, same parent-death signal). While throttled,
restic also prints no progress (only its summary at the end), like restic busy in a long
silent phase: a restic whose parent died would otherwise die at its next progress line
of the broken pipe, which would hide whether anything else killed it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

WRAPPER = """\
#!/bin/sh
# The real restic; while {flag} exists, throttled to {rate} KiB/s and printing no progress.
if [ -e {flag} ]; then
  RESTIC_PROGRESS_FPS=0 exec {real} --quiet --limit-upload {rate} --limit-download {rate} "$@"
fi
exec {real} "$@"
"""


def real_restic() -> str:
    found = shutil.which("restic")
    assert found, "restic is not installed: run 'make install'"
    return found


def throttled_restic(folder: Path, *, kib_per_s: int = 1024) -> tuple[Path, Path]:
    """A restic binary for `restic: {binary: ...}` and the flag file that slows it down (to
    `kib_per_s` both ways: 1 makes even reading a repository's index take seconds)."""
    folder.mkdir(parents=True, exist_ok=True)
    flag, wrapper = folder / "throttle", folder / "restic"
    wrapper.write_text(WRAPPER.format(flag=flag, real=real_restic(), rate=kib_per_s))
    wrapper.chmod(0o755)
    return wrapper, flag


def random_file(path: Path, megabytes: int) -> None:
    with path.open("wb") as handle:
        for _ in range(megabytes):
            handle.write(os.urandom(1024 * 1024))


def gone(pid: int) -> bool:
    """The process ended (a zombie nobody reaped yet has ended too)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def restic_processes(repo: Path) -> list[psutil.Process]:
    """The live restic processes working on repo."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        with_repo = str(repo) in (proc.info["cmdline"] or [])
        if proc.info["name"] == "restic" and with_repo and not gone(proc.pid):
            found.append(proc)
    return found


def lock_files(repo: Path) -> list[str]:
    """The locks in repo: files named by a 64-hex id (restic writes `ID-tmp-N` first, and
    one killed at that moment leaves it behind; restic ignores such a file)."""
    folder = repo / "locks"
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return sorted(name for name in names if re.fullmatch(r"[0-9a-f]{64}", name))


def kill_leftovers(repo: Path) -> None:
    """A failed test must not leave a slow restic running."""
    for proc in restic_processes(repo):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def hold_lock(
    repo: Path,
    password_file: Path,
    source: Path,
    *,
    exclusive: bool = False,
    prefix: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """Start a slow real restic that holds a lock on repo: a backup of `source` (a
    non-exclusive lock) or a check reading all data (exclusive); return once its lock file
    is there. `prefix` runs it under another command (unshare, to name another host)."""
    before = set(lock_files(repo))
    call = (
        ["check", "--read-data", "--limit-download", "64"]
        if exclusive
        else ["--limit-upload", "256", "backup", str(source)]
    )
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(password_file)}
    deadline = time.monotonic() + 60
    while True:
        proc = subprocess.Popen(
            [*prefix, real_restic(), "--repo", str(repo), *call],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        # Its own lock: a daemon's restic may be taking one of its own meanwhile, and one
        # holding an exclusive lock (a check) makes this restic give up at once: start it
        # again then, until the deadline (on a loaded machine a check every 2 s is often
        # running).
        while proc.poll() is None and time.monotonic() < deadline:
            if lock_of(repo, env, proc.pid, before):
                return proc
            time.sleep(0.1)
        if proc.poll() is None or time.monotonic() >= deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("timed out after 60s waiting for restic's lock")


def lock_of(repo: Path, env: dict[str, str], pid: int, before: set[str]) -> str | None:
    """The lock in repo, not in `before`, that process `pid` holds (read with `restic cat
    lock`, which prints it as JSON; a lock gone meanwhile is skipped)."""
    for lock in sorted(set(lock_files(repo)) - before):
        done = subprocess.run(
            [real_restic(), "--repo", str(repo), "--no-lock", "cat", "lock", lock],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode == 0 and json.loads(done.stdout).get("pid") == pid:
            return lock
    return None


def stale_lock(
    repo: Path,
    password_file: Path,
    source: Path,
    *,
    exclusive: bool = False,
    prefix: Sequence[str] = (),
    watched: bool = False,
) -> tuple[str, int]:
    """A lock left by a restic SIGKILLed (as the OOM killer would): (its id, the dead pid).
    The lock is named before the kill: where a daemon is `watched` working on the repository,
    its next check may remove the lock at once, so it is not looked for afterwards."""
    before = set(lock_files(repo))
    proc = hold_lock(repo, password_file, source, exclusive=exclusive, prefix=prefix)
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(password_file)}
    lock = lock_of(repo, env, proc.pid, before)
    assert lock is not None, "the restic holding its lock has none"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert watched or lock in lock_files(repo), "the killed restic left no lock"
    return lock, proc.pid
