"""A damaged SQLite catalog: truncated, read-only, locked by another process; and
PostgreSQL's analogues. Every command (and the daemon starting) exits 1 with one line
naming the catalog and what is wrong with it, pointing to `drorch catalog rebuild` where a
rebuild helps; never a traceback, never a new empty catalog in its place, nothing written
to a repository. With the real CLI, the real daemon and the real restic."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import DRORCH_YAML
from tests.e2e.conftest import Cli, as_json
from tests.e2e.daemon_harness import wait_for
from tests.pg import ENV, _unavailable
from tests.reliability.test_kill import restic_snapshot_ids
from tests.slow_restic import lock_files, random_file, restic_processes, throttled_restic

pytestmark = pytest.mark.heavy

COMMANDS = (("status",), ("snapshots",), ("run", "app"), ("daemon",))
SHORT_WAIT = {**os.environ, "DRORCH_CATALOG_BUSY_TIMEOUT": "1"}  # seconds, instead of 30


@pytest.fixture
def root(cli: Cli, make_root: Callable[..., Path], tmp_path: Path) -> Path:
    """A config root with one snapshot taken; its restic can be throttled (tmp_path/bin)."""
    binary, _ = throttled_restic(tmp_path / "bin")
    made = make_root(drorch=DRORCH_YAML + f"restic: {{binary: {binary}}}\n")
    cli("run", "app", root=made, check_rc=0)
    return made


def catalog_of(root: Path) -> Path:
    return root / "state" / "catalog.sqlite"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(cli: Cli, root: Path, command: tuple[str, ...], **kwargs: Any) -> str:
    """Run `command`: it must exit 1 with one line on stderr and nothing on stdout; the line."""
    done = cli(*command, root=root, **kwargs)
    assert done.returncode == 1, (command, done.stdout, done.stderr)
    assert done.stdout == "", (command, done.stdout)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("drorch: error: "), (command, done.stderr)
    return lines[0]


def repository_untouched(root: Path, snapshots: set[str]) -> None:
    assert restic_snapshot_ids(root) == snapshots
    assert lock_files(root / "repos" / "primary") == []


@pytest.mark.parametrize("size", ["half", "zero"])
def test_a_truncated_catalog_is_named_and_rebuilt(cli: Cli, root: Path, size: str) -> None:
    before = as_json(cli("snapshots", "--json", root=root, check_rc=0))
    in_restic = restic_snapshot_ids(root)
    catalog = catalog_of(root)
    length = catalog.stat().st_size // 2 if size == "half" else 0
    os.truncate(catalog, length)
    for command in COMMANDS:
        said = refused(cli, root, command)
        if size == "half":
            assert f"the catalog {catalog} is corrupt (SQLite: database disk image" in said
            assert "`drorch catalog rebuild --force` moves it aside" in said
        else:
            assert f"the catalog {catalog} is empty, but drorch was used here before" in said
            assert "`drorch catalog rebuild`" in said
        assert catalog.stat().st_size == length  # never a new, empty catalog in its place
    repository_untouched(root, in_restic)
    rebuild = ("catalog", "rebuild", "--force") if size == "half" else ("catalog", "rebuild")
    rebuilt = cli(*rebuild, root=root, check_rc=0)
    assert "the evidence log starts empty: nothing is re-signed or invented" in rebuilt.stdout
    after = as_json(cli("snapshots", "--json", root=root, check_rc=0))
    assert [(s["id"], s["job"], s["target"]) for s in after] == [
        (s["id"], s["job"], s["target"]) for s in before
    ]


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """`chattr +i`: not even root may write it (or, for a folder, add a file to it)."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@contextlib.contextmanager
def read_only_mount(folder: Path) -> Iterator[None]:
    """The folder bind-mounted read-only over itself: root cannot write in it either."""
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


READ_ONLY = {
    "immutable file": (
        lambda root: immutable(catalog_of(root)),
        "the file cannot be written by uid 0 (see its mode with `ls -l`, and whether it is "
        "immutable with `lsattr`)",
    ),
    "folder without room for the journal": (
        lambda root: immutable(root / "state"),
        "its folder {state} cannot be written by uid 0, so SQLite cannot make its journal "
        "catalog.sqlite-wal beside it",
    ),
    "read-only mount": (
        lambda root: read_only_mount(root / "state"),
        "its folder {state} is on a read-only filesystem",
    ),
}


