"""What SQLite and PostgreSQL say of a catalog that cannot be used, turned into one line
naming it: the words recognised, and the kernel's lock table read for the holder's pid."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from drorch.catalog import faults
from drorch.errors import CatalogCorrupt, CatalogLocked, CatalogReadOnly


def test_sqlites_words_name_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.sqlite"
    catalog.write_bytes(b"")
    corrupt = faults.explain(catalog, "database disk image is malformed")
    assert isinstance(corrupt, CatalogCorrupt)
    assert str(corrupt).startswith(f"the catalog {catalog} is corrupt (SQLite: database disk")
    assert "`drorch catalog rebuild --force`" in str(corrupt)
    locked = faults.explain(catalog, "database is locked")
    assert isinstance(locked, CatalogLocked)
    assert f"the catalog {catalog} is locked by another process" in str(locked)
    # "unable to open database file" is read-only only when something here is
    assert faults.explain(catalog, "unable to open database file") is None
    assert faults.explain(catalog, "no such table: runs") is None


def test_the_holder_of_the_write_lock_is_named_by_pid(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.sqlite"
    sqlite3.connect(catalog).execute("PRAGMA journal_mode=WAL").close()
    shm = catalog.with_name("catalog.sqlite-shm")
    shm.write_bytes(b"")
    found = shm.stat()
    file = f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}"
    table = tmp_path / "locks"
    table.write_text(
        f"1: POSIX  ADVISORY  READ 4242 {file} 128 128\n"  # every reader holds this one
        f"2: POSIX  ADVISORY  WRITE 4343 {file} 120 120\n"  # the writer
        f"3: POSIX  ADVISORY  WRITE {os.getpid()} {file} 120 120\n"  # never this process
        "4: FLOCK  ADVISORY  WRITE 4444 fe:00:1 0 EOF\n"
    )
    assert faults.lock_holders(catalog, table) == [4343]
    assert faults.lock_holders(catalog, tmp_path / "no such table") == []


def test_a_server_catalog_read_only_or_locked_is_named() -> None:
    where = "postgresql+psycopg://drorch@db1/drorch"
    read_only = faults.explain_server(where, "cannot execute INSERT in a read-only transaction")
    assert isinstance(read_only, CatalogReadOnly)
    assert str(read_only).startswith(f"the catalog {where} is read-only: the server says")
    locked = faults.explain_server(where, "canceling statement due to lock timeout")
    assert isinstance(locked, CatalogLocked)
    assert "locked by another session" in str(locked)
    assert faults.explain_server(where, "connection refused") is None
