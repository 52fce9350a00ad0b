import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from drorch import process

PY = sys.executable


def test_run_collects_stdout_stderr_and_exit_code() -> None:
    done = process.run(
        [PY, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(4)"]
    )
    assert done.returncode == 4
    assert done.stdout == ("out",)
    assert done.stderr == ("err",)
    assert not done.timed_out and not done.canceled


def test_stdin_is_closed() -> None:
    done = process.run([PY, "-c", "import sys; print(repr(sys.stdin.read()))"])
    assert done.stdout == ("''",)


def test_stdout_lines_go_to_the_callback_instead_of_memory() -> None:
    seen: list[str] = []
    done = process.run([PY, "-c", "print('a'); print('b')"], on_stdout_line=seen.append)
    assert seen == ["a", "b"]
    assert done.stdout == ()


def test_timeout_sends_sigint_first() -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, lambda *a: (print('got SIGINT', flush=True), "
        "sys.exit(130)))\n"
        "time.sleep(30)\n"
    )
    started = time.monotonic()
    done = process.run([PY, "-c", script], timeout=0.5, grace=5)
    assert done.timed_out
    assert done.returncode == 130
    assert done.stdout == ("got SIGINT",)
    assert time.monotonic() - started < 10


def test_sigkill_after_grace_when_sigint_is_ignored() -> None:
    script = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(30)\n"
    done = process.run([PY, "-c", script], timeout=0.3, grace=0.5)
    assert done.timed_out
    assert done.returncode == -9


def test_cancel_event_interrupts() -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    done = process.run([PY, "-c", "import time; time.sleep(30)"], cancel=cancel, grace=5)
    assert done.canceled
    assert done.returncode != 0


def test_mask_replaces_secrets_everywhere() -> None:
    assert process.mask(["a", "--pw=s3cret", "s3cret"], ["s3cret", ""]) == ("a", "--pw=***", "***")


def test_environment_drops_a_prefix_and_adds_ours(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DRORCH_T0", "inherited")
    monkeypatch.setenv("KEEP_ME", "yes")
    done = process.run(
        [
            PY,
            "-c",
            "import os; print(sorted(k for k in os.environ if k.startswith('DRORCH_T')),"
            " os.environ['KEEP_ME'])",
        ],
        env={"DRORCH_T1": "x"},
        unset_prefix="DRORCH_T",
    )
    assert done.stdout == ("['DRORCH_T1'] yes",)


def test_timeout_reaches_what_a_shell_started() -> None:
    started = time.monotonic()
    done = process.run(["sh", "-c", "sleep 30; echo never"], timeout=0.5, grace=2)
    assert done.timed_out
    assert done.stdout == ()
    assert time.monotonic() - started < 10, "the shell's child kept run() waiting"


# -- a child dies with the process that started it -------------------------------------------

PARENT = """\
import sys
from drorch import process
if sys.argv[2] == "preexec":  # as where setpriv is missing or too old
    process._setpriv = lambda: None
process.run(["sh", "-c", 'echo $$ > "$1"; exec sleep 60', "sh", sys.argv[1]])
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("way", ["setpriv", "preexec"])
def test_a_child_dies_with_the_process_that_started_it(tmp_path: Path, way: str) -> None:
    if way == "setpriv":
        assert process._setpriv() is not None, "this machine's setpriv should serve"
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([PY, "-c", PARENT, str(pid_file), way], stdin=subprocess.DEVNULL)
    try:
        _wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "", 20, "child")
        child = int(pid_file.read_text())
        assert not _gone(child)
        parent.kill()
        parent.wait(10)
        _wait_until(lambda: _gone(child), 5, f"child {child} to die with its parent")
    finally:
        parent.kill()
        parent.wait(10)
        _kill_leftover(pid_file)


def _kill_leftover(pid_file: Path) -> None:
    """A failed test must not leave its `sleep 60` behind (and must not kill another pid)."""
    with contextlib.suppress(OSError, ValueError, psutil.Error):
        child = psutil.Process(int(pid_file.read_text()))
        if "sleep" in child.cmdline():
            child.kill()


def test_a_child_whose_parent_is_already_gone_never_runs(tmp_path: Path) -> None:
    """The parent may die between fork and the child's asking for the signal: the child
    then finds another parent and must not go on (here: told to expect a parent it lacks)."""
    ran = tmp_path / "ran"
    not_my_parent = psutil.Process().ppid()  # the test's parent, not the child's
    child = subprocess.Popen(
        ["sh", "-c", f"touch {ran}"], preexec_fn=process.die_with_parent(not_my_parent)
    )
    assert child.wait(10) == -signal.SIGKILL
    assert not ran.exists()


def test_a_child_started_through_setpriv_whose_parent_is_gone_never_runs(tmp_path: Path) -> None:
    """The same window with setpriv: it arms the signal, then the guard finds that its
    parent is not the drorch it expects and does not exec the command."""
    setpriv = process._setpriv()
    assert setpriv is not None
    ran = tmp_path / "ran"
    not_my_parent = psutil.Process().ppid()
    child = subprocess.Popen(process.guarded(["touch", str(ran)], not_my_parent, setpriv))
    assert child.wait(10) != 0
    assert not ran.exists()
    mine = subprocess.Popen(process.guarded(["touch", str(ran)], psutil.Process().pid, setpriv))
    assert mine.wait(10) == 0
    assert ran.exists()


def test_the_guarded_command_is_setpriv_then_the_guard() -> None:
    assert process.guarded(["restic", "version"], 42, "/usr/bin/setpriv") == (
        "/usr/bin/setpriv",
        "--pdeathsig",
        "KILL",
        "--",
        "/bin/sh",
        "-c",
        process.GUARD,
        "42",
        "restic",
        "version",
    )


def test_a_program_that_cannot_start_raises_as_popen_does(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        process.run(["drorch-no-such-program"])
    with pytest.raises(FileNotFoundError):
        process.run([str(tmp_path / "missing")])
    not_executable = tmp_path / "script"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError):
        process.run([str(not_executable)])
    not_executable.chmod(0o755)
    assert process.run(["./script"], cwd=tmp_path).returncode == 0


def test_a_child_started_from_a_worker_thread_outlives_other_threads() -> None:
    """The parent-death signal follows the thread that forked: threads that end elsewhere
    (a finished job's worker) must not take another thread's child with them."""
    results: list[process.Completed] = []

    def work() -> None:
        results.append(process.run([PY, "-c", "import time; time.sleep(1.0); print('done')"]))

    worker = threading.Thread(target=work)
    worker.start()
    for _ in range(5):
        short = threading.Thread(target=lambda: None)
        short.start()
        short.join()
    worker.join(20)
    assert [(r.returncode, r.stdout) for r in results] == [(0, ("done",))]


def test_a_zombie_is_a_process_that_is_gone() -> None:
    # A restic killed with drorch is reparented to PID 1; until PID 1 reaps it, it is a
    # zombie, and the lock it left must count as stale (a container's PID 1 may be slow).
    started = time.time()
    child = subprocess.Popen(["true"])
    try:
        psutil_child = psutil.Process(child.pid)
        deadline = time.monotonic() + 10
        while psutil_child.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.01)
        assert psutil_child.status() == psutil.STATUS_ZOMBIE  # not reaped: no wait() yet
        assert not process.pid_started_before(child.pid, started + 5)
        live = subprocess.Popen(["sleep", "5"])
        try:
            assert process.pid_started_before(live.pid, time.time())
        finally:
            live.kill()
            live.wait()
    finally:
        child.wait()