@pytest.mark.parametrize("how", list(READ_ONLY))
def test_a_read_only_catalog_is_named_read_only(cli: Cli, root: Path, how: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("chattr and mount need root (CI runs as root)")
    make_read_only, why = READ_ONLY[how]
    catalog, in_restic = catalog_of(root), restic_snapshot_ids(root)
    before = digest(catalog)
    with make_read_only(root):
        for command in COMMANDS:
            said = refused(cli, root, command)
            if command == ("daemon",) and how != "immutable file":
                # the daemon makes its lock file in the state dir first: named instead
                assert f"the state dir {root / 'state'} is read-only: " in said
                assert f"its folder {root / 'state'} " in said
                continue
            assert f"the catalog {catalog} is read-only: " in said
            assert why.format(state=root / "state") in said
            assert "rebuild would not help" in said
    assert digest(catalog) == before
    assert sorted(p.name for p in catalog.parent.glob("catalog.sqlite*")) == ["catalog.sqlite"]
    repository_untouched(root, in_restic)
    cli("run", "app", root=root, check_rc=0)  # writable again: works again


HOLD = """\
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def locked(catalog: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the catalog's write lock (BEGIN EXCLUSIVE) until the block
    ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(catalog)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


def test_a_catalog_locked_by_another_process_names_its_pid(cli: Cli, root: Path) -> None:
    catalog, in_restic = catalog_of(root), restic_snapshot_ids(root)
    with locked(catalog) as holder:
        # WAL readers are never blocked by a writer: what only reads goes on.
        cli("status", root=root, env=SHORT_WAIT, check_rc=0)
        cli("snapshots", root=root, env=SHORT_WAIT, check_rc=0)
        for command in (("run", "app"), ("daemon",)):
            said = refused(cli, root, command, env=SHORT_WAIT)
            assert f"the catalog {catalog} is locked by pid {holder.pid} (" in said
            assert "a rebuild would not help" in said
    repository_untouched(root, in_restic)
    runs = as_json(cli("runs", "--json", root=root, check_rc=0))
    assert [r["status"] for r in runs] == ["SUCCEEDED"]  # nothing recorded while locked
    cli("run", "app", root=root, check_rc=0)  # and once it lets go, runs go on


def test_a_run_meeting_the_lock_midway_fails_clearly_and_is_found_interrupted(
    cli: Cli, root: Path, tmp_path: Path
) -> None:
    """The lock taken while restic backs up, held past drorch's wait when the run ends: the
    command fails naming the holder; once it lets go, the next command finds the run
    INTERRUPTED and the snapshot restic wrote listed ORPHANED (never counted as good)."""
    repo, earlier = root / "repos" / "primary", restic_snapshot_ids(root)
    random_file(root / "data" / "big.bin", 3)
    (tmp_path / "bin" / "throttle").touch()  # restic takes about 3 s
    drorch = subprocess.Popen(
        [sys.executable, "-m", "drorch", "--config", str(root), "run", "app"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=SHORT_WAIT,
    )
    wait_for(lambda: restic_processes(repo) and lock_files(repo), 30, "restic backing up")
    with locked(catalog_of(root)) as holder:
        _, err = drorch.communicate(timeout=60)
        assert drorch.returncode == 1, err
        [line] = err.splitlines()
        assert f"is locked by pid {holder.pid} (" in line
    [new] = restic_snapshot_ids(root) - earlier
    run = as_json(cli("runs", "--json", root=root, check_rc=0))[0]
    assert run["status"] == "INTERRUPTED"
    assert f"(pid {drorch.pid}) ended without finishing it" in run["error"]
    listed = {s["id"]: s["status"] for s in as_json(cli("snapshots", "--json", root=root))}
    assert listed.get(new) == "ORPHANED", (new, listed)
    assert lock_files(repo) == []
    (tmp_path / "bin" / "throttle").unlink()
    cli("run", "app", root=root, check_rc=0)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a database of the test's own on the test server, dropped afterwards."""
    base = os.environ.get(ENV)
    if not base:
        _unavailable(f"{ENV} is not set (make test sets it)")
    name = f"drorch_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(str(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(str(base)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_postgresql_catalog_locked_or_read_only_is_named(
    cli: Cli, make_root: Callable[..., Path], pg_database: str
) -> None:
    root = make_root(drorch=DRORCH_YAML + f"catalog: {pg_database}\n")
    cli("run", "app", root=root, check_rc=0)
    where = make_url(pg_database).render_as_string(hide_password=True)
    in_restic = restic_snapshot_ids(root)
    database = create_engine(pg_database)
    try:
        with database.connect() as other:  # another session's lock, held past drorch's wait
            other.execute(text("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE"))
            for command in COMMANDS:
                said = refused(cli, root, command, env=SHORT_WAIT)
                assert f"the catalog {where} is locked by another session" in said
            other.rollback()
        name = make_url(pg_database).database
        with database.connect() as other:
            other.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
            other.commit()
        cli("status", root=root, check_rc=0)  # what only reads goes on
        cli("snapshots", root=root, check_rc=0)
        for command in (("run", "app"), ("daemon",)):
            said = refused(cli, root, command)
            assert f"the catalog {where} is read-only: the server says: cannot execute" in said
        with database.connect() as other:
            other.execute(text("SET default_transaction_read_only = off"))
            other.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
            other.commit()
    finally:
        database.dispose()
    repository_untouched(root, in_restic)
    runs = as_json(cli("runs", "--json", root=root, check_rc=0))
    assert [r["status"] for r in runs] == ["SUCCEEDED"]  # nothing recorded meanwhile
    cli("run", "app", root=root, check_rc=0)
