"""The catalog lost, its tape copy found again: `drorch catalog rebuild` and `drorch tape
scan`, then restore from tape, through the CLI as an operator runs them, with the real
restic and a virtual library, on each catalog backend."""

from __future__ import annotations

import filecmp
import os
from functools import partial
from pathlib import Path

from drorch.catalog import open_catalog
from drorch.catalog import tape as tape_catalog
from drorch.catalog.database import sqlite_file
from drorch.config import load_config
from drorch.targets.tape.staging import repository_files, staging_folder
from tests.catalog_rows import drop_everything
from tests.conftest import write_root
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Cli, as_json

cli = e2e.cli  # the fixture: `drorch ARGS...` as a subprocess, as a user runs it

DRORCH_YAML = """\
site: dc1
jurisdiction: ML
state_dir: state
evidence_key: keys/evidence.ed25519
targets:
  primary: {{kind: disk, path: repos/primary, password_file: keys/primary.pass,
            site: dc1, jurisdiction: ML, min_free: 1MiB}}
  replica: {{kind: disk, path: repos/replica, password_file: keys/replica.pass,
            site: dc2, jurisdiction: ML, min_free: 1MiB}}
  vault: {{kind: tape, virtual: {{path: vtl, slots: 4, capacity: 40MiB}}, pool: weekly,
          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}}
pools:
  weekly: {{retention: 28d}}
catalog: "{url}"
"""

JOB = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary}
replicate: [{to: replica}, {to: vault}]
restore_test: {from: [primary, replica, vault]}
"""


def lose_catalog(root: Path, url: str) -> None:
    """The catalog is gone: its SQLite files and catalog.id moved aside, or its server
    database emptied."""
    state = root / "state"
    lost = root / "lost"
    lost.mkdir()
    catalog = sqlite_file(url)
    if catalog is not None:
        for path in catalog.parent.glob(catalog.name + "*"):
            path.rename(lost / path.name)
    else:
        drop_everything(url)
    (state / "catalog.id").rename(lost / "catalog.id")


def away(folder: Path) -> None:
    folder.rename(folder.with_name(folder.name + ".away"))


def test_a_lost_catalog_is_rebuilt_scanned_and_restored_from_tape(
    tmp_path: Path, catalog_url: str, restic_bin: str, cli: Cli
) -> None:
    root = write_root(
        tmp_path / "root", drorch=DRORCH_YAML.format(url=catalog_url), jobs={"app": JOB}
    )
    drorch = partial(cli, root=root, check_rc=0)
    drorch("run", "app", "snapshot")
    drorch("run", "app", "replicate")
    [before] = as_json(drorch("snapshots", "--target", "vault", "--json"))
    [original] = as_json(drorch("snapshots", "--target", "primary", "--json"))

    lose_catalog(root, catalog_url)
    away(root / "repos" / "primary")
    away(staging_folder(root / "state", "vault"))
    rebuilt = drorch("catalog", "rebuild")
    assert "tape: not read: tape target 'vault' is read back by `drorch tape scan" in (
        rebuilt.stdout
    )
    assert as_json(drorch("snapshots", "--target", "vault", "--json")) == []

    scanned = drorch("tape", "scan", "vault")
    assert "snapshots on vault: 1 recorded from the newest media set, 0 known already" in (
        scanned.stdout
    ), scanned.stdout
    assert not list((root / "state" / "scratch").iterdir())  # the read-back scratch is gone
    [found] = as_json(drorch("snapshots", "--target", "vault", "--json"))
    assert found["id"] == before["id"]
    assert found["original"] == original["id"]
    assert found["status"] == "COMPLETE"
    again = as_json(drorch("tape", "scan", "vault", "--json"))  # idempotent
    assert again["snapshots"] == {"recorded": [], "known": 1, "skipped": []}

    restored = tmp_path / "restored"
    drorch("restore", "app", "--from", "vault", "--to", restored)
    data = root / "data"
    inside = restored / data.relative_to("/")
    comparison = filecmp.dircmp(data, inside)
    assert not comparison.left_only and not comparison.right_only
    for path in data.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (inside / path.relative_to(data)).read_bytes()

    # As for a rebuilt disk copy: restored and verified by restic, but its canary's hash
    # lived only in the lost catalog.
    tested = as_json(drorch("run", "app", "restore-test", "--from", "vault", "--json", check_rc=1))
    assert (tested["status"], tested["target"]) == ("FAILED", "vault")
    assert tested["snapshot_id"] == before["id"]
    assert tested["error"] == "canary: the catalog has no canary for this snapshot"
    assert "FAIL (2/3 checks)" in tested["summary"]


def test_the_next_tape_out_after_a_lost_catalog_appends_to_the_scanned_media_set(
    tmp_path: Path, restic_bin: str, cli: Cli
) -> None:
    """The staging repository lost with the catalog is read back from tape by the next
    tape-out, which copies and writes only what is new, to the media set the scan found."""
    url = f"sqlite:///{tmp_path / 'root' / 'state' / 'catalog.sqlite'}"
    root = write_root(tmp_path / "root", drorch=DRORCH_YAML.format(url=url), jobs={"app": JOB})
    drorch = partial(cli, root=root, check_rc=0)
    drorch("run", "app", "snapshot")
    drorch("run", "app", "replicate", "--to", "vault")
    lose_catalog(root, url)
    staging = staging_folder(root / "state", "vault")
    away(staging)
    drorch("catalog", "rebuild")
    drorch("tape", "scan", "vault")

    (root / "data" / "new.bin").write_bytes(os.urandom(300_000))
    drorch("run", "app", "snapshot")
    second = as_json(drorch("run", "app", "replicate", "--to", "vault", "--json"))
    assert "copied 1 new snapshot(s) to vault" in second["summary"]
    config = load_config(root)
    catalog = open_catalog(url, config.state_dir)
    try:
        written = catalog.run(second["id"]).details["written"]  # type: ignore[union-attr]
        [media_set] = tape_catalog.media_sets(catalog, target="vault")
        on_tape = tape_catalog.files_on_media_set(catalog, media_set.id, "vault")
    finally:
        catalog.close()
    assert written["media_set"] == media_set.id  # the set the scan found, appended to
    old = {f.path for f in repository_files(staging.with_name(staging.name + ".away"))}
    assert 0 < written["files_written"] == len({f.path for f in repository_files(staging)} - old)
    assert set(on_tape) == {f.path for f in repository_files(staging)}

    away(root / "repos" / "primary")
    staging.rename(staging.with_name("staging.away-again"))
    restored = tmp_path / "restored"
    drorch("restore", "app", "--from", "vault", "--to", restored)
    new = (root / "data" / "new.bin").relative_to("/")
    assert (restored / new).read_bytes() == (root / "data" / "new.bin").read_bytes()
