"""SHA-256 of the bytes going to tape, in a thread of its own.

Hashing costs about as much CPU as writing the records. hashlib releases the GIL while it
hashes (above 2 KiB at a time), as os.pwritev does while it writes, so a thread that
hashes the member data in the record buffers while the caller reads the next data and
writes the previous record puts two cores to work. The thread runs the jobs in the order
they are given: the updates of one digest in the order of its bytes, and a buffer handed
back (`then`) only once every span of it given before has been hashed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from queue import SimpleQueue
from types import TracebackType
from typing import Protocol


class Digest(Protocol):
    def update(self, data: memoryview, /) -> None: ...


class HashThread:
    """One thread hashing spans of memory in order; close() (or the with block) ends it."""

    def __init__(self) -> None:
        self._jobs: SimpleQueue[tuple[Digest, memoryview] | Callable[[], None] | None] = (
            SimpleQueue()
        )
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tape-hash", daemon=True)
        self._thread.start()

    def update(self, digest: Digest, data: memoryview) -> None:
        """`digest.update(data)` in the thread; `data` must not change until it ran."""
        self._jobs.put((digest, data))

    def then(self, action: Callable[[], None]) -> None:
        """Run `action` in the thread once the jobs given before it have run."""
        self._jobs.put(action)

    def wait(self) -> None:
        """Until every job given so far has run; an error a job raised is raised here."""
        done = threading.Event()
        self.then(done.set)
        done.wait()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """End the thread once it has run the jobs given before."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def __enter__(self) -> HashThread:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if isinstance(job, tuple):
                    if self._error is None:  # after an error the digest is wrong anyway
                        job[0].update(job[1])
                else:
                    job()  # hands buffers back and wakes waiters, even after an error
            except BaseException as exc:  # raised again by wait()
                self._error = self._error or exc
