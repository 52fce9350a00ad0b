"""A PostgreSQL catalog for tests: a schema of its own per test on the server that
DRORCH_TEST_PG_URL names (`make test` points it at the local server); and, for the tests
that stop, crash or restart the server under drorch, a private server of the test's own
(PrivateServer), never the shared one.

Without a reachable server (or, for a private one, PostgreSQL's server programs) the
PostgreSQL cases are skipped with the reason, except under CI, where they fail: CI must
prove both backends.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

ENV = "DRORCH_TEST_PG_URL"


def _unavailable(reason: str, what: str = "the catalog tests") -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"no PostgreSQL for {what}: {reason}")


def pg_schema_url() -> Iterator[str]:
    """Yield a URL whose connections live in a fresh, empty schema; drop it afterwards."""
    base = os.environ.get(ENV)
    if not base:
        _unavailable(f"{ENV} is not set (make test sets it)")
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        _unavailable(f"{make_url(base).render_as_string(hide_password=True)}: {exc.orig}")
        return
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- a private server ---------------------------------------------------------------------

SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
DEBIAN_SERVERS = Path("/usr/lib/postgresql")  # VERSION/bin, one per installed major version
OS_USER = "postgres"  # initdb and the server refuse to run as root


def server_bindir() -> Path | None:
    """Where PostgreSQL's server programs are: `pg_config --bindir` when it holds them (a
    client-only install names a folder without them), else the newest of Debian's
    /usr/lib/postgresql/VERSION/bin."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        done = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=30
        )
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(Path(done.stdout.strip()))
    candidates += sorted(DEBIAN_SERVERS.glob("*/bin"), key=_major, reverse=True)
    for bindir in candidates:
        if all((bindir / name).is_file() for name in SERVER_PROGRAMS):
            return bindir
    return None


def _major(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateServer:
    """A throw-away PostgreSQL server of one test's own, to restart and crash under drorch:
    `initdb` in a temporary folder (as the `postgres` OS user when the tests run as root),
    trust authentication, 127.0.0.1 on a free port, its Unix socket in that folder. `url`
    is its `postgres` database. On leaving the block it is stopped, whatever happened, and
    its folder removed.

        with PrivateServer() as server:
            ...
            server.restart()  # pg_ctl restart -m fast: every session ended, the server back
            server.crash()    # pg_ctl stop -m immediate: no shutdown; the next start recovers
            server.start()
    """

    def __init__(self) -> None:
        bindir = server_bindir()
        if bindir is None:
            _unavailable(
                f"no PostgreSQL server programs ({', '.join(SERVER_PROGRAMS)}): neither "
                f"`pg_config --bindir` nor {DEBIAN_SERVERS}/*/bin holds them (Debian: "
                "apt-get install postgresql)",
                "a private server",
            )
        assert bindir is not None
        self.bindir = bindir
        self._as: tuple[str, ...] = ()
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
            with contextlib.suppress(KeyError):
                owner = pwd.getpwnam(OS_USER)
            if runuser is None or owner is None:
                _unavailable(
                    f"running as root, a private server needs the {OS_USER!r} OS user and "
                    f"runuser (initdb refuses root); found user: {owner is not None}, "
                    f"runuser: {runuser is not None}",
                    "a private server",
                )
            assert runuser is not None and owner is not None
            self._as = (runuser, "-u", OS_USER, "--")
        self.dir = Path(tempfile.mkdtemp(prefix="drorch-pg-"))
        if owner is not None:
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def __enter__(self) -> PrivateServer:
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(
                    f"port = {self.port}\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.dir}'\n"
                    "shared_buffers = 16MB\n"
                    # A crash here kills the server's processes, not the machine: what they
                    # wrote is in the kernel's cache, and recovery replays the WAL from it.
                    "fsync = off\n"
                )
            self.start()
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._remove()

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self._pg_ctl("start", "-l", str(self.log))

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every session is ended (their transactions rolled
        back), the server shut down cleanly and started again; back when this returns."""
        self._pg_ctl("restart", "-m", "fast", "-l", str(self.log))

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: the server's processes quit at once, without a
        shutdown checkpoint, as in a crash; the next start recovers from the WAL."""
        self._pg_ctl("stop", "-m", "immediate")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", *args)

    def _run(self, program: str, *args: str) -> None:
        # Output to a file: a server that pg_ctl starts must not hold a pipe of ours open.
        with (self.dir / "commands.log").open("a") as out:
            done = subprocess.run(
                [*self._as, str(self.bindir / program), *args],
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=120,
            )
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} exited {done.returncode}:\n{self._tail()}"
            )

    def _tail(self) -> str:
        said = []
        for path in (self.dir / "commands.log", self.log):
            if path.exists():
                said += path.read_text(errors="replace").splitlines()[-20:]
        return "\n".join(said)

    def _remove(self) -> None:
        """Stop the server (at once: its data goes too) and remove its folder. A stop that
        fails must not hide the test's own failure: then its postmaster is killed by the
        pid it wrote, and its folder removed all the same."""
        try:
            if self.running():
                self._pg_ctl("stop", "-m", "immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
                os.kill(pid, signal.SIGKILL)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
