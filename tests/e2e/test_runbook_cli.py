"""`drorch runbook ...` as an operator runs it, with real restic: list, show, a dry run that
changes nothing, a restore end to end, four eyes, resume after a failed step, confirm on a
pseudo-terminal, and bad input refused before anything is written."""

from __future__ import annotations

import hashlib
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DRORCH_YAML
from tests.e2e.conftest import Cli, as_json
from tests.e2e.help_text import commands_listed, options_listed

RESTORE = """\
title: Restore a job
description: Restore a job to a staging folder, verify it and hand it over
params:
  destination: {type: path, required: true, description: Empty folder under restore}
  job: {type: job, default: app, description: The job to restore}
  copy: {type: target, default: primary, description: The copy restored from}
  snapshot: {type: snapshot, default: latest, description: Snapshot id or latest}
  ticket: {type: string, default: INC0, pattern: "INC[0-9]+", description: The change ticket}
steps:
  - {name: restore, kind: restore, description: Bring the files back,
     with: {job: "{job}", snapshot: "{snapshot}", from: "{copy}", to: "{destination}"}}
  - {name: verify, kind: verify, with: {job: "{job}", dir: "{steps.restore.dir}"}}
  - {name: handover, kind: confirm, description: Hand over to the owner, with: {word: handover}}
  - {name: close, kind: note, with: {text: "ticket {ticket} done"}}
"""

GATED = """\
title: Gated restore
description: Restore app once a second person approved
params:
  destination: {type: path, required: true}
steps:
  - {name: approval, kind: approve, with: {role: data owner}}
  - {name: restore, kind: restore,
     with: {job: app, snapshot: latest, from: primary, to: "{destination}"}}
"""

FLAKY = """\
title: Flaky check
description: A check that fails until the marker file is there
steps:
  - {name: gate, kind: command, with: {argv: [sh, check.sh]}}
  - {name: after, kind: note, with: {text: the gate passed}}
"""

CONFIRM = """\
title: Confirm
description: The operator types the word to go on
steps:
  - {name: hello, kind: note, with: {text: about to ask}}
  - {name: sure, kind: confirm, with: {word: proceed}}
  - {name: done, kind: note, with: {text: went on}}
"""

CHECK_SH = 'test -e marker || { echo "marker missing"; exit 1; }\n'


@pytest.fixture
def root(make_root, cli: Cli, restic_bin: str) -> Path:  # type: ignore[no-untyped-def]
    """A config root with a snapshot of app on primary and the runbooks above."""
    root: Path = make_root(
        drorch=DRORCH_YAML + "allowed_roots: [restore]\n",
        runbooks={"restore": RESTORE, "gated": GATED, "flaky": FLAKY, "confirm": CONFIRM},
    )
    (root / "restore").mkdir()
    (root / "check.sh").write_text(CHECK_SH)
    cli("run", "app", root=root, check_rc=0)
    return root


def runbook_history(cli: Cli, root: Path) -> list[dict[str, object]]:
    runs: list[dict[str, object]] = as_json(
        cli("runbook", "history", "--json", root=root, check_rc=0)
    )
    return runs


