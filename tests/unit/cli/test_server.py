"""drorch.cli.server's checks that need no client (tests/e2e/test_cli_server.py has those)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from drorch.cli import server
from drorch.errors import UsageError


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["run", "app"], "run"),
        (["--config", "/etc/drorch", "daemon"], "daemon"),
        (["-v", "--config", "run", "status"], "status"),  # a root named "run"
        (["--version"], ""),
        ([], ""),
    ],
)
def test_the_command_word_skips_options_and_the_roots_value(argv: list[str], command: str) -> None:
    assert server._command(argv) == command


def test_a_thread_left_by_the_imports_stops_the_server_before_it_listens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    release = threading.Event()
    monkeypatch.setattr(server, "preload", lambda: threading.Thread(target=release.wait).start())
    before = len(list(Path("/proc/self/task").iterdir()))  # pytest-xdist has threads of its own
    try:
        with pytest.raises(UsageError, match=f"{before + 1} threads after the imports"):
            server.serve(str(tmp_path / "cli.sock"))
    finally:
        release.set()
    assert not (tmp_path / "cli.sock").exists()


def test_a_socket_path_too_long_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    folder = tmp_path / ("x" * 120)
    with pytest.raises(UsageError, match=r"bytes long; a Unix socket's path holds at most 107"):
        server.serve(str(folder / "cli.sock"))
    assert not folder.exists()


def test_every_setting_read_at_import_is_compared() -> None:
    # A module-level DRORCH_* read is fixed in the server at its imports: a client that
    # sets it otherwise must run the command itself.
    package = Path(server.__file__).resolve().parents[1]
    read = {
        name
        for source in package.rglob("*.py")
        for name in re.findall(
            r'^\w+ = .*os\.(?:environ\.get|getenv)\("(DRORCH_\w+)"',
            source.read_text(encoding="utf-8"),
            re.M,
        )
    }
    assert "DRORCH_CATALOG_BUSY_TIMEOUT" in read  # the scan finds them
    assert read <= server.IMPORT_TIME_ENV
