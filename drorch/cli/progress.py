"""Progress of a long step, as an operator reads it: a live line on a terminal, and in a
log or a pipe a plain line now and then, so that a journal is not flooded with redraws.

Used by `drorch restore` and by the runbook engine's restore steps; both write it to
stderr, as stdout may carry --json.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TextIO

from drorch.actions.restore_progress import RestoreProgress
from drorch.config.units import format_duration, format_size

BAR_WIDTH = 24


class ProgressView:
    """Renders RestoreProgress updates on `stream`.

    On a terminal (stream.isatty(), unless `tty` says otherwise) one line is redrawn in
    place with \\r: a bar, the percentage, bytes, files, rate and ETA; a new label starts
    a new line, so that each finished step stays on screen. Elsewhere one plain line is
    written at most every `every` seconds, and finish() writes the last one if it was held
    back, so that a log ends with where the step got to. Thread-safe: updates come from a
    restore's polling thread.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.every = every
        self.clock = clock
        self._lock = threading.Lock()
        self._label: str | None = None  # of the live line on a terminal
        self._width = 0  # of the live line, to blank what a shorter one leaves
        self._written_at: float | None = None  # of the last plain line
        self._held: str | None = None  # a plain line not written yet (too soon)

    def update(self, label: str, progress: RestoreProgress) -> None:
        with self._lock:
            if self.tty:
                self._redraw(label, progress)
            else:
                self._plain(f"{label}: {describe(progress)}")

    def finish(self) -> None:
        """End the live line (it stays on screen), or write the plain line held back."""
        with self._lock:
            if self._label is not None:
                self.stream.write("\n")
            elif self._held is not None:
                self.stream.write(self._held + "\n")
            self._label, self._width, self._written_at, self._held = None, 0, None, None
            self.stream.flush()

    def _redraw(self, label: str, progress: RestoreProgress) -> None:
        if self._label is not None and label != self._label:
            self.stream.write("\n")
            self._width = 0
        line = " ".join(
            part for part in (label, bar(progress.fraction), describe(progress)) if part
        )
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._label, self._width = label, len(line)

    def _plain(self, line: str) -> None:
        now = self.clock()
        if self._written_at is not None and now - self._written_at < self.every:
            self._held = line
            return
        self.stream.write(line + "\n")
        self.stream.flush()
        self._written_at, self._held = now, None


def bar(fraction: float | None) -> str:
    """[#########---------------], or nothing when the total is unknown."""
    if fraction is None:
        return ""
    filled = round(fraction * BAR_WIDTH)
    return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"


def describe(progress: RestoreProgress) -> str:
    """42.0%  12.3 MiB/29.3 MiB  120/300 files  4.1 MiB/s  ETA 4s (what is known of it)."""
    fraction, rate, eta = progress.fraction, progress.rate, progress.eta_s
    parts = [
        *([f"{fraction * 100:.1f}%"] if fraction is not None else []),
        format_size(progress.bytes_done)
        + (f"/{format_size(progress.bytes_total)}" if progress.bytes_total is not None else ""),
        f"{progress.files_done}"
        + (f"/{progress.files_total}" if progress.files_total is not None else "")
        + " files",
        *([f"{format_size(int(rate))}/s"] if rate is not None else []),
        *([f"ETA {format_duration(timedelta(seconds=round(eta)))}"] if eta is not None else []),
    ]
    return "  ".join(parts)
