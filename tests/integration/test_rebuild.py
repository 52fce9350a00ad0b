"""`drorch catalog rebuild` with the real restic: what the repositories hold comes back,
nothing is invented, nothing is deleted, and nothing is written when it is refused."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from drorch.actions import ReplicateOptions
from drorch.actions.rebuild import rebuild_catalog
from drorch.catalog import Catalog, RunStatus, SnapshotStatus, open_catalog
from drorch.catalog.database import create_catalog_engine
from drorch.catalog.evidence import head
from drorch.catalog.identity import hold_daemon_lock
from drorch.config import load_config
from drorch.errors import CatalogError, WrongPassword
from tests.catalog_rows import drop_everything
from tests.conftest import DRORCH_YAML
from tests.integration.conftest import Env
from tests.reliability.test_faults import FAKE_RESTIC

REPLICATED = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 15m"}
replicate: [{to: replica, schedule: "every 15m"}]
"""


def _lose(env: Env) -> Path:
    """Delete the SQLite catalog, as `rm state/catalog.sqlite*` does."""
    env.catalog.close()
    catalog = env.config.state_dir / "catalog.sqlite"
    for path in catalog.parent.glob("catalog.sqlite*"):
        path.unlink()
    return catalog


def _held(catalog: Catalog) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(s.target, s.snapshot_id): (s.job, s.original_id) for s in catalog.snapshots()}


def test_rebuild_brings_back_snapshots_and_copies_as_their_runs_left_them(
    make_env: Callable[..., Env], tmp_path: Path, restic_bin: str
) -> None:
    fake = tmp_path / "restic-exit-3"
    fake.write_text(FAKE_RESTIC.format(python=sys.executable, real=restic_bin))
    fake.chmod(0o755)
    env = make_env(jobs={"app": REPLICATED})
    drorch_yaml = env.root / "drorch.yaml"
    complete = env.run()
    drorch_yaml.write_text(DRORCH_YAML + f"restic: {{binary: {fake}}}\n")
    env.reload()
    partial = env.run()
    drorch_yaml.write_text(DRORCH_YAML)
    env.reload()
    unproven = env.run()
    assert [r.status for r in (complete, partial, unproven)] == [
        RunStatus.SUCCEEDED,
        RunStatus.PARTIAL,
        RunStatus.SUCCEEDED,
    ]
    copied = env.run(action="replicate:replica", options=ReplicateOptions(to="replica"))
    assert copied.status is RunStatus.SUCCEEDED, copied.error
    before = _held(env.catalog)
    repositories = {t: env.catalog.repository(t) for t in ("primary", "replica")}
    state = env.config.state_dir
    shutil.rmtree(state / "runs" / str(unproven.id))  # its backup record is gone
    _lose(env)

    report = rebuild_catalog(env.config)

    assert (report.confirmed, report.partial, report.unconfirmed) == (1, 1, 1)
    catalog = open_catalog(None, state)
    try:
        assert _held(catalog) == before
        status = {(s.target, s.original_id or s.snapshot_id): s.status for s in catalog.snapshots()}
        for target in ("primary", "replica"):  # a copy carries its original's status
            assert status[(target, complete.snapshot_id)] is SnapshotStatus.COMPLETE
            assert status[(target, partial.snapshot_id)] is SnapshotStatus.PARTIAL
            assert status[(target, unproven.snapshot_id)] is SnapshotStatus.COMPLETE
        for s in catalog.snapshots():  # restic's tree; the run and canary were the catalog's
            assert s.tree and s.run_id is None and s.canary_sha256 is None
        for name, known in repositories.items():
            found = catalog.repository(name)
            assert known is not None and found is not None
            assert found.repo_id.startswith(known.repo_id)
            assert found.config_sha256 == known.config_sha256
        assert catalog.runs() == [] and head(catalog).last_seq == 0  # nothing invented
    finally:
        catalog.close()
    assert not (state / "runs").exists()
    [aside] = state.glob("runs.replaced-*")
    assert sorted(int(p.name) for p in aside.iterdir()) == [complete.id, partial.id, copied.id]
    env.catalog = open_catalog(None, state)
    again = env.run()  # run ids start at 1 again, in a folder of their own
    assert again.status is RunStatus.SUCCEEDED and again.id == 1
    assert sorted(p.name for p in (state / "runs" / "1").iterdir()) == ["01-backup.json"]
    env.catalog.close()
    # Again: run 1 now names two backups, in runs/ and in runs.replaced-*/; each snapshot is
    # told by the record that names it.
    report = rebuild_catalog(env.config, force=True)
    assert (report.confirmed, report.partial, report.unconfirmed) == (2, 1, 1)


