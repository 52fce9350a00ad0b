"""The one place that spawns processes (restic, hooks, verify commands).

Argv only, never a shell; stdin closed; a timeout and cancellation that send
SIGINT first (restic 0.14 leaves its lock behind on SIGTERM) and SIGKILL only
after a grace period. The log shows argv with secrets masked and the
environment as names only.

A child never outlives the drorch process that started it: it asks the kernel for
SIGKILL when its parent dies (PR_SET_PDEATHSIG). util-linux `setpriv --pdeathsig KILL`
asks for it and then execs a tiny /bin/sh guard, which execs the command only if its
parent is still the drorch process (else drorch died before the signal was armed, and
the child ends there): no Python code runs between fork and exec, so CPython can vfork
rather than copy the daemon's page tables for every restic it starts. Where setpriv
cannot do it (missing, or older than util-linux 2.33), a preexec_fn does the same
(die_with_parent), at the cost of a full fork. Not SIGINT: with drorch gone, restic's
stdout and stderr are broken pipes, and restic 0.14 dies of SIGPIPE as it reports the
SIGINT, before removing its lock; SIGINT would only let a child that ignores it live on.
The lock a SIGKILLed restic leaves names this host and a dead pid, which is the kind of
lock drorch removes (drorch.targets.locks).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import functools
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
SHELL = "/bin/sh"
# $0 is the drorch pid; "$@" the command. PPID is the shell's parent as it starts, after
# setpriv armed the signal: another process there means drorch is gone already.
GUARD = '[ "$PPID" = "$0" ] && exec "$@"; exit 137'

MASK = "***"
GRACE = 30.0  # seconds a child has after SIGINT (a timeout, a cancel) before SIGKILL
STDERR_KEEP_LINES = 2000


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]  # masked
    returncode: int
    stdout: tuple[str, ...]  # lines not handed to a callback
    stderr: tuple[str, ...]  # the last STDERR_KEEP_LINES lines
    duration: float
    timed_out: bool = False
    canceled: bool = False
    pid: int = 0

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self.stderr[-20:])


def mask(argv: Sequence[str], secrets: Iterable[str]) -> tuple[str, ...]:
    """Return argv with every occurrence of a secret replaced by ***."""
    secrets = [s for s in secrets if s]
    out = []
    for arg in argv:
        for secret in secrets:
            arg = arg.replace(secret, MASK)
        out.append(arg)
    return tuple(out)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    unset_prefix: str = "",
    cwd: Path | None = None,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    on_stdout_line: Callable[[str], None] | None = None,
    secrets: Iterable[str] = (),
    grace: float = GRACE,
    on_start: Callable[[int], None] | None = None,
) -> Completed:
    """Run argv to completion and return what happened; never raises for a non-zero exit.

    `env` is added to the inherited environment, less the variables starting with
    `unset_prefix` (so that no stray RESTIC_PASSWORD of the caller's reaches restic).
    When `timeout` passes or `cancel` is set, the child gets SIGINT, then SIGKILL after
    `grace` seconds.
    """
    masked = mask(argv, secrets)
    log.info("exec %s (env: %s)", " ".join(masked), ", ".join(sorted(env or {})) or "-")
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not (unset_prefix and key.startswith(unset_prefix))
    }
    full_env = {**inherited, **(env or {})}
    setpriv = _setpriv()
    spawned = guarded(_executable(argv, full_env, cwd), os.getpid(), setpriv) if setpriv else argv
    started = time.monotonic()
    proc = subprocess.Popen(
        list(spawned),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        cwd=cwd,
        text=True,
        errors="replace",
        start_new_session=True,
        # The thread that forks is the child's parent for the kernel: it stays here, in
        # proc.wait() below, until the child ended, so the signal means "drorch died".
        # A preexec_fn with threads about is safe only as die_with_parent keeps it.
        preexec_fn=None if setpriv else die_with_parent(os.getpid()),
    )
    if on_start is not None:
        on_start(proc.pid)
    stderr_lines: collections.deque[str] = collections.deque(maxlen=STDERR_KEEP_LINES)
    stdout_lines: list[str] = []
    outcome = {"timed_out": False, "canceled": False}
    done = threading.Event()

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_lines.append(line.rstrip("\n"))

    def watch() -> None:
        deadline = started + timeout if timeout is not None else None
        while not done.wait(0.1):
            if cancel is not None and cancel.is_set():
                outcome["canceled"] = True
                break
            if deadline is not None and time.monotonic() > deadline:
                outcome["timed_out"] = True
                break
        else:
            return
        _interrupt(proc, grace)

    reader = threading.Thread(target=drain_stderr, daemon=True)
    watcher = threading.Thread(target=watch, daemon=True)
    reader.start()
    watcher.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            if on_stdout_line is not None:
                on_stdout_line(line)
            else:
                stdout_lines.append(line)
        proc.wait()
    except BaseException:
        # KeyboardInterrupt or an error in a callback: never leave the child behind.
        _interrupt(proc, grace)
        raise
    finally:
        done.set()
        reader.join(timeout=5)
        watcher.join(timeout=grace + 5)
        if not reader.is_alive():  # else a grandchild holds stderr open: the reader owns it
            proc.stderr.close()  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
    completed = Completed(
        argv=masked,
        returncode=proc.returncode,
        stdout=tuple(stdout_lines),
        stderr=tuple(stderr_lines),
        duration=time.monotonic() - started,
        timed_out=outcome["timed_out"],
        canceled=outcome["canceled"],
        pid=proc.pid,
    )
    log.debug("exit %s after %.2fs: %s", completed.returncode, completed.duration, masked[0])
    return completed


def _interrupt(proc: subprocess.Popen[str], grace: float) -> None:
    """SIGINT to the child's process group (a hook's `sh -c` and what it started), then,
    once the child ended or `grace` passed, SIGKILL to whatever of the group remains."""
    if proc.poll() is not None:
        return
    _signal_group(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log.warning("pid %s ignored SIGINT for %.0fs; killing it", proc.pid, grace)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, signum: int) -> None:
    # The child leads its own session (start_new_session), so its pid is its group's id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def guarded(argv: Sequence[str], parent: int, setpriv: str) -> tuple[str, ...]:
    """argv started so that it gets SIGKILL when `parent` dies, even before it started."""
    return (setpriv, "--pdeathsig", "KILL", "--", SHELL, "-c", GUARD, str(parent), *argv)


def warm() -> None:
    """Ask now, once, what this process would ask before its first child: whether setpriv
    arms the parent-death signal (a probe that spawns setpriv and two shells, 10-40 ms),
    and libc's prctl. `drorch cli-server` calls it before it forks its children, which
    inherit the answers."""
    _setpriv()
    _prctl()


@functools.cache
def _setpriv() -> str | None:
    """util-linux setpriv, if it can arm the parent-death signal (2.33 and later); asked
    once per process."""
    found = shutil.which("setpriv")
    if found is None:
        return None
    try:
        probe = subprocess.run(
            guarded((SHELL, "-c", "exit 0"), os.getpid(), found),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if probe.returncode != 0:
        log.info("%s cannot set a parent-death signal: children start the slower way", found)
        return None
    return found


def _executable(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None) -> tuple[str, ...]:
    """argv with its program found as exec would find it (the PATH of `env`; a path with a
    slash from `cwd`), raising the OSError Popen raises for a program that cannot start:
    the guard's exec would only report it as an exit code."""
    program = argv[0]
    if os.sep in program:
        full = Path(cwd or ".", program)
        if not full.is_file():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
        if not os.access(full, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
        return tuple(argv)
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    return (found, *argv[1:])


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, resolved once in the parent (never between fork and exec)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: children cannot be tied to drorch
        log.warning("prctl is not available: a child may outlive drorch if it is killed")
        return None
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
    prctl.restype = ctypes.c_int
    return prctl


def die_with_parent(parent: int) -> Callable[[], None] | None:
    """A preexec_fn: the child gets SIGKILL when `parent` dies, even before it started.

    It runs in the child between fork and exec, where in a process with threads (the
    daemon) only this thread exists and a lock another thread held stays held: so it
    only makes two system calls through objects resolved beforehand, and takes no lock
    (no logging, no import, no I/O). If the parent died before the signal was armed, the
    child has been handed to another process (getppid changed) and ends there.
    """
    prctl, kill = _prctl(), int(signal.SIGKILL)
    if prctl is None:
        return None

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0) != 0 or os.getppid() != parent:
            os.kill(os.getpid(), kill)

    return preexec


