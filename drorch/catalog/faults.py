"""What is wrong with a SQLite catalog that cannot be used, in one line naming its file:
corrupt (and how to rebuild it), read-only (and why), or locked (and by which process).

SQLite says "database disk image is malformed", "unable to open database file" or "database
is locked", naming nothing; these words name the file, the cause, and what to do."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from drorch.errors import CatalogCorrupt, CatalogError, CatalogLocked, CatalogReadOnly

CORRUPT = ("database disk image is malformed", "file is not a database")
READ_ONLY = ("readonly database", "unable to open database file", "disk i/o error")
LOCKED = ("database is locked", "database table is locked")
READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
REBUILD = "drorch catalog rebuild"
LOCKS = Path("/proc/locks")


def explain(path: Path, words: str) -> CatalogError | None:
    """The typed error for what SQLite said (`words`) of the catalog file at `path`; None
    when it is none of corrupt, read-only or locked."""
    said = words.lower()
    if any(marker in said for marker in CORRUPT):
        return corrupt(path, words)
    if any(marker in said for marker in LOCKED):
        return locked(path)
    if any(marker in said for marker in READ_ONLY):
        why = read_only_reason(path)
        if why is not None:
            return read_only(path, why)
    return None


def explain_os(path: Path, exc: OSError) -> CatalogError:
    """The error for opening the catalog file itself failing with `exc`."""
    if exc.errno in READ_ONLY_ERRNOS:
        return read_only(path, read_only_reason(path) or exc.strerror or str(exc))
    return CatalogError(f"cannot open the catalog {path}: {exc.strerror}")


def explain_lock_file(path: Path, exc: OSError) -> CatalogError:
    """The error for opening the state dir's lock file `path` (the daemon's) failing."""
    why = read_only_reason(path, journal=False) if exc.errno in READ_ONLY_ERRNOS else None
    if why is None:
        return CatalogError(f"cannot open {path}: {exc.strerror}")
    return CatalogReadOnly(
        f"the state dir {path.parent} is read-only: {why}; the daemon keeps its lock "
        f"{path.name} there, and a SQLite catalog its journal"
    )


def corrupt(path: Path, words: str) -> CatalogCorrupt:
    return CatalogCorrupt(
        f"the catalog {path} is corrupt (SQLite: {words}); drorch will not use it, nor start "
        "a new one in its place. Put back a copy of it if one exists; otherwise "
        f"`{REBUILD} --force` moves it aside (never deletes it) and rebuilds it from the "
        "repositories: snapshots and copies are re-read from restic; the run history is "
        "lost and the evidence log starts empty (evidence is never rebuilt, only verified: "
        "bundles exported before still verify on their own)"
    )


def read_only(where: Path | str, why: str) -> CatalogReadOnly:
    return CatalogReadOnly(
        f"the catalog {where} is read-only: {why}; drorch writes every run to it and "
        "will not run without it (a rebuild would not help: make it writable)"
    )


def locked(path: Path) -> CatalogLocked:
    holders = lock_holders(path)
    who = (
        ", ".join(f"pid {pid} ({_command(pid)})" for pid in holders)
        if holders
        else "another process"
    )
    return _locked(path, who, "the catalog's write lock")


def _locked(where: Path | str, who: str, what: str) -> CatalogLocked:
    return CatalogLocked(
        f"the catalog {where} is locked by {who}: it held {what} longer than drorch waits "
        "for it. Try again once it lets go (a rebuild would not help)"
    )


SERVER_READ_ONLY = "read-only transaction"
SERVER_LOCKED = "lock timeout"


def explain_server(where: str, words: str) -> CatalogError | None:
    """The typed error for what a catalog server (PostgreSQL) said (`words`) of the catalog
    `where`; None when it is neither read-only nor locked."""
    if SERVER_READ_ONLY in words:
        return read_only(
            where,
            f"the server says: {words} (a database set default_transaction_read_only, or a "
            "standby)",
        )
    if SERVER_LOCKED in words:
        return _locked(
            where,
            "another session (see pg_locks and pg_stat_activity)",
            "a lock on a table drorch needs",
        )
    return None


def read_only_reason(path: Path, *, journal: bool = True) -> str | None:
    """Why the catalog at `path`, or the journal SQLite makes beside it (or, not `journal`,
    the file `path` itself when it is missing), cannot be written; None when both can.
    By the kernel's own checks (access(2) and the mount's flags): they see an immutable
    file, a read-only mount, and for other users than root the mode."""
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"its folder {folder} is on a read-only filesystem"
    except OSError:
        return None
    if path.exists() and not os.access(path, os.W_OK):
        return (
            f"the file cannot be written by uid {os.getuid()} (see its mode with `ls -l`, "
            "and whether it is immutable with `lsattr`)"
        )
    if not os.access(folder, os.W_OK):
        made = f"SQLite cannot make its journal {path.name}-wal" if journal else "it cannot be made"
        return (
            f"its folder {folder} cannot be written by uid {os.getuid()}, so {made} beside it "
            "(see `ls -ld` and `lsattr -d`)"
        )
    return None


def lock_holders(path: Path, locks: Path = LOCKS) -> list[int]:
    """The other processes that hold a write lock on the catalog file or its -shm (SQLite's
    write lock in WAL mode), from the kernel's table of POSIX locks; empty when none is
    seen (another host over NFS, or the table unreadable)."""
    files: set[str] = set()
    for part in (path, path.with_name(path.name + "-shm")):
        try:
            found = part.stat()
        except OSError:
            continue
        files.add(f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}")
    try:
        table = locks.read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    holders: list[int] = []
    for line in table.splitlines():
        fields = line.split()
        # "1: POSIX  ADVISORY  WRITE 14178 fe:00:2237807 120 120"
        if len(fields) < 6 or fields[1] != "POSIX" or fields[3] != "WRITE":
            continue
        if fields[5] in files and fields[4].isdigit():
            pid = int(fields[4])
            if pid != os.getpid() and pid not in holders:
                holders.append(pid)
    return holders


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone since"
    words = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
    return words[:80] or "?"
