"""The system clock stepped under a drorch process, for real: libfaketime (Debian's
`faketime` package) preloaded, its offset read from a file the test rewrites while the
process runs. Only CLOCK_REALTIME moves, as when NTP or an operator steps the clock;
CLOCK_MONOTONIC stays real (FAKETIME_DONT_FAKE_MONOTONIC).

restic is a Go binary: it reads the clock without libc, so libfaketime does not reach it
(it inherits LD_PRELOAD harmlessly, loading an unused library); its snapshots still carry
the stepped time, which drorch passes as `--time`, while its lock files carry the real one.

libfaketime 0.9.10 (Debian bookworm) mangles clock_nanosleep(CLOCK_MONOTONIC,
TIMER_ABSTIME) when the monotonic clock is not faked, and Python 3.11's time.sleep uses
exactly that: EINVAL (wolfcw/libfaketime#426, fixed after 0.9.10). A process under the
fake clock is therefore started through `python -m tests.faketime ARGS`, which gives
time.sleep a select() wait before drorch is imported, then runs `drorch ARGS`.
"""

from __future__ import annotations

import glob
import os
import select
import sys
import time
from pathlib import Path

import pytest

# The multi-threaded build: the daemon reads the clock from many threads.
FOUND = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))


def require_libfaketime() -> Path:
    """libfaketime's path; without it a skip naming the package, or a failure under CI."""
    if FOUND:
        return Path(FOUND[0])
    reason = "libfaketime is not installed (apt-get install faketime, or run `make test`)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the clock tests")
    pytest.skip(reason)


class FakeClock:
    """A wall clock `offset` seconds off the real one, for the processes given env()."""

    def __init__(self, folder: Path) -> None:
        self.library = require_libfaketime()
        self.file = folder / "faketime.rc"
        self.offset = 0
        self.step(0)

    def step(self, seconds: int) -> None:
        """Step the wall clock by `seconds` (negative: back), at once, for every process."""
        self.offset += seconds
        fresh = self.file.with_suffix(".new")  # renamed over: never read half written
        fresh.write_text(f"{self.offset:+d}\n", encoding="ascii")
        fresh.replace(self.file)

    def now(self) -> float:
        return time.time() + self.offset

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(self.library),
            "FAKETIME_TIMESTAMP_FILE": str(self.file),
            "FAKETIME_NO_CACHE": "1",  # a step is seen at once, not within 10 s
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def command(self, *args: str) -> list[str]:
        """argv running `drorch ARGS` under this clock (with env())."""
        return [sys.executable, "-m", "tests.faketime", *args]


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


if __name__ == "__main__":
    time.sleep = _sleep  # before drorch binds time.sleep anywhere
    from drorch.cli import main

    sys.exit(main(sys.argv[1:]))
