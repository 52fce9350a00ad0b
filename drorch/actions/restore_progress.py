"""How far a restore has come, measured by looking at the folder restic writes into.

restic 0.14's `restore` prints no status (restic >= 0.16 does, with --json), so every
version is measured alike: a small thread sums the regular-file bytes and counts the
files under the restore's folder every few seconds and hands the tally to a callback.

What it measures is what is on disk. restic 0.14 preallocates a file when it starts
writing it, so a file counts whole from that moment: bytes run ahead of the data written
while a large file is being filled, never behind.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 2.0


@dataclass(frozen=True)
class RestoreProgress:
    """One measurement of a running restore; totals are None when the catalog lacks them
    (or when only some paths are restored, as then the snapshot's totals do not apply)."""

    bytes_done: int
    bytes_total: int | None
    files_done: int
    files_total: int | None
    elapsed_s: float

    @property
    def rate(self) -> float | None:
        """Bytes per second so far; None before any time has passed."""
        return self.bytes_done / self.elapsed_s if self.elapsed_s > 0 else None

    @property
    def fraction(self) -> float | None:
        """Share of the bytes done, 0..1 (an empty snapshot is done from the start)."""
        if self.bytes_total is None:
            return None
        if self.bytes_total <= 0:
            return 1.0
        return min(1.0, self.bytes_done / self.bytes_total)

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None while the rate or the total is unknown."""
        rate = self.rate
        if self.bytes_total is None or not rate:
            return None
        return max(0, self.bytes_total - self.bytes_done) / rate


def measure(folder: Path) -> tuple[int, int]:
    """(bytes, files) of the regular files under folder, symlinks not followed. Files that
    vanish or cannot be read while restic works are skipped: a tally, not an inventory."""
    total = files = 0
    pending = [folder]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                            files += 1
                    except OSError:
                        continue
        except OSError:
            continue
    return total, files


class Cancel(threading.Event):
    """Set by its owner, or by the caller's own cancel event (SIGTERM, the daemon's stop):
    drorch.process asks only is_set(), so one event can stand for both."""

    def __init__(self, also: threading.Event | None) -> None:
        super().__init__()
        self._also = also

    def is_set(self) -> bool:
        return super().is_set() or (self._also is not None and self._also.is_set())


class ProgressPoller:
    """A context manager: while its block runs, a thread measures `folder` every
    `interval` seconds and calls `on_progress`. The thread is joined when the block ends.

    The callback runs on the poller's thread. If it raises (an operator's Ctrl-C turned
    into KeyboardInterrupt by a view, a broken pipe), `cancel` is set, so that the restic
    started with it stops, and the exception is raised again when the block ends, in the
    caller's thread, in place of restic's "canceled".
    """

    def __init__(
        self,
        folder: Path,
        on_progress: Callable[[RestoreProgress], None] | None,
        *,
        bytes_total: int | None,
        files_total: int | None,
        interval: float = DEFAULT_INTERVAL,
        cancel: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = folder
        self.on_progress = on_progress
        self.totals = (bytes_total, files_total)
        self.interval = interval
        self.cancel = Cancel(cancel)
        self.clock = clock
        self.started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.reported = 0.0  # the greatest elapsed_s handed to on_progress so far

    def now(self) -> RestoreProgress:
        done, files = measure(self.folder)
        bytes_total, files_total = self.totals
        elapsed = self.clock() - self.started
        return RestoreProgress(done, bytes_total, files, files_total, elapsed)

    def __enter__(self) -> ProgressPoller:
        self.started = self.clock()
        if self.on_progress is not None:
            self._thread = threading.Thread(
                target=self._poll, name=f"restore-progress:{self.folder.name}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error

    def _poll(self) -> None:
        assert self.on_progress is not None
        while not self._stop.wait(self.interval):
            try:
                progress = self.now()
                self.reported = max(self.reported, progress.elapsed_s)
                self.on_progress(progress)
            except BaseException as exc:  # handed to the caller's thread in __exit__
                log.debug("restore progress callback raised %r; canceling restic", exc)
                self._error = exc
                self.cancel.set()
                return