def pid_started_before(pid: int | None, moment: float) -> bool:
    """True when process pid exists and started no later than `moment` (epoch seconds):
    it may be the process that did something at that moment, not a later one that got
    its pid. A zombie does not count: a killed restic whose parent died too waits for
    PID 1 to reap it, which in a container may take a while, and its lock is stale."""
    if pid is None:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False  # it exited; only its exit status waits for a parent to reap it
        return process.create_time() <= moment + 1.0
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


@functools.cache  # one per boot, and a process never outlives its boot
def _boot_id() -> str:
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
        return file.read().strip()


def process_identity(pid: int) -> str | None:
    """Who process `pid` is, for as long as it lives and never again: this boot's id and
    the clock ticks from boot to the process's start (/proc/PID/stat). Unlike psutil's
    create_time (boot time read now, plus those ticks), it does not move when the wall
    clock is stepped, and a pid reused after a reboot does not match. None: no such process
    (or a zombie, which has exited)."""
    stat = _live_stat(pid)
    if stat is None:
        return None
    return f"{_boot_id()} {stat[1][19]}"  # field 22, starttime, counted from the state's 3


def program_of(pid: int) -> str | None:
    """The program process `pid` runs, as the kernel names it (its comm: the last part of
    the path it was executed by, cut to COMM_MAX characters); None: no such process, or a
    zombie."""
    stat = _live_stat(pid)
    return None if stat is None else stat[0]


COMM_MAX = 15  # TASK_COMM_LEN less its NUL


def _live_stat(pid: int) -> tuple[str, list[str]] | None:
    """/proc/PID/stat: the name, and the fields after it (from the state, field 3); None for
    no such process or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as file:
            stat = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The name may hold spaces and parentheses: it runs from the first "(" to the last ")".
    name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
    split = fields.split()
    if split[0] == "Z":
        return None
    return name, split
