import sys
import threading
import time

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
