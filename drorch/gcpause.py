"""Python's cyclic garbage collector paused over a burst of allocation.

Reading 2,000 jobs' facts or printing 10,000 rows of `drorch status` allocates hundreds of
thousands of short-lived objects (rows, tuples, datetimes) while the config of 2,000 jobs
and SQLAlchemy's metadata are alive: each full collection the burst triggers walks them
all, about a third of compliance's CPU (issue 14). Reference counting still frees every
object that is not in a cycle; cycles made meanwhile wait for the collector's next run.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic collector off inside, back as it was after (and on if another thread
    turned it on meanwhile: it is process-wide, and this only ever delays it)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
