"""`drorch cli-server`: commands handed to a warm process behave as the command itself.

A real server process, real clients (`python -m drorch`), real restic. Whether a command
was served is read from the server's log (one line per command it ran, one per refusal),
never assumed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DRORCH_YAML
from tests.e2e.daemon_harness import wait_for
from tests.slow_restic import gone, kill_leftovers, random_file, restic_processes, throttled_restic


@dataclass
class Server:
    proc: subprocess.Popen[str]
    socket: Path
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def served(self) -> list[str]:
        """The commands it ran: "COMMAND exited CODE" per line."""
        return [
            f"{m[1]} exited {m[2]}"
            for line in self.lines()
            if (m := re.search(r"cli-server: (\S+) \(pid \d+\) exited (\d+)", line))
        ]

    def refused(self) -> list[str]:
        return [line.split("not serving: ", 1)[1] for line in self.lines() if "not serving" in line]

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "DRORCH_CLI_SOCKET": str(self.socket), **extra}


def start_server(folder: Path, *, prefix: list[str] | None = None) -> Server:
    folder.mkdir(parents=True, exist_ok=True)
    socket, log = folder / "run" / "cli.sock", folder / "server.log"
    argv = [*(prefix or []), sys.executable, "-m", "drorch", "cli-server", "--socket", str(socket)]
    handle = log.open("w")
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DRORCH_CLI_SOCKET": str(socket)},
        cwd=folder,  # not the checkout: `python -m` puts the working folder on sys.path
    )
    handle.close()
    server = Server(proc, socket, log)
    wait_for(lambda: socket.exists() or proc.poll() is not None, 60, "the server to listen")
    assert proc.poll() is None, log.read_text()
    return server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = start_server(tmp_path / "server")
    yield started
    if started.proc.poll() is None:
        started.proc.send_signal(signal.SIGTERM)
        assert started.proc.wait(timeout=60) == 0, started.log.read_text()
    assert not started.socket.exists()


def drorch(
    *args: str | Path, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drorch", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )


STANDALONE = {**os.environ, "DRORCH_CLI_SOCKET": ""}


def test_a_served_command_says_and_exits_what_the_command_itself_does(
    server: Server, make_root
) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    # DRORCH_CONFIG, like any variable read when it is used, is the command's own.
    ran = drorch("run", "app", env=server.env(DRORCH_CONFIG=str(root)))
    assert ran.returncode == 0, ran.stderr
    assert re.fullmatch(r"run 1: snapshot of app SUCCEEDED in .*\n", ran.stdout)
    assert server.served() == ["run exited 0"]
    for listing in (["runs", "--json"], ["snapshots", "--json"], ["validate", "--json"]):
        served = drorch("--config", root, *listing, env=server.env())
        alone = drorch("--config", root, *listing, env=STANDALONE)
        assert (served.returncode, served.stdout, served.stderr) == (
            alone.returncode,
            alone.stdout,
            alone.stderr,
        )
        assert json.loads(served.stdout)
    # Failures: the same messages on stderr and the same exit codes.
    for argv, code in (
        (["run", "nojob"], 2),
        (["no-such-command"], 2),
        (["runs", "--bogus"], 2),
    ):
        served = drorch("--config", root, *argv, env=server.env())
        alone = drorch("--config", root, *argv, env=STANDALONE)
        assert (served.returncode, served.stderr) == (code, alone.stderr)
    assert len(server.served()) == 7
    assert server.refused() == []


def test_the_command_runs_in_the_clients_folder_and_time_zone(
    server: Server, make_root, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    assert drorch("--config", root, "run", "app", env=server.env()).returncode == 0
    work = tmp_path / "work"
    work.mkdir()
    restored = drorch(
        "--config", root, "restore", "app", "--to", "back", env=server.env(), cwd=work
    )
    assert restored.returncode == 0, restored.stderr
    assert (work / "back").is_dir()
    assert [p.name for p in (work / "back").rglob("hello.txt")] == ["hello.txt"]
    # Local times are shown in the client's TZ (the child calls tzset on its environment).
    tables = {
        zone: drorch("--config", root, "runs", env=server.env(TZ=zone)).stdout
        for zone in ("UTC", "Asia/Tokyo")
    }
    assert tables["UTC"] != tables["Asia/Tokyo"]
    assert (
        tables["Asia/Tokyo"]
        == drorch("--config", root, "runs", env={**STANDALONE, "TZ": "Asia/Tokyo"}).stdout
    )
    assert server.served() == ["run exited 0", "restore exited 0", "runs exited 0", "runs exited 0"]
    assert server.refused() == []


def test_what_the_server_refuses_runs_in_the_client_itself(server: Server, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    # An environment variable modules read when imported, set otherwise than the server's.
    busy = drorch("--config", root, "run", "app", env=server.env(DRORCH_CATALOG_BUSY_TIMEOUT="7"))
    assert busy.returncode == 0, busy.stderr
    assert server.refused() == ["environment read at import differs: DRORCH_CATALOG_BUSY_TIMEOUT"]
    # The daemon is never handed over (it fails here, in the client: no such root).
    daemon = drorch("--config", root / "missing", "daemon", env=server.env())
    assert daemon.returncode == 2 and "missing" in daemon.stderr
    assert server.refused()[-1] == "`daemon` runs in a process of its own"
    assert server.served() == []


def test_a_client_of_another_uid_is_not_served(make_root) -> None:  # type: ignore[no-untyped-def]
    # The socket's folders and file opened to everybody, so that only the server's own
    # check (SO_PEERCRED) stands in the way.
    folder = Path(tempfile.mkdtemp(prefix="drorch-cli-server-", dir="/tmp"))
    folder.chmod(0o755)
    server = start_server(folder)
    try:
        server.socket.parent.chmod(0o755)
        server.socket.chmod(0o666)
        nobody = subprocess.run(
            [
                "setpriv",
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                sys.executable,
                "-m",
                "drorch",
                "--version",
            ],
            capture_output=True,
            text=True,
            env=server.env(),
            cwd="/",
            check=False,
        )
        assert nobody.returncode == 0 and nobody.stdout.startswith("drorch "), nobody.stderr
        # My own uid and gid, with other supplementary groups (as `sg` or `newgrp` give).
        other = subprocess.run(
            ["setpriv", "--groups", "4,24", sys.executable, "-m", "drorch", "--version"],
            capture_output=True,
            text=True,
            env=server.env(),
            check=False,
        )
        assert other.returncode == 0 and other.stdout == nobody.stdout, other.stderr
        mine = drorch("--version", env=server.env())
        assert mine.returncode == 0 and mine.stdout == nobody.stdout
        uid, gid = os.geteuid(), os.getegid()
        assert server.refused() == [
            f"uid 65534 gid 65534 is not this server's ({uid}, {gid})",
            "supplementary groups (4, 24) are not this server's",
        ]
        assert server.served() == ["drorch exited 0"]  # mine; nobody's ran in its own process
    finally:
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=60)
        shutil.rmtree(folder)


def test_a_changed_drorch_file_is_not_served_and_ends_the_server(make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A copy of the package (first on the path, before the editable install's finder), so
    # that the change is not seen by any other test's server.
    copy = tmp_path / "pkg"
    shutil.copytree(
        Path(sys.modules["drorch"].__file__ or "").parent,
        copy / "drorch",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    on_path = {"PYTHONPATH": str(copy)}
    os.environ.update(on_path)
    try:
        server = start_server(tmp_path / "server")
    finally:
        del os.environ["PYTHONPATH"]
    root = make_root()
    assert drorch("--config", root, "runs", env=server.env(**on_path), cwd=tmp_path).returncode == 0
    assert server.served() == ["runs exited 0"]
    module = copy / "drorch" / "action_key.py"
    module.write_text(module.read_text() + "\n")
    later = drorch("--config", root, "runs", env=server.env(**on_path), cwd=tmp_path)
    assert later.returncode == 0, later.stderr
    assert server.refused() == ["drorch's files changed since the server started"]
    assert server.proc.wait(timeout=30) == 0  # for its service manager to start it anew
    assert not server.socket.exists()
    assert server.served() == ["runs exited 0"]


@pytest.fixture
def slow_root(make_root, tmp_path: Path) -> Iterator[tuple[Path, Path]]:  # type: ignore[no-untyped-def]
    binary, flag = throttled_restic(tmp_path / "bin", kib_per_s=256)
    root = make_root(drorch=DRORCH_YAML + f"restic: {{binary: {binary}}}\n")
    random_file(root / "data" / "big.bin", 16)
    yield root, flag
    kill_leftovers(root / "repos" / "primary")


def _start_slow_run(server: Server, root: Path, flag: Path) -> subprocess.Popen[str]:
    assert drorch("--config", root, "run", "app", env=server.env()).returncode == 0
    flag.touch()
    client = subprocess.Popen(
        [sys.executable, "-m", "drorch", "--config", str(root), "run", "app"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server.env(),
    )
    repo = root / "repos" / "primary"
    wait_for(
        lambda: any("backup" in p.cmdline() for p in restic_processes(repo)), 60, "restic backup"
    )
    return client


def _runs(root: Path) -> list[dict[str, object]]:
    listed = drorch("--config", root, "runs", "--json", env=STANDALONE)
    return list(reversed(json.loads(listed.stdout)))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_client_reaches_the_command(
    server: Server, slow_root: tuple[Path, Path], signum: int
) -> None:
    root, flag = slow_root
    client = _start_slow_run(server, root, flag)
    restic = restic_processes(root / "repos" / "primary")
    client.send_signal(signum)
    _, err = client.communicate(timeout=120)
    assert client.returncode == {signal.SIGTERM: 143, signal.SIGINT: 130}[signum], err
    assert all(gone(p.pid) for p in restic)
    assert _runs(root)[-1]["status"] == "CANCELED"
    assert server.served()[-1] == f"run exited {client.returncode}"


def test_a_killed_client_cancels_its_command(server: Server, slow_root: tuple[Path, Path]) -> None:
    root, flag = slow_root
    client = _start_slow_run(server, root, flag)
    restic = restic_processes(root / "repos" / "primary")
    client.kill()
    client.wait(timeout=30)
    wait_for(lambda: all(gone(p.pid) for p in restic), 120, "restic to end")
    wait_for(lambda: _runs(root)[-1]["status"] != "RUNNING", 60, "the run to end")
    assert _runs(root)[-1]["status"] == "CANCELED"
    wait_for(lambda: "run exited 143" in server.served(), 60, "the server to reap it")
    assert any("its client had gone" in line for line in server.lines())


def test_a_stopped_server_cancels_what_it_runs_and_tells_the_clients(
    server: Server, slow_root: tuple[Path, Path]
) -> None:
    root, flag = slow_root
    client = _start_slow_run(server, root, flag)
    server.proc.send_signal(signal.SIGTERM)
    _, err = client.communicate(timeout=120)
    assert client.returncode == 143, err
    assert server.proc.wait(timeout=60) == 0
    assert not server.socket.exists()
    assert _runs(root)[-1]["status"] == "CANCELED"
    # With no server, the client runs the command itself.
    flag.unlink()
    again = drorch("--config", root, "run", "app", env=server.env())
    assert again.returncode == 0, again.stderr
    assert server.served() == ["run exited 0", "run exited 143"]


def test_systemd_socket_activation(tmp_path: Path, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    socket = tmp_path / "activated.sock"
    log = tmp_path / "activated.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            [
                "systemd-socket-activate",
                "--seqpacket",
                "-l",
                str(socket),
                sys.executable,
                "-m",
                "drorch",
                "cli-server",
                "--socket",
                str(socket),
            ],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DRORCH_CLI_SOCKET": str(socket)},
        )
    try:
        wait_for(socket.exists, 30, "the socket")
        # The first connection starts the server (systemd-socket-activate execs it).
        ran = drorch("--config", root, "runs", env={**os.environ, "DRORCH_CLI_SOCKET": str(socket)})
        assert ran.returncode == 0, ran.stderr
        wait_for(lambda: "runs (pid" in log.read_text(), 30, "the served command")
        assert "not serving" not in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    # The socket is systemd's: the server leaves its file for the next activation.
    assert socket.exists()
