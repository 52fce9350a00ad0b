from pathlib import Path

from drorch.config import load_config
from drorch.scheduler.plan import make_plan
from tests.conftest import REPO_ROOT


def test_plan_of_the_shipped_config_root() -> None:
    config = load_config(REPO_ROOT, check_secrets=False)
    entries, notes = make_plan(config, lambda job, action: action in ("snapshot", "prune", "check"))
    assert [(e.job, e.action, str(e.schedule)) for e in entries] == [
        ("payroll", "snapshot", "*/15 * * * *"),
        ("payroll", "prune", "0 4 * * *"),
        ("payroll", "check", "0 5 * * 0"),
        ("registry", "snapshot", "0 * * * *"),
        ("registry", "prune", "15 4 * * *"),
        ("registry", "check", "0 5 1 * *"),
    ]
    assert entries[0].key == "run:payroll:snapshot"
    assert notes == [
        "job payroll: restore-test is scheduled but not available in this version of drorch; "
        "it is not scheduled",
        "job payroll: replicate:replica is scheduled but not available in this version of "
        "drorch; it is not scheduled",
        "job payroll: replicate:vault is scheduled but not available in this version of "
        "drorch; it is not scheduled",
        "job registry: restore-test is scheduled but not available in this version of drorch; "
        "it is not scheduled",
        "job registry: replicate:replica is scheduled but not available in this version of "
        "drorch; it is not scheduled",
    ]


def test_actions_without_schedule_are_not_planned(make_root) -> None:  # type: ignore[no-untyped-def]
    root: Path = make_root(
        jobs={"app": "policy: standard\nsource: {paths: [data]}\nsnapshot: {target: primary}\n"}
    )
    entries, notes = make_plan(load_config(root), lambda job, action: True)
    assert (entries, notes) == ([], [])


def test_a_jobs_drill_is_planned_and_runnable(make_root) -> None:  # type: ignore[no-untyped-def]
    from drorch.actions import can_run

    drill = (
        "title: D\ndescription: d\ndrill: true\nsteps:\n"
        "  - {name: n, kind: note, with: {text: hi}}\n"
    )
    job = (
        "policy: standard\nsource: {paths: [data]}\nsnapshot: {target: primary}\n"
        "drill: {schedule: '0 4 * * 6'}\n"
    )
    config = load_config(make_root(jobs={"app": job}, runbooks={"drill": drill}))
    entries, notes = make_plan(config, can_run(config))
    assert [(e.job, e.action, str(e.schedule)) for e in entries] == [("app", "drill", "0 4 * * 6")]
    assert notes == []