def test_rebuild_refuses_a_present_catalog_a_running_daemon_and_an_unreadable_repository(
    env: Env,
) -> None:
    state = env.config.state_dir
    first = env.run()
    env.catalog.close()
    catalog = state / "catalog.sqlite"
    recorded = (state / "catalog.id").read_text()
    files = {p.name: p.stat().st_ino for p in state.glob("catalog.sqlite*")}
    with pytest.raises(CatalogError, match=r"is present \(catalog .*--force` moves it aside"):
        rebuild_catalog(env.config)
    daemon = hold_daemon_lock(state)
    try:
        with pytest.raises(CatalogError, match="a drorch daemon is running on"):
            rebuild_catalog(env.config, force=True)
    finally:
        os.close(daemon)
    password = env.root / "keys" / "primary.pass"
    good = password.read_text()
    password.write_text("not the password\n")
    with pytest.raises(WrongPassword):
        rebuild_catalog(env.config, force=True)
    password.write_text(good)
    # Refused three times: nothing moved, nothing written.
    assert {p.name: p.stat().st_ino for p in state.glob("catalog.sqlite*")} == files
    assert (state / "catalog.id").read_text() == recorded
    assert (state / "runs" / str(first.id)).is_dir()

    rebuild_catalog(env.config, force=True)  # the old catalog moved aside, whole

    [aside] = state.glob("catalog.sqlite.replaced-*[0-9]Z")
    old = Catalog(create_catalog_engine(f"sqlite:///{aside}"))
    try:
        assert [r.id for r in old.runs()] == [first.id]
    finally:
        old.close()
    new = open_catalog(None, state)
    try:
        assert [s.snapshot_id for s in new.snapshots()] == [first.snapshot_id]
        assert new.anchor is not None
        assert new.anchor.identity.id == (state / "catalog.id").read_text().strip()
        assert (state / "catalog.id").read_text() != recorded
    finally:
        new.close()
    assert catalog.exists()


def test_rebuild_into_an_emptied_server_database(
    make_root: Callable[..., Path], catalog_url: str, restic_bin: str
) -> None:
    """PostgreSQL (and SQLite through a URL): a database found empty is rebuilt in one
    transaction; one that holds a catalog is never dropped, even with --force."""
    root = make_root(drorch=DRORCH_YAML + f'catalog: "{catalog_url}"\n')
    config = load_config(root)
    env = Env(root, config, open_catalog(catalog_url, config.state_dir))
    snapshot = env.run()
    env.catalog.close()
    server = catalog_url.startswith("postgresql")
    if server:
        with pytest.raises(CatalogError, match="drorch never drops a database"):
            rebuild_catalog(env.config, force=True)
    drop_everything(catalog_url)
    with pytest.raises(CatalogError, match="is empty"):
        open_catalog(catalog_url, env.config.state_dir)
    rebuild_catalog(env.config, force=not server)  # an emptied SQLite file is moved aside
    catalog = open_catalog(catalog_url, env.config.state_dir)
    try:
        assert [s.snapshot_id for s in catalog.snapshots()] == [snapshot.snapshot_id]
    finally:
        catalog.close()
