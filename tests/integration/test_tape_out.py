"""Tape-out, restore and restore tests from tape, with the real restic and a real virtual
library: replicate to a tape target writes the staging repository to cartridges, and
restore reads it back from them alone."""

from __future__ import annotations

import filecmp
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from drorch.actions import RestoreOptions, RestoreTestOptions, request_for
from drorch.catalog import Catalog, RunRecord, RunStatus, open_catalog
from drorch.catalog import tape as tape_catalog
from drorch.catalog.models import CartridgeState, TapeFileKind
from drorch.config import load_config
from drorch.targets.tape.format.label import read_label
from drorch.targets.tape.library import open_library
from drorch.targets.tape.staging import repository_files, staging_folder
from drorch.targets.tape.virtual import VirtualLibrary
from tests.conftest import write_root
from tests.integration.conftest import Env

TAPE_YAML = """\
site: dc1
jurisdiction: ML
state_dir: state
evidence_key: keys/evidence.ed25519
targets:
  primary: {{kind: disk, path: repos/primary, password_file: keys/primary.pass,
            site: dc1, jurisdiction: ML, min_free: 1MiB}}
  vault: {{kind: tape, virtual: {{path: vtl, slots: 8, capacity: {capacity}}}, pool: weekly,
          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}}
pools:
  weekly: {{retention: 28d}}
"""

