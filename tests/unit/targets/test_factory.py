"""The target seam: a kind chosen once from the config, then used through one interface."""

from __future__ import annotations

from pathlib import Path

import pytest

from drorch.catalog import Catalog
from drorch.config import Config, load_config
from drorch.errors import TargetOffline, UnknownTarget
from drorch.restic import Restic
from drorch.targets import Capability, open_target, targets_of
from tests.conftest import DRORCH_YAML, RootFactory

TAPE = (
    "  vault: {kind: tape, virtual: {path: vtl, capacity: 10MiB}, pool: weekly,\n"
    "          password_file: keys/replica.pass, site: dc3, jurisdiction: BF}\n"
)


@pytest.fixture
def config(make_root: RootFactory) -> Config:
    policy = "rpo: 1h\nrto: 4h\nresidency: [ML, BF]\n"
    return load_config(make_root(drorch=DRORCH_YAML + TAPE, policies={"standard": policy}))


def test_each_target_is_built_once_by_its_kind_with_the_config_placement(
    config: Config,
) -> None:
    targets = targets_of(config)
    assert list(targets) == ["primary", "replica", "vault"]
    placement = {
        name: (t.kind, t.media, t.site, t.jurisdiction, t.offline) for name, t in targets.items()
    }
    assert placement == {
        "primary": ("disk", "disk", "dc1", "ML", False),
        "replica": ("disk", "disk", "dc2", "ML", False),
        "vault": ("tape", "tape", "dc3", "BF", True),
    }
    primary = open_target("primary", config)
    assert primary.repository_folder == config.root / "repos" / "primary"
    assert primary.location == str(config.root / "repos" / "primary")
    assert targets["vault"].repository_folder is None
    assert targets["vault"].location == f"virtual library {config.root / 'vtl'}"


def test_an_unknown_target_is_named_with_the_known_ones(config: Config) -> None:
    with pytest.raises(UnknownTarget, match=r"no target named 'nowhere'.*primary"):
        open_target("nowhere", config)


def test_a_disk_target_can_do_everything_and_finds_its_repository(
    config: Config, restic_bin: str, any_catalog: Catalog
) -> None:
    primary = open_target("primary", config)
    assert all(primary.can(capability) for capability in Capability)
    primary.require(Capability.PRUNE)  # nothing raised
    restic = Restic(binary=restic_bin, cache_dir=config.state_dir / "cache")
    assert not primary.repository_present()
    with pytest.raises(TargetOffline, match=r"has no repository at .* yet"):
        primary.open_for_reading(any_catalog, restic).__enter__()
    repo = primary.open_for_writing(any_catalog, restic, managed_roots=(config.root,))
    assert primary.repository_present()
    with primary.open_for_reading(any_catalog, restic) as read:
        assert read == repo
    assert primary.read_back(restic)[0] is not None
    assert primary.remove_stale_locks(restic) == []
    assert primary.snapshots_of_run(restic, "app", 1) == []


# The words every action used for a tape target before the seam, unchanged.
REFUSALS = {
    Capability.SNAPSHOT: "target 'vault' is tape; snapshots go to a disk target",
    Capability.PRUNE: "target 'vault' is tape; prune works on a disk target",
    Capability.CHECK: "target 'vault' is tape; check works on a disk target",
}
READ_BY_SCAN = (
    "tape target 'vault' is read back by `drorch tape scan vault` (its cartridges say where "
    "the repository lies)"
)


@pytest.mark.parametrize("capability", list(REFUSALS), ids=lambda c: c.value)
def test_a_tape_target_refuses_what_only_disk_does(config: Config, capability: Capability) -> None:
    vault = open_target("vault", config)
    assert not vault.can(capability)
    with pytest.raises(TargetOffline) as refused:
        vault.require(capability)
    assert str(refused.value) == REFUSALS[capability]


def test_a_tape_target_receives_copies_is_restored_from_and_read_back(config: Config) -> None:
    vault = open_target("vault", config)
    assert {c for c in Capability if vault.can(c)} == {
        Capability.RECEIVE,
        Capability.RESTORE,
        Capability.RESTORE_TEST,
        Capability.REBUILD,
    }


def test_a_tape_target_has_no_repository_of_its_own(config: Config, tmp_path: Path) -> None:
    vault = open_target("vault", config)
    restic = Restic(cache_dir=tmp_path / "cache")
    with pytest.raises(TargetOffline) as without_catalog:  # a rebuild's empty catalog
        vault.read_back(restic)
    assert str(without_catalog.value) == READ_BY_SCAN
    assert not vault.repository_present()
    assert vault.remove_stale_locks(restic) == []
    assert not (config.root / "vtl").exists()  # nothing was created for it