def _tree(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every path under `folder`: size, mtime (ns) and content hash."""
    return {
        str(p.relative_to(folder)): (
            p.stat().st_size,
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir",
        )
        for p in sorted(folder.rglob("*"))
        if not p.is_symlink()
    }


def test_help_lists_the_runbook_commands_and_explains_four_eyes(cli: Cli) -> None:
    assert "runbook" in commands_listed(cli("--help", check_rc=0).stdout)
    done = cli("runbook", "--help", check_rc=0)
    assert commands_listed(done.stdout) == [
        "list", "show", "run", "resume", "approve", "abort", "history", "status",
    ]  # fmt: skip
    prose = " ".join(done.stdout.split())
    assert "Four eyes" in prose and "drorch runbook resume RUN" in prose
    for command, options in (
        ("list", {"--json"}),
        ("show", {"--json"}),
        ("run", {"--param", "--dry-run", "--yes", "--as", "--json"}),
        ("resume", {"--yes", "--as"}),
        ("approve", {"--as"}),
        ("abort", {"--reason", "--as"}),
        ("history", {"--limit", "--json"}),
        ("status", {"--json"}),
    ):
        text = cli("runbook", command, "--help", check_rc=0).stdout
        assert text.startswith(f"usage: drorch runbook {command} ")
        assert options <= options_listed(text)
    approve = " ".join(cli("runbook", "approve", "--help", check_rc=0).stdout.split())
    assert "records the approval only" in approve and "drorch runbook resume RUN" in approve
    assert cli("runbook").returncode == 2


def test_list_and_show_carry_the_runbooks_values(cli: Cli, root: Path) -> None:
    listed = as_json(cli("runbook", "list", "--json", root=root, check_rc=0))
    assert [r["name"] for r in listed] == ["confirm", "flaky", "gated", "restore"]
    restore = next(r for r in listed if r["name"] == "restore")
    assert restore["title"] == "Restore a job"
    assert [s["name"] for s in restore["steps"]] == ["restore", "verify", "handover", "close"]
    assert restore["params"]["ticket"] == {
        "type": "string",
        "required": False,
        "default": "INC0",
        "pattern": "INC[0-9]+",
        "description": "The change ticket",
    }
    assert restore["allowed_roots"] == [str(root / "restore")]
    table = cli("runbook", "list", root=root, check_rc=0).stdout
    assert "Gated restore" in table and "[snapshot]" in table

    shown = as_json(cli("runbook", "show", "restore", "--json", root=root, check_rc=0))
    assert shown["steps"][0]["with"] == {
        "job": "{job}", "snapshot": "{snapshot}", "from": "{copy}", "to": "{destination}",
    }  # fmt: skip
    text = cli("runbook", "show", "restore", root=root, check_rc=0).stdout
    for words in (
        "Restore a job to a staging folder",
        "destination (path, required): Empty folder under restore",
        "ticket (string, optional, default INC0, pattern INC[0-9]+)",
        "1. restore (restore): Bring the files back",
        "from: {copy}",
        "3. handover (confirm): Hand over to the owner",
        "word: handover",
        str(root / "restore"),
    ):
        assert words in text, words
    assert cli("runbook", "show", "nope", root=root, check_rc=2).stderr.count("nope") == 1


def test_dry_run_changes_nothing_and_names_the_snapshot(cli: Cli, root: Path) -> None:
    [snapshot] = as_json(cli("snapshots", "--json", root=root, check_rc=0))
    state = root / "state"
    before = _tree(state)
    destination = root / "restore" / "app"
    done = cli(
        "runbook", "run", "restore", "--param", f"destination={destination}", "--dry-run",
        root=root, check_rc=0,
    )  # fmt: skip
    assert snapshot["id"][:8] in done.stdout
    assert "the run would start" in done.stdout
    plan = as_json(
        cli(
            "runbook",
            "run",
            "restore",
            "-p",
            f"destination={destination}",
            "--dry-run",
            "--json",
            root=root,
            check_rc=0,
        )
    )
    assert plan["dry_run"] is True and plan["ok"] is True
    assert [s["name"] for s in plan["steps"]] == ["restore", "verify", "handover", "close"]
    assert _tree(state) == before
    assert not destination.exists()
    assert runbook_history(cli, root) == []


def test_a_restore_runbook_end_to_end(cli: Cli, root: Path) -> None:
    destination = root / "restore" / "app"
    done = cli(
        "runbook", "run", "restore", "--param", f"destination={destination}",
        "--param", "ticket=INC42", "--yes", root=root, check_rc=0,
    )  # fmt: skip
    restored = destination / root.relative_to("/") / "data" / "hello.txt"
    assert restored.read_text() == "hello drorch\n"
    assert "ticket INC42 done" in done.stdout and "SUCCEEDED" in done.stdout
    [run] = runbook_history(cli, root)
    assert run["status"] == "SUCCEEDED" and run["runbook"] == "restore"
    assert run["params"]["ticket"] == "INC42"
    assert [s["status"] for s in run["steps"]] == ["SUCCEEDED"] * 4
    records = as_json(cli("evidence", "list", "--json", root=root, check_rc=0))
    assert [r["seq"] for r in records if r["kind"] == "runbook"] == [run["evidence_seq"]]
    table = cli("runbook", "history", "restore", root=root, check_rc=0).stdout
    assert f"{run['run']}" in table and "SUCCEEDED" in table


def test_json_run_prints_only_the_run_on_stdout(cli: Cli, root: Path) -> None:
    done = cli("runbook", "run", "flaky", "--json", root=root, check_rc=1)
    run = as_json(done)
    assert run["status"] == "FAILED" and run["steps"][0]["status"] == "FAILED"
    assert "step 1/2 gate" in done.stderr


def test_resume_after_a_failed_step(cli: Cli, root: Path) -> None:
    failed = cli("runbook", "run", "flaky", root=root, check_rc=1)
    [run] = runbook_history(cli, root)
    assert "at step gate" in failed.stderr and "marker missing" in failed.stderr
    assert f"drorch runbook resume {run['run']}" in failed.stderr
    (root / "marker").touch()
    cli("runbook", "resume", str(run["run"]), root=root, check_rc=0)
    status = as_json(cli("runbook", "status", str(run["run"]), "--json", root=root, check_rc=0))
    assert status["status"] == "SUCCEEDED"
    assert [(s["name"], s["attempts"]) for s in status["steps"]] == [("gate", 2), ("after", 1)]
    text = cli("runbook", "status", str(run["run"]), root=root, check_rc=0).stdout
    assert "gate (command) SUCCEEDED, 2 attempts" in text


def _on_pty(root: Path, *args: str, typed: str) -> tuple[int, str]:
    """Run drorch on a pseudo-terminal; type `typed` once it asks; (exit code, screen)."""
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "drorch", "--config", str(root), *args],
        stdin=follower, stdout=follower, stderr=follower, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    screen, sent, deadline = b"", False, time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        if not sent and b"Type 'proceed'" in screen:
            os.write(leader, typed.encode() + b"\r")
            sent = True
        if child.poll() is not None and not ready:
            break
    os.close(leader)
    return child.wait(timeout=30), screen.decode(errors="replace")


def test_confirm_through_a_terminal(cli: Cli, root: Path) -> None:
    code, screen = _on_pty(root, "runbook", "run", "confirm", typed="nope")
    assert code == 1, screen
    assert "Type 'proceed'" in screen and "at step sure" in screen
    assert "typed 'nope', not 'proceed'" in screen
    [run] = runbook_history(cli, root)
    assert run["status"] == "FAILED" and run["steps"][1]["status"] == "FAILED"
    code, screen = _on_pty(root, "runbook", "resume", str(run["run"]), typed="proceed")
    assert code == 0, screen
    assert "went on" in screen
    [run] = runbook_history(cli, root)
    assert run["status"] == "SUCCEEDED"
    assert [s["attempts"] for s in run["steps"]] == [1, 2, 1]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("nope",), "nope"),
        (("restore", "-p", "destination=@R/x", "-p", "colour=red"), "colour"),
        (("restore",), "destination"),
        (("restore", "-p", "destination=/"), "/"),
        (("restore", "-p", "destination=/etc"), "/etc"),
        (("restore", "-p", "destination=/tmp/elsewhere"), "allowed roots"),
        (("restore", "-p", "destination=@R/../x"), ".."),
        (("restore", "-p", "destination=@R/x", "-p", "ticket=CHG1"), "ticket"),
        (("restore", "-p", "destination=@R/x", "-p", "job=ghost"), "ghost"),
        (("restore", "-p", "destination=@R/x", "-p", "copy=ghost"), "ghost"),
        (("restore", "-p", "destination=@R/x", "-p", "snapshot=deadbeef"), "deadbeef"),
        (("restore", "-p", "destination"), "NAME=VALUE"),
        (("restore", "-p", "=x"), "NAME=VALUE"),
        (("restore", "-p", "destination=@R/x", "-p", "destination=@R/y"), "twice"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    cli: Cli, root: Path, args: tuple[str, ...], says: str
) -> None:
    allowed = str(root / "restore")
    argv = [a.replace("@R", allowed) for a in args]
    done = cli("runbook", "run", *argv, "--yes", root=root)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert says in done.stderr
    assert runbook_history(cli, root) == []
    assert list((root / "restore").iterdir()) == []


SLOW = """\
title: Slow
description: A step that takes its time
steps:
  - {name: wait, kind: command, with: {argv: [sleep, "30"]}}
  - {name: after, kind: note, with: {text: done waiting}}
"""
