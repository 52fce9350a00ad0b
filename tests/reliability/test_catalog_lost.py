"""A catalog lost under a running daemon: the daemon stops loudly, the CLI refuses to start
a new, empty catalog, and `drorch catalog rebuild` brings back what the repositories hold.
With the real daemon, the real CLI and the real restic."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from drorch.catalog import open_catalog
from tests.e2e.conftest import Cli, as_json
from tests.e2e.daemon_harness import DaemonProcess, wait_for

pytestmark = pytest.mark.heavy

DETECTED_WITHIN = 40  # seconds: the heartbeat's 10 s, and the stop


def _lose_catalog_under_daemon(
    root: Path, tmp_path: Path, lose: Callable[[], object], happened: str
) -> None:
    """Start the daemon, let it ping the watchdog, call `lose`: the daemon must exit 1
    within the bound, saying `happened`, with no READY or WATCHDOG once it said so."""
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        wait_for(lambda: daemon.notify.count("WATCHDOG=1") >= 1, 10, "a first WATCHDOG=1")
        lose()
        code = daemon.proc.wait(timeout=DETECTED_WITHIN)
    finally:
        daemon.close()
    assert code == 1, daemon.output()
    assert f"CRITICAL drorch.service.daemon: {happened}" in daemon.output(), daemon.output()
    states = daemon.notify.states()
    lost = states[next(i for i, s in enumerate(states) if s.startswith("STATUS=catalog lost")) :]
    assert "WATCHDOG=1" not in lost and "READY=1" not in lost, lost


def _snapshots(cli: Cli, root: Path) -> list[tuple[str, str, str, str | None]]:
    listed = as_json(cli("snapshots", "--json", root=root, check_rc=0))
    return sorted((s["id"], s["job"], s["target"], s["original"]) for s in listed)


@pytest.fixture
def root(cli: Cli, make_root) -> Path:  # type: ignore[no-untyped-def]
    """A config root with one snapshot taken, so its catalog holds something to lose."""
    made: Path = make_root()
    cli("run", "app", root=made, check_rc=0)
    return made


def test_a_catalog_deleted_under_the_daemon_stops_it_and_the_cli_refuses(
    cli: Cli, root: Path, tmp_path: Path
) -> None:
    before = _snapshots(cli, root)
    catalog = root / "state" / "catalog.sqlite"

    def delete() -> None:  # as `rm catalog.sqlite*` does: in name order, the catalog first
        for path in sorted(catalog.parent.glob("catalog.sqlite*")):
            path.unlink()

    _lose_catalog_under_daemon(
        root, tmp_path, delete, f"the catalog {catalog} was removed after it was opened"
    )
    for command in (("runs",), ("status",), ("snapshots",), ("run", "app")):
        done = cli(*command, root=root)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert f"the catalog {catalog} is missing" in done.stderr, done.stderr
        assert "drorch catalog rebuild" in done.stderr
        assert done.stdout == ""
    assert not catalog.exists()
    rebuilt = cli("catalog", "rebuild", root=root, check_rc=0)
    assert "the evidence log starts empty" in rebuilt.stdout
    assert _snapshots(cli, root) == before


def test_a_catalog_replaced_under_the_daemon_stops_it_and_the_cli_refuses(
    cli: Cli, root: Path, tmp_path: Path
) -> None:
    catalog = root / "state" / "catalog.sqlite"
    recorded = (root / "state" / "catalog.id").read_text().strip()
    open_catalog(None, tmp_path / "other").close()  # another catalog, as a restore mix-up
    _lose_catalog_under_daemon(
        root,
        tmp_path,
        lambda: os.replace(tmp_path / "other" / "catalog.sqlite", catalog),
        f"the catalog {catalog} was replaced by another file after it was opened",
    )
    # The daemon's -wal of the old file was moved aside: SQLite would have applied it to the
    # new file, and the mix would have passed for the old catalog.
    assert len(list(catalog.parent.glob("catalog.sqlite.lost-*-wal"))) == 1
    done = cli("runs", root=root)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"the catalog {catalog} is catalog " in done.stderr
    assert f"not catalog {recorded[:8]}" in done.stderr
    assert "drorch catalog rebuild --force" in done.stderr
