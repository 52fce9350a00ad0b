"""The command-line contract, run as a subprocess against real repositories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import JOB_YAML
from tests.e2e.conftest import Cli, as_json
from tests.e2e.help_text import commands_listed, options_listed

# every command, in the order `drorch --help` lists them, with the options that are its own
COMMANDS = {
    "validate": {"--json"},
    "run": {"--to", "--from", "--snapshot", "--json"},
    "runs": {"--job", "--limit", "--json"},
    "status": {"--json"},
    "snapshots": {"--job", "--target", "--json"},
    "restore": {"--to", "--snapshot", "--from", "--include", "--force", "--verify", "--json"},
    "keys": set(),
    "compliance": {"--job", "--json"},
    "metrics": {"--textfile"},
    "evidence": set(),
    "catalog": set(),
    "tape": set(),
    "runbook": set(),
    "node": set(),
    "demo": {"--dir"},
    "daemon": set(),
    "cli-server": {"--socket"},
}


def test_help_lists_every_command_as_an_entry(cli: Cli) -> None:
    done = cli("--help", check_rc=0)
    assert commands_listed(done.stdout) == list(COMMANDS)
    assert options_listed(done.stdout) == {
        "-h",
        "--help",
        "--config",
        "-v",
        "--verbose",
        "--version",
    }
    assert "Exit codes: 0 success, 1 a failed operation, 2 bad usage" in done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_its_own_help_with_its_options(cli: Cli, command: str) -> None:
    done = cli(command, "--help", check_rc=0)
    assert done.stdout.startswith(f"usage: drorch {command} ")
    assert COMMANDS[command] <= options_listed(done.stdout)


def test_node_help_lists_its_subcommands_and_drain_its_options(cli: Cli) -> None:
    assert commands_listed(cli("node", "--help", check_rc=0).stdout) == [
        "list",
        "drain",
        "resume",
    ]
    drain = cli("node", "drain", "--help", check_rc=0).stdout
    assert {"--wait", "--force"} <= options_listed(drain)
    assert "hands leadership to a standby" in drain


def test_keys_help_lists_its_subcommands(cli: Cli) -> None:
    assert commands_listed(cli("keys", "--help", check_rc=0).stdout) == [
        "init",
        "export-public",
        "rotate",
    ]


def test_no_command_is_usage_error(cli: Cli) -> None:
    assert cli().returncode == 2


def test_validate_ok_and_json(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    done = cli("validate", root=root, check_rc=0)
    assert done.stdout == f"{root}: valid (1 jobs, 1 policies, 0 runbooks, 2 targets)\n"
    assert as_json(cli("validate", "--json", root=root, check_rc=0))["valid"] is True


def test_validate_reports_every_error_with_file_line_and_field(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root(
        jobs={
            "app": JOB_YAML.replace("target: primary", "target: primry"),
            "other": "policy: standard\nsource: {paths: [data]}\nsnapshot: {target: primary}\n"
            "prune: {schedul: daily}\n",
        }
    )
    done = cli("validate", root=root, check_rc=2)
    assert done.stdout == ""
    assert (
        "jobs/app.yaml:3: snapshot.target: no target named 'primry' (known: primary, "
        "replica)" in done.stderr
    )
    assert "jobs/other.yaml:4: prune.schedul: unknown key (did you mean 'schedule'?" in done.stderr
    errors = as_json(cli("validate", "--json", root=root, check_rc=2))["errors"]
    assert {(e["file"], e["line"], e["field"]) for e in errors} == {
        ("jobs/app.yaml", 3, "snapshot.target"),
        ("jobs/other.yaml", 4, "prune.schedul"),
    }


def test_invalid_yaml_names_file_and_line(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    (root / "policies" / "standard.yaml").write_text("rpo: 1h\nrto: [4h\n")
    done = cli("validate", root=root, check_rc=2)
    assert "policies/standard.yaml:3: invalid YAML" in done.stderr


def test_missing_config_root(cli: Cli, tmp_path: Path) -> None:
    done = cli("validate", root=tmp_path / "nowhere", check_rc=2)
    assert f"{tmp_path / 'nowhere' / 'drorch.yaml'}: missing: not a config root" in done.stderr


def test_config_root_from_environment(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    done = cli("validate", env={**os.environ, "DRORCH_CONFIG": str(root)}, check_rc=0)
    assert done.stdout.startswith(f"{root}: valid")


def test_missing_password_file_is_a_config_error(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    (root / "keys" / "replica.pass").unlink()
    done = cli("run", "app", root=root, check_rc=2)
    assert (
        f"drorch.yaml:8: targets.replica.password_file: {root}/keys/replica.pass does not "
        "exist (create it with 'drorch keys init')" in done.stderr
    )
    assert not (root / "state" / "catalog.sqlite").exists()


def test_keys_init_creates_only_what_is_missing(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root(keys=False)
    done = cli("keys", "init", root=root, check_rc=0)
    assert done.stdout.count("created ") == 3
    for name in ("primary.pass", "replica.pass", "evidence.ed25519"):
        assert (root / "keys" / name).stat().st_mode & 0o777 == 0o600
    before = (root / "keys" / "primary.pass").read_bytes()
    again = cli("keys", "init", root=root, check_rc=0)
    assert "nothing created" in again.stdout
    assert (root / "keys" / "primary.pass").read_bytes() == before
    public = cli("keys", "export-public", root=root, check_rc=0).stdout
    assert public.startswith("-----BEGIN PUBLIC KEY-----")


def test_run_runs_snapshots_restore_round_trip(cli: Cli, make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    done = cli("run", "app", root=root, check_rc=0)
    assert done.stdout.startswith("run 1: snapshot of app SUCCEEDED in ")
    runs = as_json(cli("runs", "--json", root=root, check_rc=0))
    assert len(runs) == 1
    assert set(runs[0]) == {
        "id",
        "job",
        "action",
        "target",
        "status",
        "started_at",
        "finished_at",
        "error",
    }
    assert (runs[0]["job"], runs[0]["action"], runs[0]["target"], runs[0]["status"]) == (
        "app",
        "snapshot",
        "primary",
        "SUCCEEDED",
    )
    assert runs[0]["started_at"].endswith("Z")
    snapshots = as_json(cli("snapshots", "--json", "--job", "app", root=root, check_rc=0))
    assert [set(s) for s in snapshots] == [
        {"id", "time", "job", "target", "size", "files", "original", "status", "targets"}
    ]
    assert snapshots[0]["targets"] == ["primary"] and snapshots[0]["original"] is None
    assert snapshots[0]["target"] == "primary" and len(snapshots[0]["id"]) == 64
    destination = tmp_path / "restored"
    cli(
        "restore",
        "app",
        "--to",
        destination,
        "--snapshot",
        snapshots[0]["id"][:8],
        root=root,
        check_rc=0,
    )
    original = root / "data" / "sub" / "blob.bin"
    assert (destination / original.relative_to("/")).read_bytes() == original.read_bytes()
    table = cli("runs", root=root, check_rc=0).stdout
    assert "restore" in table and "snapshot" in table


def test_bad_inputs_exit_non_zero_with_a_message(cli: Cli, make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    cases = [
        (("run", "nope"), 2, "no job named 'nope'"),
        (("run", "app", "explode"), 2, "unknown action 'explode'"),
        (("snapshots", "--target", "tape9"), 2, "no target named 'tape9'"),
        (("restore", "app", "--to", tmp_path / "x"), 2, "job 'app' has no snapshots"),
        (("restore", "app", "--to", "/"), 2, "refusing to restore into /"),
    ]
    for args, code, message in cases:
        done = cli(*args, root=root)
        assert done.returncode == code, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
    assert cli("runs", "--json", root=root, check_rc=0).stdout.strip() == "[]"


def test_refusals_after_a_snapshot(cli: Cli, make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    cli("run", "app", root=root, check_rc=0)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep")
    done = cli("restore", "app", "--to", busy, root=root, check_rc=2)
    assert "is not empty" in done.stderr
    done = cli(
        "restore", "app", "--to", tmp_path / "r", "--snapshot", "0000beef", root=root, check_rc=2
    )
    assert "no snapshot '0000beef' of job 'app'" in done.stderr
    assert (busy / "mine.txt").read_text() == "keep"
    # a failed run exits 1 and says why
    shutil.rmtree(root / "data")
    done = cli("run", "app", root=root, check_rc=1)
    assert "source path does not exist" in done.stderr
    (root / "keys" / "primary.pass").write_text("wrong\n")
    (root / "data").mkdir()
    done = cli("run", "app", root=root, check_rc=1)
    assert "wrong password" in done.stderr


def test_status_lists_jobs_and_next_runs(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    cli("run", "app", root=root, check_rc=0)
    status = as_json(cli("status", "--json", root=root, check_rc=0))
    [row] = status["jobs"]
    assert (row["job"], row["action"], row["schedule"]) == ("app", "snapshot", "every 15m")
    assert row["last_run"]["status"] == "SUCCEEDED"
    assert row["next_at"] > row["last_run"]["started_at"]
    assert status["running"] == []
    assert "app" in cli("status", root=root, check_rc=0).stdout
