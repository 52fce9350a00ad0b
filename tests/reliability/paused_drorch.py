"""`drorch`, stopped at a chosen moment on tape: the process runs the real command on the
real virtual library, and after its N-th record written to (or read from) a cartridge, or
its N-th tape file recorded in the catalog (inside the transaction), or its N-th evidence
append holding a restore-test record (committed, the evidence writer lock still held), it
touches a flag file and sleeps until it is killed. A test waits for the flag, then kills:
the fault lands mid-write, mid-read or mid-record every time, without a sleep that races.

    python -m tests.reliability.paused_drorch FLAG write|read|record N --config ROOT run app ...
    python -m tests.reliability.paused_drorch FLAG append 1 daemon --config ROOT -v
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drorch.catalog import evidence as evidence_table
from drorch.catalog import tape as tape_catalog
from drorch.targets.tape.virtual.cartridge import Cartridge

# what: (the object whose function is wrapped, its name)
POINTS: dict[str, tuple[Any, str]] = {
    "write": (Cartridge, "write_record"),
    "read": (Cartridge, "read_block"),
    "record": (tape_catalog, "add_tape_file"),
    "append": (evidence_table, "append"),
}


def counted(what: str, args: tuple[Any, ...]) -> bool:
    """Whether this call counts: an evidence append only when it holds a restore test."""
    return what != "append" or any(r.kind == "restore-test" for r in args[1])


def pause_after(what: str, count: int, flag: Path) -> None:
    """Make the function `what` names stop the process after its `count`-th call ran."""
    owner, name = POINTS[what]
    real: Callable[..., Any] = getattr(owner, name)
    calls = 0

    def paused(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        result = real(*args, **kwargs)
        calls += counted(what, args)
        if calls == count:
            cartridge = args[0] if args and isinstance(args[0], Cartridge) else None
            if cartridge is not None:
                cartridge.sync()  # what the drive wrote is on disk, as a real tape's would be
            where = f"{cartridge.barcode} {cartridge.position}" if cartridge else name
            flag.write_text(f"{where}\n")
            while True:
                time.sleep(60)
        return result

    setattr(owner, name, paused)


def main() -> None:
    flag, what, count, *argv = sys.argv[1:]
    pause_after(what, int(count), Path(flag))
    sys.argv = ["drorch", *argv]
    from drorch.cli import entry

    entry()


if __name__ == "__main__":
    main()
