"""The daemon's heap, frozen out of the garbage collector's full passes (settle_heap)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from drorch.service.daemon import settle_heap


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite runs with the collector as Python sets it


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_what_the_daemon_holds_at_ready_is_left_out_of_full_passes() -> None:
    plan = [Cycle() for _ in range(3)]
    settle_heap(collect=False)
    assert gc.get_freeze_count() > 0
    tracked = gc.get_objects()  # every generation the collector looks at
    assert not any(o is plan for o in tracked)
    assert not any(o is plan[0] for o in tracked)


def test_a_reload_frees_the_cycles_of_what_it_replaced() -> None:
    old = Cycle()
    gone = weakref.ref(old)
    settle_heap(collect=False)  # at READY: the old config is frozen with the rest
    del old
    gc.collect()
    assert gone() is not None  # a frozen cycle outlives a full pass...
    settle_heap(collect=True)  # ...until a reload thaws and collects the heap
    assert gone() is None
    assert gc.get_freeze_count() > 0  # and freezes what is kept again
