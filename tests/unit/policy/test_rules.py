"""Every compliance rule, ok and violated, on a real catalog (SQLite and PostgreSQL: the
`config` and `catalog` fixtures are in conftest.py) with a frozen `now`."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drorch.catalog import Catalog, RunStatus, open_catalog
from drorch.config import Config, load_config
from drorch.policy import JobCompliance, RuleResult, evaluate
from tests.catalog_rows import run, snapshot
from tests.conftest import write_root

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

DRORCH = """\
site: dc1
jurisdiction: ML
state_dir: state
targets:
  primary: {kind: disk, path: repos/primary, password_file: keys/primary.pass,
            site: dc1, jurisdiction: ML, media: disk}
  replica: {kind: disk, path: repos/replica, password_file: keys/replica.pass,
            site: dc2, jurisdiction: ML, media: ssd, offline: true}
  abroad: {kind: disk, path: repos/abroad, password_file: keys/abroad.pass,
           site: dc3, jurisdiction: FR}
"""

JOB = """\
policy: strict
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 15m"}
replicate: [{to: replica}]
check: {schedule: "every 1d"}
"""

POLICY = """\
rpo: 1h
rto: 30m
restore_test_every: 7d
copies: {min: 2, media: 2, offsite: 1, offline: 1}
residency: [ML]
"""


def restore_test(
    catalog: Catalog, snapshot_id: str, at: datetime, projected: float | None = 60.0
) -> None:
    evidence = {"result": "pass", "rto": {"projected_s": projected}}
    run(
        catalog,
        "restore-test",
        RunStatus.SUCCEEDED,
        at,
        target="primary",
        snapshot_id=snapshot_id,
        details={"evidence": evidence},
    )


def healthy(catalog: Catalog) -> None:
    """A job within every rule at NOW."""
    taken = NOW - timedelta(minutes=20)
    run(catalog, "snapshot", RunStatus.SUCCEEDED, taken)
    snapshot(catalog, "primary", "a" * 64, taken)
    run(catalog, "replicate:replica", RunStatus.SUCCEEDED, taken + timedelta(minutes=1))
    snapshot(catalog, "replica", "b" * 64, taken, original="a" * 64)
    restore_test(catalog, "a" * 64, NOW - timedelta(minutes=10))
    run(catalog, "check", RunStatus.SUCCEEDED, NOW - timedelta(hours=2))


def rules(config: Config, catalog: Catalog, now: datetime = NOW) -> dict[str, RuleResult]:
    [result] = evaluate(config, catalog, now)
    return {r.rule: r for r in result.rules}


def test_a_healthy_job_is_ok_on_every_rule(config: Config, catalog: Catalog) -> None:
    healthy(catalog)
    [result] = evaluate(config, catalog, NOW)
    assert isinstance(result, JobCompliance)
    assert result.ok, [r for r in result.rules if not r.ok]
    got = {r.rule: r for r in result.rules}
    assert list(got) == [
        "rpo:primary",
        "rpo:replica",
        "verified_rpo",
        "rto",
        "restore_test",
        "copies",
        "residency",
        "check",
        "failed_runs",
    ]
    assert got["rpo:primary"].value == 20 * 60 and got["rpo:primary"].limit == 3600
    assert got["verified_rpo"].value == 20 * 60
    assert got["rto"].value == 60.0 and got["rto"].limit == 1800
    assert got["copies"].value == {"min": 2, "media": 2, "offsite": 1, "offline": 1, "failed": 0}
    assert got["residency"].value == ["ML"]
    assert all(r.since is None for r in result.rules)


def test_a_job_that_never_ran_violates_with_never_ran(config: Config, catalog: Catalog) -> None:
    [result] = evaluate(config, catalog, NOW)
    assert not result.ok
    got = {r.rule: r for r in result.rules}
    for name in ("rpo:primary", "rpo:replica", "verified_rpo", "rto", "copies"):
        assert not got[name].ok and got[name].detail == "never ran", name
    for name in ("residency", "check", "failed_runs", "restore_test"):
        assert not got[name].ok and got[name].detail == "never ran", name


def test_rpo_violated_per_copy_since_newest_plus_rpo(config: Config, catalog: Catalog) -> None:
    healthy(catalog)
    later = NOW + timedelta(hours=2)
    got = rules(config, catalog, later)
    primary = got["rpo:primary"]
    assert not primary.ok
    assert primary.value == int((later - (NOW - timedelta(minutes=20))).total_seconds())
    assert primary.since == NOW - timedelta(minutes=20) + timedelta(hours=1)
    assert not got["rpo:replica"].ok


def test_rpo_of_a_copy_not_replicated_yet(config: Config, catalog: Catalog) -> None:
    run(catalog, "snapshot", RunStatus.SUCCEEDED, NOW)
    snapshot(catalog, "primary", "a" * 64, NOW)
    run(catalog, "replicate:replica", RunStatus.FAILED, NOW)
    got = rules(config, catalog)
    assert got["rpo:primary"].ok
    assert not got["rpo:replica"].ok and got["rpo:replica"].detail == "no snapshot on replica"


def test_verified_rpo_counts_the_tested_snapshot_not_the_newest(
    config: Config, catalog: Catalog
) -> None:
    old = NOW - timedelta(days=9)
    snapshot(catalog, "primary", "c" * 64, old)
    snapshot(catalog, "primary", "a" * 64, NOW - timedelta(minutes=20))
    restore_test(catalog, "c" * 64, NOW - timedelta(days=1))
    got = rules(config, catalog)
    assert not got["verified_rpo"].ok
    assert got["verified_rpo"].limit == 3600 + 7 * 86400
    assert got["verified_rpo"].since == old + timedelta(hours=1, days=7)
    assert got["restore_test"].ok


def test_rto_violated_when_projection_exceeds(config: Config, catalog: Catalog) -> None:
    healthy(catalog)
    at = NOW - timedelta(minutes=5)
    restore_test(catalog, "a" * 64, at, projected=3600.0)
    got = rules(config, catalog)
    assert not got["rto"].ok and got["rto"].value == 3600.0 and got["rto"].since == at


def test_rto_without_projection_is_a_violation(config: Config, catalog: Catalog) -> None:
    healthy(catalog)
    restore_test(catalog, "a" * 64, NOW - timedelta(minutes=5), projected=None)
    assert not rules(config, catalog)["rto"].ok


def test_restore_test_overdue(config: Config, catalog: Catalog) -> None:
    healthy(catalog)
    later = NOW + timedelta(days=8)
    got = rules(config, catalog, later)["restore_test"]
    assert not got.ok
    assert got.since == NOW - timedelta(minutes=10) + timedelta(days=7)
    assert got.limit == 7 * 86400


def test_copies_short_of_media_offsite_offline(config: Config, catalog: Catalog) -> None:
    run(catalog, "snapshot", RunStatus.SUCCEEDED, NOW)
    snapshot(catalog, "primary", "a" * 64, NOW)
    got = rules(config, catalog)["copies"]
    assert not got.ok
    assert got.value == {"min": 1, "media": 1, "offsite": 0, "offline": 0, "failed": 0}
    assert got.detail.startswith("short of min, media, offsite, offline")


def test_copies_zero_failed_verifications_since_last_pass(config: Config, catalog: Catalog) -> None:
    healthy(catalog)
    failed_at = NOW - timedelta(minutes=1)
    run(catalog, "restore-test", RunStatus.FAILED, failed_at)
    got = rules(config, catalog)
    assert not got["copies"].ok and got["copies"].value["failed"] == 1
    assert got["copies"].since == failed_at
    assert not got["failed_runs"].ok and got["failed_runs"].since == failed_at
    restore_test(catalog, "a" * 64, NOW)
    got = rules(config, catalog)
    assert got["copies"].ok and got["failed_runs"].ok


def test_residency_violated_by_a_copy_abroad(config: Config, catalog: Catalog) -> None:
    healthy(catalog)
    snapshot(catalog, "abroad", "d" * 64, NOW, original="a" * 64)
    got = rules(config, catalog)["residency"]
    assert not got.ok and got.value == ["FR", "ML"] and "abroad (FR)" in got.detail


def test_check_failed_overdue_and_never_ran(config: Config, catalog: Catalog) -> None:
    taken = NOW - timedelta(minutes=20)
    run(catalog, "snapshot", RunStatus.SUCCEEDED, taken)
    assert rules(config, catalog)["check"].detail == "never ran"
    run(catalog, "check", RunStatus.SUCCEEDED, NOW - timedelta(hours=2))
    assert rules(config, catalog)["check"].ok
    overdue = rules(config, catalog, NOW + timedelta(days=2))["check"]
    grace = config.settings.daemon.misfire_grace
    assert not overdue.ok
    assert overdue.since == NOW - timedelta(hours=2) + timedelta(days=1) + grace
    failed_at = NOW - timedelta(minutes=1)
    run(catalog, "check", RunStatus.FAILED, failed_at)
    failed = rules(config, catalog)["check"]
    assert not failed.ok and failed.value == "FAILED" and failed.since == failed_at


def test_failed_runs_count_since_last_success(config: Config, catalog: Catalog) -> None:
    healthy(catalog)
    run(catalog, "snapshot", RunStatus.FAILED, NOW - timedelta(minutes=5))
    run(catalog, "snapshot", RunStatus.INTERRUPTED, NOW - timedelta(minutes=4))
    got = rules(config, catalog)["failed_runs"]
    assert not got.ok and got.value == 2 and got.since == NOW - timedelta(minutes=5)
    assert "snapshot: 2" in got.detail
    run(catalog, "snapshot", RunStatus.SUCCEEDED, NOW - timedelta(minutes=3))
    assert rules(config, catalog)["failed_runs"].ok


def test_policy_without_cadences(tmp_path: Path) -> None:
    root = write_root(
        tmp_path / "r",
        drorch=DRORCH,
        jobs={"app": "policy: p\nsource: {paths: [data]}\nsnapshot: {target: primary}\n"},
        policies={"p": textwrap.dedent("rpo: 1h\nrto: 1h\nresidency: [ML]\n")},
    )
    config = load_config(root, check_secrets=False)
    catalog = open_catalog(None, config.state_dir)
    got = rules(config, catalog)
    assert got["restore_test"].ok and got["check"].ok
    assert list(got)[:1] == ["rpo:primary"]


def test_copies_requires_each_media_class(tmp_path: Path) -> None:
    policy = POLICY.replace("offline: 1}", "offline: 1, media_classes: [disk, tape]}")
    root = write_root(tmp_path / "r", drorch=DRORCH, jobs={"app": JOB}, policies={"strict": policy})
    config = load_config(root, check_secrets=False)
    catalog = open_catalog(None, config.state_dir)
    healthy(catalog)
    got = rules(config, catalog)["copies"]
    assert not got.ok
    assert got.value["media_classes"] == ["disk", "ssd"]
    assert got.limit["media_classes"] == ["disk", "tape"]
    assert got.detail.startswith("short of media_classes (no copy on tape)")
    (root / "policies" / "strict.yaml").write_text(
        POLICY.replace("offline: 1}", "offline: 1, media_classes: [ssd, disk]}"), encoding="utf-8"
    )
    assert rules(load_config(root, check_secrets=False), catalog)["copies"].ok


def test_a_policy_naming_an_unknown_media_class_or_jurisdiction_is_invalid(
    tmp_path: Path,
) -> None:
    from drorch.errors import ConfigError

    policy = POLICY.replace("offline: 1}", "offline: 1, media_classes: [floppy]}")
    policy = policy.replace("residency: [ML]", "residency: [ML, XX]")
    root = write_root(tmp_path / "r", drorch=DRORCH, jobs={"app": JOB}, policies={"strict": policy})
    with pytest.raises(ConfigError) as caught:
        load_config(root, check_secrets=False)
    text = "\n".join(str(issue) for issue in caught.value.issues)
    assert text.splitlines() == [
        "policies/strict.yaml:4: copies.media_classes[0]: must be 'disk', 'ssd', "
        "'removable-disk', 'optical' or 'tape' (got 'floppy')",
        "policies/strict.yaml:5: residency[1]: 'XX' is not an ISO 3166-1 alpha-2 country code "
        "(such as ML, FR)",
    ]


def test_missed_slots_since_the_last_success_count(config: Config, catalog: Catalog) -> None:
    from drorch.catalog.daemon import record_missed_slots

    healthy(catalog)
    before = NOW - timedelta(minutes=30)  # before the last snapshot: caught up since
    record_missed_slots(catalog, "app", "snapshot", [before])
    assert rules(config, catalog)["failed_runs"].ok
    late = [NOW - timedelta(minutes=15), NOW - timedelta(minutes=5)]
    record_missed_slots(catalog, "app", "snapshot", late)
    run(catalog, "check", RunStatus.FAILED, NOW - timedelta(minutes=1))
    got = rules(config, catalog)["failed_runs"]
    assert not got.ok and got.value == 3 and got.since == late[0]
    assert got.detail == (
        "check: 1 failed since last success; snapshot: 2 slots missed since last success"
    )


def test_a_tape_copy_is_offline_only_once_its_media_set_is_exported(tmp_path: Path) -> None:
    from drorch.catalog.models import CartridgeLocation, TapeFileKind
    from drorch.catalog.tape import (
        RepositoryFile,
        Sighting,
        label_cartridge,
        open_media_set,
        record_tape_file,
        see_cartridges,
    )
    from drorch.catalog.tape_media import mark_exported

    drorch = DRORCH.replace("media: ssd, offline: true}", "media: ssd}") + (
        "  vault: {kind: tape, virtual: {path: vtl, slots: 2, capacity: 4MiB}, pool: weekly,\n"
        "          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}\n"
    )
    job = JOB.replace("[{to: replica}]", "[{to: replica}, {to: vault}]")
    root = write_root(tmp_path / "r", drorch=drorch, jobs={"app": job}, policies={"strict": POLICY})
    config = load_config(root, check_secrets=False)
    catalog = open_catalog(None, config.state_dir)
    healthy(catalog)
    snapshot(catalog, "vault", "c" * 64, NOW - timedelta(minutes=19), original="a" * 64)
    assert rules(config, catalog)["copies"].value["offline"] == 0  # nothing written out
    see_cartridges(catalog, [Sighting("DRO001L8", CartridgeLocation.SLOT, 1)], at=NOW)
    ms = open_media_set(catalog, pool="weekly", target="vault", at=NOW, expires_at=None)
    label_cartridge(catalog, "DRO001L8", media_set_id=ms.id, sequence=1, at=NOW,
                    session_id="s", label_bytes=10240)  # fmt: skip
    record_tape_file(catalog, barcode="DRO001L8", file_number=1, kind=TapeFileKind.ARCHIVE,
                     bytes_written=1, written_at=NOW, session_id="s", expires_at=None,
                     target="vault", files=[RepositoryFile("config", 1, "0" * 64)])  # fmt: skip
    got = rules(config, catalog)["copies"]
    assert got.value["offline"] == 0 and not got.ok  # in the library: online
    mark_exported(catalog, "DRO001L8", slot=3, at=NOW)
    got = rules(config, catalog)["copies"]
    assert got.value["offline"] == 1 and got.ok
