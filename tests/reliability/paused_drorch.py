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

# what: the (object, function name) pairs whose calls count; a cartridge writes every
# record through write_records (write_record too), which returns how many it wrote
POINTS: dict[str, list[tuple[Any, str]]] = {
    "write": [(Cartridge, "write_records")],
    "read": [(Cartridge, "read_block")],
    "record": [(tape_catalog, "add_tape_file")],
    "append": [(evidence_table, "append")],
}


def counted(what: str, name: str, args: tuple[Any, ...], result: Any) -> int:
    """What this call counts for: the records a write_records wrote; an evidence append
    only when it holds a restore test."""
    if name == "write_records":
        return int(result)
    return int(what != "append" or any(r.kind == "restore-test" for r in args[1]))


def pause_after(what: str, count: int, flag: Path) -> None:
    """Make the functions `what` names stop the process once their calls have counted
    `count` (after the call that reached it: a call writing several records may pass it)."""
    seen = [0]  # what the calls of `what` counted so far, all its functions together
    for owner, name in POINTS[what]:
        setattr(owner, name, _paused(what, name, getattr(owner, name), seen, count, flag))


def _paused(
    what: str, name: str, real: Callable[..., Any], seen: list[int], count: int, flag: Path
) -> Callable[..., Any]:
    def paused(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        before = seen[0]
        seen[0] += counted(what, name, args, result)
        if before < count <= seen[0]:
            cartridge = args[0] if args and isinstance(args[0], Cartridge) else None
            if cartridge is not None:
                cartridge.sync()  # what the drive wrote is on disk, as a real tape's would be
            where = f"{cartridge.barcode} {cartridge.position}" if cartridge else name
            flag.write_text(f"{where}\n")
            while True:
                time.sleep(60)
        return result

    return paused


def main() -> None:
    flag, what, count, *argv = sys.argv[1:]
    pause_after(what, int(count), Path(flag))
    sys.argv = ["drorch", *argv]
    from drorch.cli import entry

    entry()


if __name__ == "__main__":
    main()
