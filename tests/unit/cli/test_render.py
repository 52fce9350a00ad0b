"""Tables: aligned, coloured on a terminal only, never with NO_COLOR."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from drorch.cli.render import RED, local, local_times, print_table


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


ROWS = [["app", "VIOLATED", "x"], ["db", "ok", "y"]]


def test_a_violation_is_red_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = Terminal()
    print_table(["job", "state", "detail"], ROWS, out=out, colors={"VIOLATED": RED})
    lines = out.getvalue().splitlines()
    assert lines[1] == "app  \033[31mVIOLATED\033[0m  x"
    assert lines[2] == "db   ok        y"  # alignment counts the visible text only


@pytest.mark.parametrize("terminal", [False, True])
def test_no_colour_in_a_pipe_or_with_no_color(
    terminal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if terminal:
        monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal() if terminal else io.StringIO()
    print_table(["job", "state", "detail"], ROWS, out=out, colors={"VIOLATED": RED})
    assert "\033[" not in out.getvalue()
    assert out.getvalue().splitlines()[1] == "app  VIOLATED  x"


@pytest.mark.parametrize(
    ("zone", "transition"),
    [
        # -03:30 to -02:30 at 02:00 local: in the middle of a UTC hour
        ("America/St_Johns", datetime(2026, 3, 8, 5, 30, tzinfo=UTC)),
        # +10:30 to +11:00 at 02:00 local: a shift of half an hour
        ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),
    ],
)
def test_local_times_agree_with_local_across_a_change_of_offset(
    monkeypatch: pytest.MonkeyPatch, zone: str, transition: datetime
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        shown = local_times()
        times = [transition + timedelta(seconds=s) for s in range(-5400, 5400, 13)]
        times += [transition - timedelta(microseconds=1), transition, None]
        assert [shown(t) for t in times] == [local(t) for t in times]
        # the offset does change there: the test would not see a cache that ignores it
        assert len({local(t)[11:13] for t in (transition - timedelta(minutes=1), transition)}) == 2
    finally:
        monkeypatch.undo()
        time.tzset()
