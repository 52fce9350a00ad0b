"""A repository's password gone wrong: the wrong file named, the file changed by hand, left
readable by others, or missing. Each is refused with the password file named, so that the
operator knows which file to fix; nothing is written, and once the file is right again
everything works. The real CLI, the real restic."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DRORCH_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json

REPLICATED = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary}
replicate: [{to: replica}]
"""


@pytest.fixture
def root(cli: Cli, make_root: RootFactory) -> Path:
    """A job with one snapshot on primary, replicated to replica."""
    made = make_root(jobs={"app": REPLICATED})
    cli("run", "app", root=made, check_rc=0)
    cli("run", "app", "replicate", root=made, check_rc=0)
    return made


def runs(cli: Cli, root: Path) -> list[dict[str, object]]:
    return list(as_json(cli("runs", "--json", root=root, check_rc=0)))


def test_a_wrong_password_is_refused_naming_the_file(cli: Cli, root: Path) -> None:
    # primary's password_file pointed at replica's: a real file, mode 0600, the wrong one
    config = root / "drorch.yaml"
    config.write_text(DRORCH_YAML.replace("keys/primary.pass", "keys/replica.pass", 1))
    wrong = root / "keys" / "replica.pass"

    done = cli("run", "app", root=root, check_rc=1)

    said = f"snapshot of job app to target primary: wrong password (password file {wrong})"
    assert said in done.stderr, done.stderr
    assert runs(cli, root)[0]["error"] == said
    config.write_text(DRORCH_YAML)
    cli("run", "app", root=root, check_rc=0)


def test_a_changed_password_file_is_refused_naming_it(cli: Cli, root: Path, tmp_path: Path) -> None:
    password = root / "keys" / "primary.pass"
    good = password.read_text()
    password.write_text("typed over by hand\n")  # the mode stays 0600

    snapshot = cli("run", "app", root=root, check_rc=1)
    assert f"wrong password (password file {password})" in snapshot.stderr, snapshot.stderr
    copy = cli("run", "app", "replicate", root=root, check_rc=1)
    # restic cannot say which of the two repositories refused: the files of both may be named
    assert "wrong password (password file " in copy.stderr and str(password) in copy.stderr
    restore = cli("restore", "app", "--to", tmp_path / "back", root=root)
    assert restore.returncode == 1, (restore.stdout, restore.stderr)
    assert f"wrong password (password file {password})" in restore.stderr, restore.stderr
    assert not (tmp_path / "back").exists()
    listed = as_json(cli("snapshots", "--json", root=root, check_rc=0))
    assert len(listed) == 2  # one on each target, as before

    password.write_text(good)
    cli("run", "app", root=root, check_rc=0)
    cli("run", "app", "replicate", root=root, check_rc=0)


def test_a_password_file_readable_by_others_is_refused(cli: Cli, root: Path) -> None:
    password = root / "keys" / "primary.pass"
    password.chmod(0o644)
    before = runs(cli, root)

    done = cli("run", "app", root=root, check_rc=2)

    assert (
        f"drorch.yaml:6: targets.primary.password_file: {password} is readable by group or "
        f"others (mode 0644); run 'chmod 600 {password}'" in done.stderr
    ), done.stderr
    cli("daemon", root=root, check_rc=2)
    password.chmod(0o600)
    assert runs(cli, root) == before  # nothing ran
    cli("run", "app", root=root, check_rc=0)


def test_a_missing_password_file_is_refused(cli: Cli, root: Path) -> None:
    password = root / "keys" / "primary.pass"
    good = password.read_bytes()
    password.unlink()

    for command in (("run", "app"), ("restore", "app", "--to", root / "back"), ("daemon",)):
        done = cli(*command, root=root, check_rc=2)
        assert (
            f"drorch.yaml:6: targets.primary.password_file: {password} does not exist "
            "(create it with 'drorch keys init')" in done.stderr
        ), (command, done.stderr)
    password.write_bytes(good)
    password.chmod(0o600)
    assert len(runs(cli, root)) == 2  # the snapshot and the replication, nothing since
    cli("run", "app", root=root, check_rc=0)