TAPE_JOB = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary}
replicate: [{to: vault}]
restore_test: {from: [primary, vault]}
"""


def tape_env(root: Path, catalog: Catalog | None = None, *, capacity: str = "40MiB") -> Env:
    write_root(root, drorch=TAPE_YAML.format(capacity=capacity), jobs={"app": TAPE_JOB})
    config = load_config(root)
    return Env(root, config, catalog or open_catalog(None, config.state_dir))


@pytest.fixture
def small(tmp_path: Path, catalog_url: str, restic_bin: str) -> Iterator[Env]:
    """A small job and a tape target, on each catalog backend."""
    root = tmp_path / "root"
    catalog = open_catalog(catalog_url, root / "state")
    try:
        yield tape_env(root, catalog)
    finally:
        catalog.close()


def replicate(env: Env) -> RunRecord:
    from drorch.actions import ACTIONS, execute

    return execute(env.config, env.catalog, request_for("app", "replicate:vault"), ACTIONS)


def library(env: Env) -> VirtualLibrary:
    open_library(env.config.targets["vault"])  # type: ignore[arg-type]  # created on first use
    return VirtualLibrary.open(env.root / "vtl")


def cartridges_of_set(env: Env) -> list[tape_catalog.CartridgeRecord]:
    [media_set] = tape_catalog.media_sets(env.catalog, target="vault")
    return tape_catalog.cartridges(env.catalog, media_set_id=media_set.id)


def move_disk_repositories_away(env: Env) -> None:
    for folder in (env.root / "repos" / "primary", staging_folder(env.config.state_dir, "vault")):
        folder.rename(folder.with_name(folder.name + ".away"))


@pytest.mark.heavy
def test_100_mb_spans_three_cartridges_and_restores_from_tape_alone(
    tmp_path: Path, restic_bin: str
) -> None:
    env = tape_env(tmp_path / "root")
    data = env.root / "data"
    for number in range(20):
        (data / f"random{number:02d}.bin").write_bytes(os.urandom(5_000_000))
    assert env.run().status is RunStatus.SUCCEEDED
    run = replicate(env)
    assert run.status is RunStatus.SUCCEEDED, run.error
    written = run.details["written"]
    # the cartridge filled mid-archive at least once: that archive went whole to the next
    assert written["rewritten"] >= 1
    members = cartridges_of_set(env)
    assert len(members) >= 3
    assert [c.sequence for c in members] == list(range(1, len(members) + 1))
    assert all(c.state is CartridgeState.FULL for c in members[:-1])
    # every staging file is on tape once, and the cartridges say so themselves
    staged = {
        f.path: f.size for f in repository_files(staging_folder(env.config.state_dir, "vault"))
    }
    held = tape_catalog.files_on_media_set(env.catalog, members[0].media_set_id or "", "vault")
    assert set(held) == set(staged)
    assert written["files_written"] == len(staged)
    vtl = library(env)
    with vtl.drive(0, record_size=256 * 1024) as drive:
        for member in members:
            slot = next(
                s.number for s in vtl.changer().inventory().slots if s.barcode == member.barcode
            )
            vtl.changer().load(slot, 0)
            label = read_label(drive)
            assert label is not None
            assert (label.barcode, label.sequence) == (member.barcode, member.sequence)
            drive.unload()
            vtl.changer().unload(0)
    # the copy counts only now, and the restore needs nothing but the cartridges
    [copy] = env.catalog.snapshots(target="vault")
    move_disk_repositories_away(env)
    restored = tmp_path / "restored"
    back = env.run(action="restore", options=RestoreOptions(to=restored, from_target="vault"))
    assert back.status is RunStatus.SUCCEEDED, back.error
    assert back.snapshot_id == copy.snapshot_id
    comparison = filecmp.dircmp(data, restored / data.relative_to("/"))
    assert not comparison.left_only and not comparison.right_only
    for name in comparison.common_files:
        assert (data / name).read_bytes() == (restored / data.relative_to("/") / name).read_bytes()
    assert not list((env.config.state_dir / "scratch").iterdir())  # the scratch repo is gone


def test_restore_test_from_tape_is_evidence_and_rotation_passes_on_both(small: Env) -> None:
    env = small
    assert env.run().status is RunStatus.SUCCEEDED
    assert replicate(env).status is RunStatus.SUCCEEDED
    tested = env.run(action="restore-test", options=RestoreTestOptions(from_target="vault"))
    assert tested.status is RunStatus.SUCCEEDED, tested.error
    record = tested.details["evidence"]
    assert record["target"]["name"] == "vault"
    assert record["result"] == "pass"
    assert {c["name"] for c in record["checks"] if c["passed"]} >= {"restic", "canary"}
    # reading the cartridges is part of the restore time projected against the RTO
    assert record["durations_s"]["stage"] > 0
    assert record["rto"]["projected_s"] >= record["durations_s"]["stage"]
    rotation = [env.run(action="restore-test") for _ in range(2)]
    tested = sorted(r.details["evidence"]["target"]["name"] for r in rotation)
    assert tested == ["primary", "vault"]
    assert all(r.status is RunStatus.SUCCEEDED for r in rotation), [r.error for r in rotation]


def test_a_second_tape_out_appends_only_the_new_files_to_the_same_set(small: Env) -> None:
    env = small
    assert env.run().status is RunStatus.SUCCEEDED
    first = replicate(env)
    assert first.status is RunStatus.SUCCEEDED, first.error
    staging = staging_folder(env.config.state_dir, "vault")
    before = {f.path for f in repository_files(staging)}
    (env.root / "data" / "new.bin").write_bytes(os.urandom(300_000))
    assert env.run().status is RunStatus.SUCCEEDED
    second = replicate(env)
    assert second.status is RunStatus.SUCCEEDED, second.error
    new = {f.path for f in repository_files(staging)} - before
    assert new and second.details["written"]["files_written"] == len(new)
    assert second.details["written"]["media_set"] == first.details["written"]["media_set"]
    [cartridge] = cartridges_of_set(env)
    kinds = [f.kind for f in tape_catalog.tape_files(env.catalog, cartridge.barcode)]
    assert kinds == [
        TapeFileKind.LABEL,
        TapeFileKind.ARCHIVE,
        TapeFileKind.INDEX,
        TapeFileKind.ARCHIVE,
        TapeFileKind.INDEX,
    ]
    assert len(env.catalog.snapshots(target="vault")) == 2
    # a third run with nothing new writes nothing
    third = replicate(env)
    assert third.status is RunStatus.SUCCEEDED, third.error
    assert third.details["written"]["files_written"] == 0
    move_disk_repositories_away(env)
    back = env.run(
        action="restore",
        options=RestoreOptions(to=env.root.parent / "restored", from_target="vault"),
    )
    assert back.status is RunStatus.SUCCEEDED, back.error
    restored = env.root.parent / "restored" / (env.root / "data").relative_to("/")
    assert (restored / "new.bin").read_bytes() == (env.root / "data" / "new.bin").read_bytes()


def test_an_exported_cartridge_is_named(small: Env, tmp_path: Path) -> None:
    env = small
    assert env.run().status is RunStatus.SUCCEEDED
    assert replicate(env).status is RunStatus.SUCCEEDED
    [cartridge] = cartridges_of_set(env)
    vtl = library(env)
    slot = next(s.number for s in vtl.changer().inventory().slots if s.barcode == cartridge.barcode)
    assert vtl.remove(slot) == cartridge.barcode
    run = env.run(action="restore", options=RestoreOptions(to=tmp_path / "r", from_target="vault"))
    assert run.status is RunStatus.FAILED
    assert run.error is not None and cartridge.barcode in run.error
    assert "not in the library" in run.error
