"""The runs a daemon has in hand, by "job:action".

Two threads can hold one key at once: a slot that waits for its turn while the run of the
slot before it still runs, or an assigned slot that found its job action's previous run
still going. So each key counts its holders, and stays while any holds it: the first to
end must not take the other off the list, which the handover waits on (a drained leader
hands over once nothing is in hand) and dead-run recovery reads (what runs here is alive).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class InHand:
    def __init__(self) -> None:
        self._holders: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def holding(self, key: str) -> Iterator[None]:
        with self._lock:
            self._holders[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders[key] -= 1
                if self._holders[key] <= 0:
                    del self._holders[key]

    def keys(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._holders)

    def __len__(self) -> int:
        """The threads holding a key: runs going on, or about to start."""
        with self._lock:
            return sum(self._holders.values())
