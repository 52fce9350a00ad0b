"""Tables: aligned, coloured on a terminal only, never with NO_COLOR."""

from __future__ import annotations

import io

import pytest

from drorch.cli.render import RED, print_table


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
