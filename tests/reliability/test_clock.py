"""The system clock stepped back: the catalog then holds snapshots, runs and restore tests
dated after "now". No age drorch reports (compliance rules, their metrics) is negative;
what happened "in the future" is as new as can be, and its detail says the clock is
behind it.

Only the ages are covered here, by evaluating the catalog at a time an hour before what
it holds: the daemon under a stepped clock (no slot run twice, catch-up bounded) is
test_clock_step.py's, under libfaketime.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from drorch.catalog import RunStatus, utc_now
from drorch.metrics import collect, render
from drorch.policy import evaluate
from tests.conftest import JOB_YAML, POLICY_YAML
from tests.integration.conftest import Env

AGES = ("rpo:", "verified_rpo", "restore_test", "check")  # rules whose value is an age
CHECKED_JOB = JOB_YAML + 'check: {schedule: "0 5 * * 0"}\n'
TESTED_POLICY = POLICY_YAML + "restore_test_every: 1d\n"


def test_a_clock_set_back_an_hour_never_makes_an_age_negative(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(jobs={"app": CHECKED_JOB}, policies={"standard": TESTED_POLICY})
    for action in ("snapshot", "restore-test", "check"):
        assert env.run(action=action).status is RunStatus.SUCCEEDED, action
    behind = utc_now() - timedelta(hours=1)
    [job] = evaluate(env.config, env.catalog, behind)
    ages = {r.rule: r for r in job.rules if r.rule.startswith(AGES) and r.value is not None}
    assert {"rpo:primary", "verified_rpo", "restore_test", "check"} <= set(ages), job.rules
    for rule in ages.values():
        assert rule.value == 0, rule
        assert rule.ok, rule
        assert "ahead of this host's clock" in rule.detail, rule
    text = render(collect(env.config, env.catalog, behind, [job])).decode()
    seconds = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "age" in sample.name
    }
    assert any(name == "drorch_rpo_age_seconds" for name, _ in seconds), text
    assert all(value >= 0 for value in seconds.values()), seconds
