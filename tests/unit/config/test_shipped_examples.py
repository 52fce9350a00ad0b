"""The repository root is the shipped example config root: it must stay valid. Its jobs/,
policies/ and runbooks/ are links to drorch/examples/, the package data `drorch demo`
copies: one copy of each file, the same in a checkout and in an installed wheel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drorch import demo
from drorch.config import Config, load_config
from drorch.config.model import DiskTarget, TapeTarget
from drorch.config.runbooks import RestoreWith
from drorch.config.schedule import next_fire
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def shipped() -> Config:
    return load_config(REPO_ROOT, check_secrets=False)


def test_the_root_folders_are_the_package_examples() -> None:
    for folder in ("jobs", "policies", "runbooks"):
        assert (REPO_ROOT / folder).is_symlink()
        assert (REPO_ROOT / folder).resolve() == REPO_ROOT / "drorch" / "examples" / folder


def test_every_shipped_file_is_loaded(shipped: Config) -> None:
    assert shipped.root == REPO_ROOT
    assert sorted(shipped.jobs) == sorted(p.stem for p in (REPO_ROOT / "jobs").glob("*.yaml"))
    assert sorted(shipped.jobs) == ["payroll", "registry"]
    assert sorted(shipped.policies) == ["critical", "standard"]
    assert sorted(shipped.runbooks) == ["drill", "recover-site", "restore-from-tape", "restore-job"]
    assert list(shipped.targets) == ["primary", "replica", "vault"]


def test_shipped_settings(shipped: Config) -> None:
    assert (shipped.settings.site, shipped.settings.jurisdiction) == ("bamako-dc1", "ML")
    assert shipped.state_dir == REPO_ROOT / "var/state"
    assert shipped.settings.evidence_key == REPO_ROOT / "keys/evidence.ed25519"
    primary = shipped.target("primary")
    assert isinstance(primary, DiskTarget)
    assert primary.path == REPO_ROOT / "var/repos/primary"
    assert shipped.target("replica").site == "bamako-dc2"
    vault = shipped.target("vault")
    assert isinstance(vault, TapeTarget)
    assert vault.virtual is not None
    assert (vault.virtual.path, vault.virtual.slots, vault.virtual.capacity) == (
        REPO_ROOT / "var/vtl",
        8,
        200 * 1024**2,
    )
    assert (vault.pool, vault.offline, vault.drive) == ("weekly", True, None)


def test_shipped_jobs(shipped: Config) -> None:
    payroll = shipped.job("payroll")
    assert payroll.policy == "critical"
    assert payroll.source.paths == (REPO_ROOT / "data/payroll",)
    assert [hook.command[:2] for hook in payroll.source.before] == [("sh", "-c")]
    assert [r.to for r in payroll.replicate] == ["replica", "vault"]
    assert payroll.restore_test is not None
    assert payroll.restore_test.from_ == ("primary", "replica", "vault")
    registry = shipped.job("registry")
    assert registry.policy == "standard"
    assert [r.to for r in registry.replicate] == ["replica"]
    assert registry.check is not None
    assert registry.check.read_data_subset == "1/10"


def test_shipped_policies(shipped: Config) -> None:
    critical = shipped.policies["critical"]
    assert (critical.rpo, critical.rto) == (timedelta(minutes=15), timedelta(hours=1))
    assert critical.residency == ("ML", "BF", "NE")
    assert (critical.copies.min, critical.copies.media, critical.copies.offline) == (3, 2, 1)
    standard = shipped.policies["standard"]
    assert (standard.rpo, standard.rto) == (timedelta(hours=2), timedelta(hours=8))
    assert standard.restore_test_every == timedelta(days=7)


def test_shipped_runbooks(shipped: Config) -> None:
    runbook = shipped.runbooks["restore-job"]
    assert [step.kind for step in runbook.steps] == ["restore", "verify", "confirm"]
    assert runbook.params["destination"].required is True
    assert runbook.params["destination"].type == "path"
    assert runbook.params["snapshot"].default == "latest"
    assert runbook.allowed_roots == (REPO_ROOT / "var/restore",)
    restore = runbook.steps[0].with_
    assert isinstance(restore, RestoreWith)
    assert (restore.job, restore.from_, restore.to) == ("{job}", "{from}", "{destination}")
    assert runbook.params["job"].default == "payroll"
    site = shipped.runbooks["recover-site"]
    assert [s.each_job for s in site.steps if s.kind in ("restore", "verify")] == ["{site}"] * 2
    assert "approve" in [s.kind for s in site.steps]
    drill = shipped.runbooks["drill"]
    assert drill.drill and [s.kind for s in drill.steps] == ["restore", "verify", "cleanup"]
    tape = shipped.runbooks["restore-from-tape"]
    assert [step.kind for step in tape.steps] == ["note", "restore", "verify", "notify"]
    from_tape = tape.steps[1].with_
    assert isinstance(from_tape, RestoreWith)
    assert (from_tape.from_, from_tape.as_of) == ("vault", "{as_of}")
    assert isinstance(shipped.target(from_tape.from_), TapeTarget)


def test_weekly_vault_copy_runs_on_sunday(shipped: Config) -> None:
    # "0 2 * * 0" is Sunday in crontab; APScheduler 3 alone would read it as Monday.
    schedule = shipped.job("payroll").replicate[1].schedule
    assert schedule is not None
    monday = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
    fire = next_fire(schedule, after=monday)
    assert fire == datetime(2024, 3, 10, 2, 0, tzinfo=UTC)
    assert fire.strftime("%A") == "Sunday"


def test_the_demo_config_validates_the_shipped_runbooks(tmp_path: Path) -> None:
    (tmp_path / "drorch.yaml").write_text(demo.DRORCH_YAML)
    demo.copy_examples(tmp_path)
    config = load_config(tmp_path, check_secrets=False)
    assert sorted(config.runbooks) == ["drill", "recover-site", "restore-from-tape", "restore-job"]
    assert config.runbooks["restore-from-tape"].allowed_roots == (tmp_path / "var/restore",)
