"""The progress view: a live line on a terminal, a plain line now and then elsewhere."""

from __future__ import annotations

import io

from drorch.actions.restore_progress import RestoreProgress
from drorch.cli.progress import ProgressView

MIB = 1024 * 1024
QUARTER = RestoreProgress(25 * MIB, 100 * MIB, 30, 120, 5.0)  # 5 MiB/s, 15 s left
HALF = RestoreProgress(50 * MIB, 100 * MIB, 60, 120, 10.0)
UNKNOWN = RestoreProgress(3 * MIB, None, 7, None, 2.0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_one_line_redrawn_in_place() -> None:
    out = io.StringIO()
    view = ProgressView(out, tty=True)
    view.update("restoring 1a2b3c4d of app", QUARTER)
    view.update("restoring 1a2b3c4d of app", HALF)
    view.finish()
    first, second = out.getvalue().removesuffix("\n").split("\r")[1:]
    assert first == (
        "restoring 1a2b3c4d of app [######------------------] 25.0%  25.0 MiB/100.0 MiB  "
        "30/120 files  5.0 MiB/s  ETA 15s"
    )
    assert second.startswith("restoring 1a2b3c4d of app [############------------] 50.0%  ")
    assert "\n" not in out.getvalue()[:-1]  # one line, ended by finish()
    assert out.getvalue().endswith("\n")


def test_a_shorter_line_blanks_what_the_longer_one_left() -> None:
    out = io.StringIO()
    view = ProgressView(out, tty=True)
    view.update("step", QUARTER)
    long = len(out.getvalue()) - 1
    view.update("step", UNKNOWN)  # no bar, no percent, no ETA
    redrawn = out.getvalue().split("\r")[-1]
    assert redrawn.rstrip() == "step 3.0 MiB  7 files  1.5 MiB/s"
    assert len(redrawn) == long


def test_a_new_label_on_a_terminal_keeps_the_previous_line() -> None:
    out = io.StringIO()
    view = ProgressView(out, tty=True)
    view.update("restore app", HALF)
    view.update("restore db", QUARTER)
    lines = out.getvalue().split("\n")
    assert lines[0].startswith("\rrestore app [") and lines[1].startswith("\rrestore db [")


def test_elsewhere_a_plain_line_at_most_every_few_seconds() -> None:
    out, clock = io.StringIO(), Clock()
    view = ProgressView(out, tty=False, every=5.0, clock=clock)
    for at, progress in ((0.0, QUARTER), (1.0, HALF), (4.9, HALF), (5.0, HALF), (6.0, QUARTER)):
        clock.now = at
        view.update("restoring app", progress)
    assert "\r" not in out.getvalue()
    assert out.getvalue().splitlines() == [
        "restoring app: 25.0%  25.0 MiB/100.0 MiB  30/120 files  5.0 MiB/s  ETA 15s",
        "restoring app: 50.0%  50.0 MiB/100.0 MiB  60/120 files  5.0 MiB/s  ETA 10s",
    ]
    view.finish()  # the last update (6.0) was held back: a log ends with it
    assert out.getvalue().splitlines()[-1] == (
        "restoring app: 25.0%  25.0 MiB/100.0 MiB  30/120 files  5.0 MiB/s  ETA 15s"
    )
    view.finish()
    assert len(out.getvalue().splitlines()) == 3  # nothing held back twice


def test_unknown_totals_and_no_time_yet_show_what_is_known() -> None:
    out = io.StringIO()
    view = ProgressView(out, tty=False)
    view.update("r", RestoreProgress(0, None, 0, None, 0.0))
    assert out.getvalue() == "r: 0 B  0 files\n"


def test_the_stream_decides_when_not_told() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert ProgressView(Terminal()).tty is True
    assert ProgressView(io.StringIO()).tty is False
