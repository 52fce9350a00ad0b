"""`drorch`, stopped at a chosen moment on tape: the process runs the real command on the
real virtual library, and after its N-th record written to (or read from) a cartridge it
touches a flag file and sleeps until it is killed. A test waits for the flag, then kills:
the fault lands mid-write or mid-read every time, without a sleep that races.

    python -m tests.reliability.paused_drorch FLAG write|read N --config ROOT run app ...
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drorch.targets.tape.virtual.cartridge import Cartridge


def pause_after(method: str, count: int, flag: Path) -> None:
    """Make Cartridge.`method` stop the process after its `count`-th call has run."""
    real: Callable[..., Any] = getattr(Cartridge, method)
    calls = 0

    def paused(self: Cartridge, *args: Any) -> Any:
        nonlocal calls
        result = real(self, *args)
        calls += 1
        if calls == count:
            self.sync()  # what the drive wrote is on disk, as a real tape's would be
            flag.write_text(f"{self.barcode} {self.position}\n")
            while True:
                time.sleep(60)
        return result

    setattr(Cartridge, method, paused)


def main() -> None:
    flag, what, count, *argv = sys.argv[1:]
    pause_after({"write": "write_record", "read": "read_block"}[what], int(count), Path(flag))
    sys.argv = ["drorch", *argv]
    from drorch.cli import entry

    entry()


if __name__ == "__main__":
    main()
