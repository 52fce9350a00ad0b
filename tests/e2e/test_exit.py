"""How the `drorch` command ends: its exit code and output intact, its catalog closed, and
a thread still at work waited for, without the interpreter's teardown (drorch.cli.entry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.e2e.conftest import Cli, as_json

# stdout block-buffered, as for any user whose environment does not say otherwise: what
# main() printed is still in Python's buffer when it returns.
BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def test_a_run_leaves_the_catalog_closed_with_no_wal_beside_it(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    cli("run", "app", root=root, check_rc=0)
    catalog = root / "state" / "catalog.sqlite"
    assert catalog.stat().st_size > 0
    # The last connection's close folds the -wal into the file and removes it, as an
    # orderly interpreter exit did: a -wal left behind could pair with another catalog.
    assert not Path(f"{catalog}-wal").exists()
    assert [r["status"] for r in as_json(cli("runs", "--json", root=root, check_rc=0))] == [
        "SUCCEEDED"
    ]


def test_exit_codes_are_the_commands(cli: Cli, make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("--help").returncode == 0
    assert cli("no-such-command").returncode == 2  # argparse's usage error
    assert cli("--version").stdout.startswith("drorch ")
    missing = cli("run", "nojob", root=make_root())
    assert missing.returncode == 2 and "no job named 'nojob'" in missing.stderr


def test_output_is_flushed_and_a_pipe_nobody_reads_is_not_an_error(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    cli("run", "app", root=root, check_rc=0)
    full = cli("status", "--json", root=root, check_rc=0, env=BUFFERED).stdout
    assert json.loads(full)  # every byte arrived before the process left
    # Nobody reads: the pipe's read end is closed before drorch writes, so its last flush
    # meets EPIPE.
    gone = subprocess.Popen(
        [sys.executable, "-m", "drorch", "--config", str(root), "status", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=BUFFERED,
    )
    assert gone.stdout is not None and gone.stderr is not None
    gone.stdout.close()
    error = gone.stderr.read()
    assert gone.wait(timeout=120) == 0, error
    assert "Traceback" not in error and "BrokenPipe" not in error


def test_a_thread_still_at_work_is_waited_for(tmp_path: Path) -> None:
    marker = tmp_path / "written-by-the-thread"
    script = textwrap.dedent(
        f"""
        import threading, time
        import drorch.cli as cli

        def late_write():
            time.sleep(0.5)
            open({str(marker)!r}, "w").write("done")

        def main():
            threading.Thread(target=late_write).start()  # not a daemon thread
            return 3

        cli.main = main
        cli.entry()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 3, done.stderr
    assert marker.read_text() == "done"


def test_atexit_handlers_run(tmp_path: Path) -> None:
    marker = tmp_path / "written-at-exit"
    script = textwrap.dedent(
        f"""
        import atexit
        import drorch.cli as cli

        def main():
            atexit.register(lambda: open({str(marker)!r}, "w").write("bye"))
            print("some output", end="")
            return 0

        cli.main = main
        cli.entry()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=BUFFERED,
    )
    assert (done.returncode, done.stdout) == (0, "some output")
    assert marker.read_text() == "bye"
