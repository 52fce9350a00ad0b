"""restic misbehaving as the real one cannot be made to: hanging and deaf to SIGINT, missing,
exiting with a code drorch does not know. Each is a clear failure of `drorch run` (exit 1,
the run FAILED saying what and where), nothing is recorded that restic did not do, and the
next run, with restic itself again, succeeds. A wrapper script on the config's
`restic.binary` injects the fault while its flag file exists, and runs the real restic
otherwise."""

from __future__ import annotations

from pathlib import Path

import psutil

from tests.conftest import DRORCH_YAML, JOB_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json
from tests.reliability.test_kill import restic_snapshot_ids
from tests.slow_restic import real_restic

FAULTY = """\
#!/bin/sh
# The real restic, except that while {flag} exists a backup {what}.
if [ -e {flag} ]; then
  case " $* " in *" backup "*) {fault} ;; esac
fi
exec {real} "$@"
"""

# a sleep of its own length, with SIGINT ignored (an ignored signal stays ignored across exec)
HANGS = "trap '' INT; exec sleep 4321"
UNKNOWN_CODE = "echo 'Fatal: something only a newer restic knows' >&2; exit 42"


def faulty_restic(folder: Path, what: str, fault: str) -> tuple[Path, Path]:
    """A restic for `restic: {binary: ...}` and the flag file that turns its fault on."""
    folder.mkdir(parents=True, exist_ok=True)
    flag, wrapper = folder / "fault", folder / "restic"
    wrapper.write_text(FAULTY.format(flag=flag, what=what, fault=fault, real=real_restic()))
    wrapper.chmod(0o755)
    return wrapper, flag


def recorded_runs(cli: Cli, root: Path) -> list[dict[str, object]]:
    """The runs, oldest first."""
    return list(reversed(as_json(cli("runs", "--json", root=root, check_rc=0))))


def test_a_hanging_restic_is_stopped_at_the_timeout(
    cli: Cli, make_root: RootFactory, tmp_path: Path
) -> None:
    binary, flag = faulty_restic(tmp_path / "bin", "hangs, deaf to SIGINT", HANGS)
    root = make_root(drorch=DRORCH_YAML + f"restic: {{binary: {binary}}}\n")
    first = as_json(cli("run", "app", "--json", root=root, check_rc=0))
    job = JOB_YAML.replace('schedule: "every 15m"', 'schedule: "every 15m", timeout: 3s')
    (root / "jobs" / "app.yaml").write_text(job)
    flag.touch()

    done = cli("run", "app", root=root)  # SIGINT at 3 s, SIGKILL 30 s later

    assert done.returncode == 1, (done.stdout, done.stderr)
    expected = (
        "snapshot of job app to target primary: restic timed out at the run's deadline: "
        "3s (snapshot timeout of job app); it ignored SIGINT and was killed after 30s"
    )
    assert expected in done.stderr, done.stderr
    hung = recorded_runs(cli, root)[-1]
    assert (hung["status"], hung["error"]) == ("FAILED", expected)
    assert not [
        p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "4321"]
    ], "the hanging restic outlived its run"
    assert restic_snapshot_ids(root) == {first["snapshot_id"]}
    flag.unlink()
    (root / "jobs" / "app.yaml").write_text(JOB_YAML)
    cli("run", "app", root=root, check_rc=0)
    cli("run", "app", "check", root=root, check_rc=0)
    assert len(restic_snapshot_ids(root)) == 2


def test_a_missing_restic_is_named(cli: Cli, make_root: RootFactory, tmp_path: Path) -> None:
    missing = tmp_path / "opt" / "restic-0.17" / "restic"
    root = make_root(drorch=DRORCH_YAML + f"restic: {{binary: {missing}}}\n")

    done = cli("run", "app", root=root)

    assert done.returncode == 1, (done.stdout, done.stderr)
    said = f"restic not found: {missing} does not exist (restic.binary in drorch.yaml)"
    assert said in done.stderr, done.stderr
    [run] = recorded_runs(cli, root)
    assert run["status"] == "FAILED"
    assert said in str(run["error"])
    assert not (root / "repos" / "primary").exists()  # nothing was made


def test_a_restic_not_on_path_is_named(cli: Cli, make_root: RootFactory) -> None:
    root = make_root(drorch=DRORCH_YAML + "restic: {binary: restic-nowhere}\n")
    done = cli("run", "app", root=root)
    assert done.returncode == 1, (done.stdout, done.stderr)
    said = "restic not found: no 'restic-nowhere' on PATH (restic.binary in drorch.yaml)"
    assert said in done.stderr, done.stderr
    [run] = recorded_runs(cli, root)
    assert said in str(run["error"])


def test_an_unknown_exit_code_is_a_failure_naming_it(
    cli: Cli, make_root: RootFactory, tmp_path: Path
) -> None:
    binary, flag = faulty_restic(tmp_path / "bin", "exits 42", UNKNOWN_CODE)
    root = make_root(drorch=DRORCH_YAML + f"restic: {{binary: {binary}}}\n")
    first = as_json(cli("run", "app", "--json", root=root, check_rc=0))
    flag.touch()

    done = cli("run", "app", root=root)

    assert done.returncode == 1, (done.stdout, done.stderr)
    expected = (
        "snapshot of job app to target primary: restic failed with exit code 42: "
        "Fatal: something only a newer restic knows"
    )
    assert expected in done.stderr, done.stderr
    failed = recorded_runs(cli, root)[-1]
    assert (failed["status"], failed["error"]) == ("FAILED", expected)
    listed = as_json(cli("snapshots", "--json", root=root, check_rc=0))
    assert [s["id"] for s in listed] == [first["snapshot_id"]]  # nothing recorded
    flag.unlink()
    cli("run", "app", root=root, check_rc=0)
    assert len(restic_snapshot_ids(root)) == 2
