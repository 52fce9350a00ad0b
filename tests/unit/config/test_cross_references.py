"""A job file with a structural problem still has its references checked: every problem
at once, each named once."""

from __future__ import annotations

from tests.conftest import DRORCH_YAML, JOB_YAML, RootFactory
from tests.unit.config.conftest import problems

JOB_KEYS = (
    "check, description, drill, ping, policy, prune, replicate, restore_test, snapshot, source"
)
KNOWN = "(known: primary, replica)"


def test_an_unknown_key_does_not_hide_an_unknown_target(make_root: RootFactory) -> None:
    text = JOB_YAML.replace("target: primary", "target: primry") + "colour: blue\n"
    assert problems(make_root(keys=False, jobs={"app": text})) == [
        f"jobs/app.yaml:4: colour: unknown key (known: {JOB_KEYS})",
        f"jobs/app.yaml:3: snapshot.target: no target named 'primry' {KNOWN}",
    ]


def test_every_reference_of_an_invalid_job_is_checked(make_root: RootFactory) -> None:
    text = """\
        policy: gold
        source: {paths: [data]}
        snapshot: {target: primry, schedule: "every 0s"}
        replicate: [{to: replica}, {to: offsite}, {to: replica}]
        restore_test: {from: [primary, tape1]}
        """
    assert problems(make_root(keys=False, jobs={"app": text})) == [
        "jobs/app.yaml:3: snapshot.schedule: a duration must be longer than zero, not '0s'",
        f"jobs/app.yaml:3: snapshot.target: no target named 'primry' {KNOWN}",
        f"jobs/app.yaml:4: replicate[1].to: no target named 'offsite' {KNOWN}",
        "jobs/app.yaml:4: replicate[2].to: target 'replica' already holds a copy of app",
        "jobs/app.yaml:5: restore_test.from[0]: target 'primary' holds no copy of app",
        f"jobs/app.yaml:5: restore_test.from[1]: no target named 'tape1' {KNOWN}",
        "jobs/app.yaml:1: policy: no policy named 'gold' (known: standard)",
    ]


def test_residency_of_an_invalid_job_is_checked(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML + (
        "  paris: {kind: disk, path: repos/paris, password_file: keys/paris.pass,\n"
        "          site: par1, jurisdiction: FR}\n"
    )
    text = JOB_YAML + "replicate: [{to: paris}]\nprune: {keep: 3}\n"
    assert problems(make_root(keys=False, drorch=drorch, jobs={"app": text})) == [
        "jobs/app.yaml:5: prune.keep: unknown key (known: schedule, timeout)",
        "jobs/app.yaml:4: replicate[0].to: target 'paris' is in jurisdiction FR, outside "
        "policy 'standard' residency (ML)",
    ]


def test_a_reference_the_schema_refused_is_reported_once(make_root: RootFactory) -> None:
    text = JOB_YAML.replace("target: primary", "target: 'pri mary'")
    assert problems(make_root(keys=False, jobs={"app": text})) == [
        "jobs/app.yaml:3: snapshot.target: String should match pattern "
        "'^[A-Za-z0-9][A-Za-z0-9_.-]*$' (got 'pri mary')"
    ]


def test_an_invalid_job_with_good_references_adds_nothing(make_root: RootFactory) -> None:
    text = JOB_YAML + "replicate: [{to: replica, schedul: daily}]\n"
    [problem] = problems(make_root(keys=False, jobs={"app": text}))
    assert problem.startswith("jobs/app.yaml:4: replicate[0].schedul: unknown key")


def test_a_job_is_cross_checked_when_drorch_yaml_is_invalid(make_root: RootFactory) -> None:
    """Without valid targets only the policy can be checked; it is."""
    drorch = DRORCH_YAML.replace("jurisdiction: ML\n", "jurisdiction: XX\n", 1)
    text = JOB_YAML.replace("policy: standard", "policy: gold")
    assert problems(make_root(keys=False, drorch=drorch, jobs={"app": text})) == [
        "drorch.yaml:2: jurisdiction: 'XX' is not an ISO 3166-1 alpha-2 country code "
        "(such as ML, FR)",
        "jobs/app.yaml:1: policy: no policy named 'gold' (known: standard)",
    ]
