"""The config root loader: real YAML files in a temporary root, exact messages.

Every problem is reported as `file:line: field.path: message`, and all of them at once.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from drorch.action_key import NAME_MAX
from drorch.config import load_config, resolve_root
from drorch.config.model import (
    CommandCheck,
    DiskTarget,
    HookSpec,
    SnapshotSpec,
    TapeTarget,
    VirtualLibrary,
)
from drorch.config.runbooks import RestoreWith
from drorch.config.schedule import Schedule
from drorch.errors import EXIT_USAGE, ConfigError, ConfigIssue, UnknownJob, UnknownTarget
from tests.conftest import DRORCH_YAML, JOB_YAML, POLICY_YAML, RootFactory
from tests.unit.config.conftest import problems

HOOK_HINT = (
    "a hook is an argument list such as [pg_dump, -f, /srv/db.sql], not a string; "
    "write [sh, -c, '...'] when you need a shell"
)
JOB_KEYS = (
    "check, description, drill, ping, policy, prune, replicate, restore_test, snapshot, source"
)
DISK_KEYS = (
    "jurisdiction, kind, media, min_free, nodes, offline, password_file, path, require_mount, site"
)
VAULT_VIRTUAL = (
    "  vault: {kind: tape, virtual: {path: vtl, capacity: 1MiB}, pool: weekly,\n"
    "          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}\n"
)
VAULT_DRIVE = (
    "  vault: {kind: tape, drive: /dev/nst0, changer: /dev/sg3, pool: weekly,\n"
    "          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}\n"
)


def job(text: str) -> dict[str, str]:
    return {"app": text}


# --- a valid root ---------------------------------------------------------------------------


def test_valid_root_loads_every_value(make_root: RootFactory) -> None:
    root = make_root()
    config = load_config(root)
    assert config.root == root
    settings = config.settings
    assert (settings.site, settings.jurisdiction, settings.catalog) == ("dc1", "ML", None)
    assert settings.notify == ()
    assert settings.restic.binary == "restic"
    assert settings.restic.timeout == timedelta(hours=24)
    assert list(config.targets) == ["primary", "replica"]
    assert config.target("replica") == DiskTarget(
        kind="disk",
        path=root / "repos/replica",
        password_file=root / "keys/replica.pass",
        site="dc2",
        jurisdiction="ML",
        media="disk",
        offline=False,
        min_free=1024**2,
    )
    assert list(config.jobs) == ["app"]
    app = config.job("app")
    assert app.policy == "standard"
    assert app.description == ""
    assert app.source.paths == (root / "data",)
    assert app.source.exclude == ()
    assert app.source.before == ()
    assert app.snapshot.target == "primary"
    assert app.snapshot.schedule == Schedule(text="every 15m", every_seconds=900)
    assert app.snapshot.timeout is None
    assert app.replicate == ()
    assert (app.restore_test, app.prune, app.check) == (None, None, None)
    policy = config.policy_of(app)
    assert policy is config.policies["standard"]
    assert (policy.rpo, policy.rto, policy.residency) == (
        timedelta(hours=1),
        timedelta(hours=4),
        ("ML",),
    )
    assert policy.restore_test_every is None
    assert (policy.copies.min, policy.copies.media, policy.copies.offsite) == (1, 1, 0)
    assert dict(config.runbooks) == {}


def test_full_job_policy_and_runbook(make_root: RootFactory) -> None:
    root = make_root(
        drorch=DRORCH_YAML + VAULT_VIRTUAL,
        jobs=job(
            """\
            description: Payroll
            policy: critical
            source:
              paths: [data, /srv/payroll]
              exclude: ["*.tmp"]
              before:
                - [pg_dump, -f, dump.sql]
                - {command: [sync], timeout: 30s}
              after: [[rm, dump.sql]]
            snapshot: {target: primary, schedule: "*/15 * * * *", timeout: 2h}
            replicate:
              - {to: replica, schedule: "5 * * * *"}
              - {to: vault, schedule: "0 2 * * 0"}
            restore_test:
              schedule: "0 3 * * *"
              from: [primary, replica, vault]
              verify: [restic, {command: [test, -f, "{restore_dir}/dump.sql"]}]
              snapshot: random
            prune: {schedule: "0 4 * * *"}
            check: {schedule: "0 5 * * 0", read_data_subset: 1/10}
            """
        ),
        policies={
            "critical": """\
            rpo: 15m
            rto: 1h
            restore_test_every: 1d
            retention: {hourly: 24, daily: 7, within: 2d}
            copies: {min: 3, media: 2, offsite: 1, offline: 1}
            residency: [ML, BF]
            """
        },
        runbooks={
            "restore": """\
            title: Restore
            description: Restore payroll
            allowed_roots: [restore]
            params:
              destination: {type: path, description: Where, required: true}
            steps:
              - {name: restore, kind: restore,
                 with: {job: app, snapshot: latest, from: vault, to: "{destination}"}}
              - {name: ask, kind: confirm, with: {word: CONFIRM}}
            """
        },
    )
    config = load_config(root)
    app = config.job("app")
    assert app.description == "Payroll"
    assert app.source.paths == (root / "data", Path("/srv/payroll"))
    assert app.source.exclude == ("*.tmp",)
    assert app.source.before == (
        HookSpec(command=("pg_dump", "-f", "dump.sql"), timeout=timedelta(minutes=10)),
        HookSpec(command=("sync",), timeout=timedelta(seconds=30)),
    )
    assert app.source.after == (HookSpec(command=("rm", "dump.sql")),)
    assert app.snapshot.timeout == timedelta(hours=2)
    assert [(r.to, str(r.schedule)) for r in app.replicate] == [
        ("replica", "5 * * * *"),
        ("vault", "0 2 * * 0"),
    ]
    assert app.restore_test is not None
    assert app.restore_test.from_ == ("primary", "replica", "vault")
    assert app.restore_test.verify == (
        "restic",
        CommandCheck(
            command=("test", "-f", "{restore_dir}/dump.sql"), timeout=timedelta(minutes=5)
        ),
    )
    assert app.restore_test.snapshot == "random"
    assert app.check is not None
    assert app.check.read_data_subset == "1/10"
    vault = config.target("vault")
    assert isinstance(vault, TapeTarget)
    assert vault.virtual == VirtualLibrary(path=root / "vtl", slots=8, capacity=1024**2)
    assert (vault.drive, vault.media, vault.offline) == (None, "tape", True)
    policy = config.policies["critical"]
    assert policy.retention.within == timedelta(days=2)
    assert (policy.retention.hourly, policy.retention.daily, policy.retention.weekly) == (24, 7, 0)
    assert policy.residency == ("ML", "BF")
    runbook = config.runbooks["restore"]
    assert [step.kind for step in runbook.steps] == ["restore", "confirm"]
    assert runbook.steps[0].with_ == RestoreWith(
        job="app", snapshot="latest", from_="vault", to="{destination}"
    )
    assert runbook.allowed_roots == (root / "restore",)
    assert runbook.params["destination"].required is True


def test_models_built_in_python_take_parsed_values() -> None:
    every = Schedule(text="every 10m", every_seconds=600)
    spec = SnapshotSpec(target="primary", schedule=every, timeout=timedelta(hours=1))
    assert (spec.schedule, spec.timeout) == (every, timedelta(hours=1))
    assert SnapshotSpec(target="primary", schedule="every 10m").schedule == every
    hook = HookSpec(command=("sync",), timeout=timedelta(seconds=5))
    assert hook.timeout == timedelta(seconds=5)
    with pytest.raises(ValidationError) as caught:
        HookSpec(command=("sync",), timeout=timedelta(0))
    assert caught.value.errors()[0]["msg"] == (
        "Value error, a duration is written like 30s, 15m, 1h30m or 1d, not datetime.timedelta(0)"
    )


def test_tape_target_with_a_drive(make_root: RootFactory) -> None:
    root = make_root(drorch=DRORCH_YAML + VAULT_DRIVE)
    vault = load_config(root).target("vault")
    assert isinstance(vault, TapeTarget)
    assert (vault.virtual, vault.drive, vault.changer) == (None, "/dev/nst0", "/dev/sg3")


# --- paths ----------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_root(make_root: RootFactory) -> None:
    root = make_root()
    config = load_config(root)
    assert config.state_dir == root / "state"
    assert config.settings.evidence_key == root / "keys/evidence.ed25519"
    primary = config.target("primary")
    assert isinstance(primary, DiskTarget)
    assert primary.path == root / "repos/primary"
    assert primary.password_file == root / "keys/primary.pass"
    assert config.job("app").source.paths == (root / "data",)


def test_relative_root_is_made_absolute(
    make_root: RootFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root()
    monkeypatch.chdir(tmp_path)
    config = load_config(Path(root.name))
    assert config.root == root
    assert config.root.is_absolute()
    assert config.state_dir == root / "state"


def test_absolute_and_home_paths_are_kept(
    make_root: RootFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    drorch = DRORCH_YAML.replace("state_dir: state", "state_dir: /var/lib/drorch").replace(
        "path: repos/replica", "path: ~/replica"
    )
    root = make_root(drorch=drorch)
    config = load_config(root)
    assert config.state_dir == Path("/var/lib/drorch")
    replica = config.target("replica")
    assert isinstance(replica, DiskTarget)
    assert replica.path == tmp_path / "home/replica"


def test_defaults_resolve_against_the_root(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML.replace("state_dir: state\n", "").replace(
        "evidence_key: keys/evidence.ed25519\n", ""
    )
    root = make_root(drorch=drorch)
    config = load_config(root)
    assert config.state_dir == root / "var/state"
    assert config.settings.evidence_key == root / "keys/evidence.ed25519"


def test_resolve_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DRORCH_CONFIG", str(tmp_path / "from-env"))
    assert resolve_root(str(tmp_path / "opt")) == tmp_path / "opt"
    assert resolve_root(None) == tmp_path / "from-env"
    monkeypatch.delenv("DRORCH_CONFIG")
    assert resolve_root(None) == Path("/etc/drorch")
    monkeypatch.chdir(tmp_path)
    assert resolve_root("rel") == tmp_path / "rel"


# --- references between files ---------------------------------------------------------------


def test_unknown_snapshot_target(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs=job(JOB_YAML.replace("target: primary", "target: primry")))
    assert problems(root) == [
        "jobs/app.yaml:3: snapshot.target: no target named 'primry' (known: primary, replica)"
    ]


def test_issue_fields(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs=job(JOB_YAML.replace("target: primary", "target: primry")))
    with pytest.raises(ConfigError) as caught:
        load_config(root, check_secrets=False)
    assert caught.value.issues == (
        ConfigIssue(
            file="jobs/app.yaml",
            line=3,
            field="snapshot.target",
            message="no target named 'primry' (known: primary, replica)",
        ),
    )


def test_snapshot_target_must_be_a_disk(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        drorch=DRORCH_YAML + VAULT_DRIVE,
        jobs=job(JOB_YAML.replace("target: primary", "target: vault")),
    )
    assert problems(root) == [
        "jobs/app.yaml:3: snapshot.target: target 'vault' is tape; "
        "snapshots are written to a disk target"
    ]


def test_unknown_and_repeated_replica_targets(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        jobs=job(
            JOB_YAML
            + "replicate:\n"
            + "  - {to: replica}\n"
            + "  - {to: offsite}\n"
            + "  - {to: replica}\n"
            + "  - {to: primary}\n"
        ),
    )
    assert problems(root) == [
        "jobs/app.yaml:6: replicate[1].to: no target named 'offsite' (known: primary, replica)",
        "jobs/app.yaml:7: replicate[2].to: target 'replica' already holds a copy of app",
        "jobs/app.yaml:8: replicate[3].to: target 'primary' already holds a copy of app",
    ]


def test_unknown_policy(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs=job(JOB_YAML.replace("policy: standard", "policy: gold")))
    assert problems(root) == ["jobs/app.yaml:1: policy: no policy named 'gold' (known: standard)"]


def test_unknown_policy_when_none_are_defined(make_root: RootFactory) -> None:
    root = make_root(keys=False, policies={})
    assert problems(root) == ["jobs/app.yaml:1: policy: no policy named 'standard' (none defined)"]


def test_invalid_policy_is_not_also_reported_as_missing(make_root: RootFactory) -> None:
    root = make_root(keys=False, policies={"standard": POLICY_YAML.replace("rpo: 1h", "rpo: 1x")})
    assert problems(root) == [
        "policies/standard.yaml:1: rpo: a duration is written like 30s, 15m, 1h30m or 1d, not '1x'"
    ]


def test_restore_test_from_a_target_holding_no_copy(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        jobs=job(JOB_YAML + "restore_test:\n  from: [primary, replica, nowhere]\n"),
    )
    assert problems(root) == [
        "jobs/app.yaml:5: restore_test.from[1]: target 'replica' holds no copy of app",
        "jobs/app.yaml:5: restore_test.from[2]: "
        "no target named 'nowhere' (known: primary, replica)",
    ]


def test_restore_test_from_replicas(make_root: RootFactory) -> None:
    root = make_root(
        jobs=job(
            JOB_YAML + "replicate: [{to: replica}]\nrestore_test: {from: [replica, primary]}\n"
        )
    )
    restore_test = load_config(root).job("app").restore_test
    assert restore_test is not None
    assert restore_test.from_ == ("replica", "primary")
    assert restore_test.verify == ("restic", "canary", "listing")


# --- residency and jurisdictions ------------------------------------------------------------


def test_residency_violation_of_the_snapshot_target(make_root: RootFactory) -> None:
    root = make_root(keys=False, policies={"standard": POLICY_YAML.replace("[ML]", "[FR, BF]")})
    assert problems(root) == [
        "jobs/app.yaml:3: snapshot.target: target 'primary' is in jurisdiction ML, "
        "outside policy 'standard' residency (FR, BF)"
    ]


def test_residency_violation_of_a_replica(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML.replace("site: dc2, jurisdiction: ML", "site: dc2, jurisdiction: FR")
    root = make_root(
        keys=False,
        drorch=drorch,
        jobs=job(JOB_YAML + "replicate:\n  - {to: replica}\n"),
    )
    assert problems(root) == [
        "jobs/app.yaml:5: replicate[0].to: target 'replica' is in jurisdiction FR, "
        "outside policy 'standard' residency (ML)"
    ]


def test_residency_allows_every_listed_jurisdiction(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML.replace("site: dc2, jurisdiction: ML", "site: dc2, jurisdiction: BF")
    root = make_root(
        drorch=drorch,
        jobs=job(JOB_YAML + "replicate: [{to: replica}]\n"),
        policies={"standard": POLICY_YAML.replace("[ML]", "[ML, BF]")},
    )
    assert load_config(root).target("replica").jurisdiction == "BF"


def test_invalid_jurisdiction_codes(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML.replace("jurisdiction: ML\nstate_dir", "jurisdiction: XX\nstate_dir")
    drorch = drorch.replace("site: dc2, jurisdiction: ML", "site: dc2, jurisdiction: ml")
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == [
        "drorch.yaml:2: jurisdiction: 'XX' is not an ISO 3166-1 alpha-2 country code "
        "(such as ML, FR)",
        "drorch.yaml:9: targets.replica.jurisdiction: 'ml' is not an ISO 3166-1 alpha-2 "
        "country code (such as ML, FR)",
    ]


def test_invalid_residency_code(make_root: RootFactory) -> None:
    root = make_root(keys=False, policies={"standard": POLICY_YAML.replace("[ML]", "[ML, UK]")})
    assert problems(root) == [
        "policies/standard.yaml:3: residency[1]: 'UK' is not an ISO 3166-1 alpha-2 country code "
        "(such as ML, FR)"
    ]


def test_only_invalid_residency_code_gives_one_issue(make_root: RootFactory) -> None:
    root = make_root(keys=False, policies={"standard": POLICY_YAML.replace("[ML]", "[EU]")})
    assert problems(root) == [
        "policies/standard.yaml:3: residency[0]: 'EU' is not an ISO 3166-1 alpha-2 country code "
        "(such as ML, FR)"
    ]


# --- targets --------------------------------------------------------------------------------


def test_tape_target_with_neither_virtual_nor_drive(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML + (
        "  vault: {kind: tape, pool: weekly, password_file: keys/vault.pass,\n"
        "          site: dc1, jurisdiction: ML}\n"
    )
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == [
        "drorch.yaml:10: targets.vault: a tape target has either 'virtual' or 'drive' "
        "(or 'drives'), exactly one of them"
    ]


def test_tape_target_with_both_virtual_and_drive(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML + VAULT_VIRTUAL.replace("pool: weekly", "drive: /dev/nst0, pool: weekly")
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == [
        "drorch.yaml:10: targets.vault: a tape target has either 'virtual' or 'drive' "
        "(or 'drives'), exactly one of them"
    ]


def test_target_kind_unknown_or_missing(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML.replace(
        "kind: disk, path: repos/replica", "kind: nas, path: repos/replica"
    )
    drorch += "  third: {path: x, password_file: k, site: s, jurisdiction: ML}\n"
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == [
        "drorch.yaml:8: targets.replica: kind must be one of 'disk', 'tape', not 'nas'",
        "drorch.yaml:10: targets.third: 'kind' is required (disk or tape)",
    ]


def test_no_targets(make_root: RootFactory) -> None:
    drorch = "site: dc1\njurisdiction: ML\ntargets: {}\n"
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == ["drorch.yaml:3: targets: must not be empty"]


def test_bad_size_and_missing_field_in_a_target(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML.replace("min_free: 1MiB}", "min_free: 1 MiBs}", 1).replace(
        "site: dc2, ", ""
    )
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == [
        "drorch.yaml:7: targets.primary.min_free: a size is written like 500MiB or 2GB, "
        "not '1 MiBs'",
        "drorch.yaml:8: targets.replica.site: required, but missing",
    ]


# --- unknown keys ---------------------------------------------------------------------------


def test_unknown_key_with_a_guess(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs=job(JOB_YAML + "replicat: []\n"))
    assert problems(root) == [
        f"jobs/app.yaml:4: replicat: unknown key (did you mean 'replicate'? known: {JOB_KEYS})"
    ]


def test_unknown_key_without_a_guess(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs=job(JOB_YAML + "retention: {daily: 7}\n"))
    assert problems(root) == [f"jobs/app.yaml:4: retention: unknown key (known: {JOB_KEYS})"]


def test_unknown_nested_keys(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        jobs=job(
            """\
            policy: standard
            source:
              paths: [data]
              exclud: ["*.tmp"]
            snapshot: {target: primary, schedul: every 15m}
            """
        ),
    )
    assert problems(root) == [
        "jobs/app.yaml:4: source.exclud: unknown key "
        "(did you mean 'exclude'? known: after, before, exclude, paths)",
        "jobs/app.yaml:5: snapshot.schedul: unknown key "
        "(did you mean 'schedule'? known: schedule, target, timeout)",
    ]


def test_unknown_key_in_a_target(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML.replace("min_free: 1MiB}", "minfree: 1MiB}", 1)
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == [
        "drorch.yaml:7: targets.primary.minfree: unknown key "
        f"(did you mean 'min_free'? known: {DISK_KEYS})"
    ]


def test_unknown_key_in_a_tape_target_lists_tape_keys(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML + VAULT_DRIVE.replace("changer:", "chnager:")
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == [
        "drorch.yaml:10: targets.vault.chnager: unknown key (did you mean 'changer'? known: "
        "changer, drive, drives, jurisdiction, kind, media, nodes, offline, password_file, pool, "
        "record_size, site, virtual)"
    ]


def test_unknown_key_in_a_policy(make_root: RootFactory) -> None:
    root = make_root(
        keys=False, policies={"standard": POLICY_YAML + "retention: {dayly: 7, weekly: 4}\n"}
    )
    assert problems(root) == [
        "policies/standard.yaml:4: retention.dayly: unknown key "
        "(did you mean 'daily'? known: daily, hourly, monthly, weekly, within, yearly)"
    ]


# --- YAML itself ----------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_line(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        jobs=job("policy: standard\nsource: {paths: [data]\nsnapshot: {target: primary}\n"),
    )
    assert problems(root) == [
        "jobs/app.yaml:3: invalid YAML: while parsing a flow mapping "
        "did not find expected ',' or '}'"
    ]


def test_yaml_bad_indentation(make_root: RootFactory) -> None:
    root = make_root(keys=False, policies={"standard": "rpo: 1h\n  rto: 4h\nresidency: [ML]\n"})
    assert problems(root) == [
        "policies/standard.yaml:2: invalid YAML: mapping values are not allowed in this context"
    ]


def test_duplicate_key(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs=job(JOB_YAML + "policy: other\n"))
    assert problems(root) == ["jobs/app.yaml:4: policy: duplicate key"]


def test_duplicate_nested_key(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML + (
        "  primary: {kind: disk, path: x, password_file: k, site: s, jurisdiction: ML}\n"
    )
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == ["drorch.yaml:10: targets.primary: duplicate key"]


def test_file_that_is_not_a_mapping(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs={"app": "- policy\n- source\n", "empty": ""})
    assert problems(root) == [
        "jobs/app.yaml:1: must be a mapping of keys to values",
        "jobs/empty.yaml:1: must be a mapping of keys to values",
    ]


def test_python_tags_are_refused(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    (root / "jobs/app.yaml").write_text("policy: !!python/name:os.system\n", encoding="utf-8")
    [message] = problems(root)
    assert message.startswith(
        "jobs/app.yaml:1: invalid value: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'"
    )


def test_file_that_is_not_utf8(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    (root / "jobs/app.yaml").write_bytes(b"policy: \xff\n")
    assert problems(root) == [
        "jobs/app.yaml: cannot read: 'utf-8' codec can't decode byte 0xff in position 8: "
        "invalid start byte"
    ]


def test_missing_drorch_yaml(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "empty")
    assert str(caught.value) == f"{tmp_path}/empty/drorch.yaml: missing: not a config root"
    assert caught.value.issues[0].line is None


def test_missing_root_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nowhere")
    assert str(caught.value) == (
        f"{tmp_path}/nowhere/drorch.yaml: missing: not a config root (the directory does not exist)"
    )


# --- file names -----------------------------------------------------------------------------


def test_yml_files_load_and_other_files_are_ignored(make_root: RootFactory) -> None:
    root = make_root(jobs={})
    (root / "jobs/other.yml").write_text(JOB_YAML, encoding="utf-8")
    (root / "jobs/README.txt").write_text("not a job", encoding="utf-8")
    (root / "jobs/old.yaml.bak").write_text("not: [valid", encoding="utf-8")
    assert list(load_config(root).jobs) == ["other"]


def test_name_defined_twice(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    (root / "jobs/app.yml").write_text(JOB_YAML, encoding="utf-8")
    assert problems(root) == ["jobs/app.yml: 'app' is defined twice"]


def test_file_name_that_is_not_a_name(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs={"app": JOB_YAML, "my app": JOB_YAML, "-x": JOB_YAML})
    assert problems(root) == [
        "jobs/-x.yaml: a name uses letters, digits, _ . -",
        "jobs/my app.yaml: a name uses letters, digits, _ . -",
    ]


def test_names_have_at_most_name_max_characters(make_root: RootFactory) -> None:
    """A catalog column holds every name and action key a valid root can produce: a longer
    job file, target or policy name is refused, naming the file and the field."""
    longest, longer = "j" * NAME_MAX, "t" * (NAME_MAX + 1)
    root = make_root(
        keys=False,
        drorch=DRORCH_YAML.replace("  replica:", f"  {longer}:"),
        jobs={longest: JOB_YAML, "k" * (NAME_MAX + 1): JOB_YAML},
    )
    assert problems(root) == [
        f"drorch.yaml:8: targets.{longer}: a name has at most {NAME_MAX} characters",
        f"jobs/{'k' * (NAME_MAX + 1)}.yaml: a name has at most {NAME_MAX} characters",
    ]


def test_a_replication_to_the_longest_target_name_is_valid(make_root: RootFactory) -> None:
    longest = "t" * NAME_MAX
    root = make_root(
        keys=False,
        drorch=DRORCH_YAML.replace("  replica:", f"  {longest}:"),
        jobs=job(JOB_YAML + f"replicate: [{{to: {longest}}}]\n"),
    )
    assert load_config(root, check_secrets=False).jobs["app"].replicate[0].to == longest


# --- hooks, values --------------------------------------------------------------------------


def test_hook_given_as_a_string(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        jobs=job(
            """\
            policy: standard
            source:
              paths: [data]
              before: ["pg_dump -f /srv/db.sql app"]
              after:
                - [ok]
                - "rm /srv/db.sql"
            snapshot: {target: primary}
            """
        ),
    )
    assert problems(root) == [
        f"jobs/app.yaml:4: source.before[0]: {HOOK_HINT}",
        f"jobs/app.yaml:7: source.after[1]: {HOOK_HINT}",
    ]


def test_hook_list_given_as_a_string(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        jobs=job(
            """\
            policy: standard
            source: {paths: [data], before: "pg_dump -f /srv/db.sql app"}
            snapshot: {target: primary}
            """
        ),
    )
    assert problems(root) == [
        f"jobs/app.yaml:2: source.before: a list of hooks is expected: {HOOK_HINT}"
    ]


def test_empty_hook_command(make_root: RootFactory) -> None:
    root = make_root(
        keys=False, jobs=job(JOB_YAML.replace("{paths: [data]}", "{paths: [data], before: [[]]}"))
    )
    assert problems(root) == ["jobs/app.yaml:2: source.before[0]: must not be empty"]


def test_empty_source_paths(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs=job(JOB_YAML.replace("paths: [data]", "paths: []")))
    assert problems(root) == ["jobs/app.yaml:2: source.paths: must not be empty"]


def test_missing_required_fields(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs=job("policy: standard\nsource: {paths: [data]}\n"))
    assert problems(root) == ["jobs/app.yaml:1: snapshot: required, but missing"]


def test_wrong_types_and_bad_schedules(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        jobs=job(
            """\
            policy: standard
            source: {paths: [data]}
            snapshot: {target: primary, schedule: "61 * * * *"}
            prune: {schedule: "every 0s"}
            check: {read_data_subset: lots}
            """
        ),
        policies={"standard": "rpo: 15\nrto: true\nresidency: [ML]\nretention: {daily: -1}\n"},
    )
    assert problems(root) == [
        "jobs/app.yaml:3: snapshot.schedule: cron expression '61 * * * *' is not valid: "
        "Error validating expression '61': the last value (61) is higher than the maximum "
        "value (59)",
        "jobs/app.yaml:4: prune.schedule: a duration must be longer than zero, not '0s'",
        "jobs/app.yaml:5: check.read_data_subset: read_data_subset is a percentage (5%), "
        "n/N (1/10) or a size, not 'lots'",
        "policies/standard.yaml:1: rpo: a duration is written like 30s, 15m, 1h30m or 1d, not '15'",
        "policies/standard.yaml:2: rto: a duration is written like 30s, 15m, 1h30m or 1d, not True",
        "policies/standard.yaml:4: retention.daily: must be greater than or equal to 0 (got -1)",
    ]


def test_runbook_problems(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        runbooks={
            "bad": """\
            title: Bad
            description: Broken
            steps:
              - {name: go, kind: explode}
            """,
            "empty": "title: Empty\ndescription: Nothing to do\nsteps: []\n",
        },
    )
    assert problems(root) == [
        "runbooks/bad.yaml:4: steps[0]: kind must be one of 'restore', 'verify', 'check', "
        "'command', 'confirm', 'approve', 'notify', 'cleanup', 'note', not 'explode'",
        "runbooks/empty.yaml:3: steps: must not be empty",
    ]


# --- all problems at once -------------------------------------------------------------------


def test_every_problem_in_every_file_at_once(make_root: RootFactory) -> None:
    root = make_root(
        keys=False,
        jobs={
            "a": JOB_YAML.replace("target: primary", "target: primry"),
            "b": JOB_YAML + "snapshto: {}\n",
            "c": "policy: standard\nsource: [data\n",
        },
        policies={"standard": POLICY_YAML, "gold": POLICY_YAML.replace("rto: 4h", "rto: 4")},
        runbooks={"r": "title: x\ndescription: x\n"},
    )
    with pytest.raises(ConfigError) as caught:
        load_config(root, check_secrets=False)
    assert [str(issue) for issue in caught.value.issues] == [
        f"jobs/b.yaml:4: snapshto: unknown key (did you mean 'snapshot'? known: {JOB_KEYS})",
        "jobs/c.yaml:3: invalid YAML: while parsing a flow sequence "
        "did not find expected ',' or ']'",
        "policies/gold.yaml:2: rto: a duration is written like 30s, 15m, 1h30m or 1d, not '4'",
        "runbooks/r.yaml:1: steps: required, but missing",
        "jobs/a.yaml:3: snapshot.target: no target named 'primry' (known: primary, replica)",
    ]
    assert {issue.file for issue in caught.value.issues} == {
        "jobs/a.yaml",
        "jobs/b.yaml",
        "jobs/c.yaml",
        "policies/gold.yaml",
        "runbooks/r.yaml",
    }


def test_invalid_drorch_yaml_and_invalid_job_together(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML.replace("site: dc1\n", "site: dc1\nsite_name: x\n", 1)
    root = make_root(keys=False, drorch=drorch, jobs=job(JOB_YAML + "extra: 1\n"))
    assert problems(root) == [
        "drorch.yaml:2: site_name: unknown key (did you mean 'site'? known: allowed_roots, "
        "catalog, daemon, "
        "evidence_key, jurisdiction, metrics, notify, pools, restic, site, state_dir, targets)",
        f"jobs/app.yaml:4: extra: unknown key (known: {JOB_KEYS})",
    ]


# --- secrets --------------------------------------------------------------------------------


def test_password_files_missing(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    assert problems(root, check_secrets=True) == [
        f"drorch.yaml:6: targets.primary.password_file: {root}/keys/primary.pass does not "
        "exist (create it with 'drorch keys init')",
        f"drorch.yaml:8: targets.replica.password_file: {root}/keys/replica.pass does not "
        "exist (create it with 'drorch keys init')",
        f"drorch.yaml:4: evidence_key: {root}/keys/evidence.ed25519 does not exist "
        "(create it with 'drorch keys init')",
    ]


def test_password_files_not_checked_when_asked(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    assert list(load_config(root, check_secrets=False).targets) == ["primary", "replica"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_password_file_readable_by_others(make_root: RootFactory, mode: int) -> None:
    root = make_root()
    secret = root / "keys/replica.pass"
    os.chmod(secret, mode)
    assert problems(root, check_secrets=True) == [
        f"drorch.yaml:8: targets.replica.password_file: {secret} is readable by group or "
        f"others (mode {mode:04o}); run 'chmod 600 {secret}'"
    ]


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_private_password_file_is_accepted(make_root: RootFactory, mode: int) -> None:
    root = make_root()
    os.chmod(root / "keys/primary.pass", mode)
    assert load_config(root).root == root


def test_evidence_key_that_is_a_directory(make_root: RootFactory) -> None:
    root = make_root()
    key = root / "keys/evidence.ed25519"
    key.unlink()
    key.mkdir()
    assert problems(root, check_secrets=True) == [
        f"drorch.yaml:4: evidence_key: {key} is not a regular file"
    ]


# --- the Config object ----------------------------------------------------------------------


def test_config_is_frozen(make_root: RootFactory) -> None:
    config = load_config(make_root())
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.jobs = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.root = Path("/elsewhere")  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.jobs["other"] = config.job("app")  # type: ignore[index]
    with pytest.raises(TypeError):
        config.policies["other"] = config.policies["standard"]  # type: ignore[index]
    with pytest.raises(ValidationError) as caught:
        config.job("app").policy = "other"  # type: ignore[misc]
    assert caught.value.errors()[0]["type"] == "frozen_instance"
    with pytest.raises(ValidationError):
        config.settings.site = "elsewhere"  # type: ignore[misc]
    assert config.job("app").policy == "standard"
    assert config.settings.site == "dc1"


def test_unknown_job_lists_known_names(make_root: RootFactory) -> None:
    root = make_root(jobs={"app": JOB_YAML, "db": JOB_YAML})
    config = load_config(root)
    with pytest.raises(UnknownJob) as caught:
        config.job("ap")
    assert str(caught.value) == f"no job named 'ap' in {root}/jobs (known: app, db)"
    assert caught.value.exit_code == EXIT_USAGE


def test_unknown_job_when_there_are_none(make_root: RootFactory) -> None:
    root = make_root(jobs={})
    with pytest.raises(UnknownJob) as caught:
        load_config(root).job("app")
    assert str(caught.value) == f"no job named 'app' in {root}/jobs (none defined)"


def test_unknown_target_lists_known_names(make_root: RootFactory) -> None:
    root = make_root()
    config = load_config(root)
    with pytest.raises(UnknownTarget) as caught:
        config.target("vault")
    assert str(caught.value) == (
        f"no target named 'vault' in {root}/drorch.yaml (known: primary, replica)"
    )
    assert caught.value.exit_code == EXIT_USAGE


def test_a_definitions_folder_that_cannot_be_listed_is_a_problem(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    import shutil

    shutil.rmtree(root / "policies")
    (root / "policies").write_text("not a folder")
    with pytest.raises(ConfigError) as caught:
        load_config(root, check_secrets=False)
    assert "policies/: cannot list: Not a directory" in [str(i) for i in caught.value.issues]


def test_hidden_files_are_not_definitions(make_root: RootFactory) -> None:
    root = make_root(keys=False)
    (root / "jobs" / ".#app.yaml").write_text("editor lock")
    assert sorted(load_config(root, check_secrets=False).jobs) == ["app"]
