"""A new SQLite catalog is turned to WAL by its first connection, which needs the file's
exclusive lock. SQLite answers SQLITE_BUSY at once, without its busy handler, while
another connection writes there (a second process creating the same new catalog): drorch
waits for it as for any write lock, instead of failing as "locked"."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from drorch.catalog import open_catalog


def test_a_new_catalog_waits_for_another_writer_before_turning_to_wal(tmp_path: Path) -> None:
    path = tmp_path / "state" / "catalog.sqlite"
    path.parent.mkdir()
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")  # a write lock on the new, still rollback-journal file
    released = threading.Event()

    def release() -> None:
        writer.execute("COMMIT")
        released.set()

    timer = threading.Timer(0.5, release)
    timer.start()
    began = time.monotonic()
    try:
        catalog = open_catalog(f"sqlite:///{path}", tmp_path / "state")
        catalog.close()
    finally:
        timer.join()
        writer.close()
    assert released.is_set() and time.monotonic() - began >= 0.4  # it waited, then opened
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        check.close()
