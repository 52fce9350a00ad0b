"""Who runs a runbook, and how drorch talks to them while it runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _silent(_text: str) -> None:
    return None


@dataclass(frozen=True)
class Operator:
    """The person acting, and the ways to reach them.

    `ask` shows a prompt and returns the line typed, or is None when no terminal is there
    to type on (a confirm step then needs --yes). `given_as` is the account that named
    `name` with --as (root only): the record says both.
    """

    name: str
    given_as: str | None = None
    yes: bool = False
    ask: Callable[[str], str] | None = None
    say: Callable[[str], None] = _silent
    on_progress: Callable[[str, Any], None] | None = None  # (step name, RestoreProgress)
    cancel: threading.Event | None = None  # set: restic stops, the run ends INTERRUPTED

    @property
    def recorded(self) -> str:
        """The actor as the catalog and the evidence record it."""
        if self.given_as and self.given_as != self.name:
            return f"{self.name} (given with --as by {self.given_as})"
        return self.name
