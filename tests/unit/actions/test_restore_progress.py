"""A restore's progress, measured by polling the folder restic writes into: the figures,
the tally of a real folder, and a polling thread that always ends with its block."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from drorch.actions.restore_progress import ProgressPoller, RestoreProgress, measure


@pytest.mark.parametrize(
    ("progress", "rate", "fraction", "eta"),
    [
        (RestoreProgress(500, 2000, 1, 4, 2.0), 250.0, 0.25, 6.0),
        (RestoreProgress(0, 2000, 0, 4, 0.0), None, 0.0, None),  # no time yet: no rate
        (RestoreProgress(0, 2000, 0, 4, 3.0), 0.0, 0.0, None),  # nothing yet: no ETA
        (RestoreProgress(500, None, 1, None, 2.0), 250.0, None, None),  # totals unknown
        (RestoreProgress(0, 0, 0, 0, 1.0), 0.0, 1.0, None),  # an empty snapshot
        # more on disk than the catalog recorded (a preallocated file): capped, never < 0
        (RestoreProgress(3000, 2000, 5, 4, 2.0), 1500.0, 1.0, 0.0),
    ],
)
def test_rate_fraction_and_eta(
    progress: RestoreProgress, rate: float | None, fraction: float | None, eta: float | None
) -> None:
    assert (progress.rate, progress.fraction, progress.eta_s) == (rate, fraction, eta)


def test_measure_counts_regular_files_only(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 1000)
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "b").write_bytes(b"y" * 24)
    (tmp_path / "deep" / "empty").write_bytes(b"")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"z" * 10_000)
    (tmp_path / "link-to-file").symlink_to(tmp_path / "a")
    (tmp_path / "link-to-folder").symlink_to(outside)
    os.mkfifo(tmp_path / "fifo")
    assert measure(tmp_path) == (1024, 3)
    assert measure(tmp_path / "absent") == (0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def poller_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("restore-progress:")]


def test_the_poller_reports_what_lands_and_its_thread_ends_with_the_block(tmp_path: Path) -> None:
    seen: list[RestoreProgress] = []
    landed = threading.Event()

    def on_progress(progress: RestoreProgress) -> None:
        seen.append(progress)
        if progress.bytes_done == 100:
            landed.set()

    clock = Clock()
    poller = ProgressPoller(
        tmp_path, on_progress, bytes_total=300, files_total=2, interval=0.01, clock=clock
    )
    with poller:
        assert poller_threads()
        clock.now += 4.0
        (tmp_path / "one").write_bytes(b"1" * 100)
        assert landed.wait(10), "the poller never saw the file"
    assert poller_threads() == []
    assert seen[-1] == RestoreProgress(100, 300, 1, 2, 4.0)
    assert poller.now() == RestoreProgress(100, 300, 1, 2, 4.0)


def test_the_thread_ends_when_the_block_raises(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="restic failed"),
        ProgressPoller(tmp_path, lambda p: None, bytes_total=None, files_total=None, interval=0.01),
    ):
        assert poller_threads()
        raise RuntimeError("restic failed")
    assert poller_threads() == []


def test_no_thread_without_a_callback(tmp_path: Path) -> None:
    with ProgressPoller(tmp_path, None, bytes_total=None, files_total=None, interval=0.01):
        assert poller_threads() == []


def test_a_callback_that_raises_cancels_and_its_exception_reaches_the_caller(
    tmp_path: Path,
) -> None:
    def on_progress(progress: RestoreProgress) -> None:
        raise KeyboardInterrupt

    caller_cancel = threading.Event()
    poller = ProgressPoller(
        tmp_path,
        on_progress,
        bytes_total=None,
        files_total=None,
        interval=0.01,
        cancel=caller_cancel,
    )
    with pytest.raises(KeyboardInterrupt), poller:
        # as restic's watcher does: wait for the cancel event drorch.process is given
        assert _wait(poller.cancel.is_set), "the callback's failure did not cancel"
    assert poller_threads() == []
    assert not caller_cancel.is_set()  # the caller's own event is left alone


def test_the_callers_cancel_cancels_too(tmp_path: Path) -> None:
    caller_cancel = threading.Event()
    poller = ProgressPoller(
        tmp_path, None, bytes_total=None, files_total=None, cancel=caller_cancel
    )
    assert not poller.cancel.is_set()
    caller_cancel.set()
    assert poller.cancel.is_set()


def _wait(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    pause = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        pause.wait(0.01)
    return False
