"""Transitions found once, recorded as signed evidence, announced by one webhook each."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from drorch.catalog import Catalog, RunStatus, open_catalog, outbox
from drorch.catalog.models import Delivery
from drorch.catalog.rule_states import pending, states
from drorch.config import Config, load_config
from drorch.evidence.log import EvidenceLog
from drorch.policy import evaluate
from drorch.policy.transitions import find
from drorch.policy.watch import Watch
from tests.catalog_rows import run, snapshot
from tests.conftest import write_root
from tests.unit.policy.test_rules import DRORCH, JOB, NOW, POLICY, healthy

HOOK = "http://127.0.0.1:9/hooks/drorch"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    drorch = DRORCH + f"notify:\n  - webhook: {HOOK}\n"
    root = write_root(
        tmp_path / "root", drorch=drorch, jobs={"app": JOB}, policies={"strict": POLICY}
    )
    return load_config(root)


@pytest.fixture
def catalog(config: Config) -> Catalog:
    return open_catalog(None, config.state_dir)


@pytest.fixture
def watch(config: Config, catalog: Catalog) -> tuple[Watch, list[int]]:
    woken: list[int] = []
    return Watch(
        catalog, EvidenceLog(catalog, config.settings.evidence_key), lambda: woken.append(1)
    ), woken


def webhooks(catalog: Catalog) -> list[Delivery]:
    with catalog.session() as session:
        return list(session.execute(select(Delivery).order_by(Delivery.id)).scalars())


def evidence_kinds(catalog: Catalog) -> list[tuple[str, str]]:
    from drorch.catalog.evidence import records

    return [(r.kind, r.data["rule"]) for r in records(catalog)]


def test_first_sight_records_only_violations(config: Config, catalog: Catalog) -> None:
    healthy(catalog)
    found = find(catalog, evaluate(config, catalog, NOW), NOW)
    assert found == 0 and pending(catalog) == []
    assert all(ok for ok, _ in states(catalog).values())
    # a failed snapshot after the last success: failed_runs turns violated
    run(catalog, "snapshot", RunStatus.FAILED, NOW, job="app")
    [result] = evaluate(config, catalog, NOW)
    assert find(catalog, [result], NOW) == 1
    [transition] = pending(catalog)
    assert (transition.rule, transition.ok, transition.kind) == (
        "failed_runs",
        False,
        "policy-violation",
    )


def test_one_record_and_one_webhook_per_transition(
    config: Config, catalog: Catalog, watch: tuple[Watch, list[int]]
) -> None:
    watcher, woken = watch
    healthy(catalog)
    watcher.run(config, NOW)
    assert webhooks(catalog) == [] and woken == []

    stale = NOW + timedelta(hours=2)  # the newest snapshots are now older than the 1h RPO
    for minute in range(3):  # evaluated every minute: the same violation is told once
        watcher.run(config, stale + timedelta(minutes=minute))
    sent = webhooks(catalog)
    assert [(d.event, d.payload["rule"]) for d in sent if d.payload] == [
        ("policy-violation", "rpo:primary"),
        ("policy-violation", "rpo:replica"),
    ]
    assert all(d.url == HOOK and d.kind == "webhook" for d in sent)
    payload = sent[0].payload or {}
    assert payload["job"] == "app" and payload["policy"] == "strict" and not payload["ok"]
    assert payload["value"] > payload["limit"] == 3600 and payload["evidence_seq"] >= 1
    assert evidence_kinds(catalog) == [
        ("policy-violation", "rpo:primary"),
        ("policy-violation", "rpo:replica"),
    ]
    assert woken == [1]
    assert pending(catalog) == []

    # a fresh snapshot on primary restores its rule: one more record and one more webhook
    later = stale + timedelta(minutes=5)
    run(catalog, "snapshot", RunStatus.SUCCEEDED, later)
    snapshot(catalog, "primary", "c" * 64, later)
    watcher.run(config, later, jobs=["app"])
    assert [d.event for d in webhooks(catalog)][2:] == ["policy-restored"]
    assert evidence_kinds(catalog)[2:] == [("policy-restored", "rpo:primary")]


def test_a_transition_whose_record_failed_is_recorded_later(
    config: Config, catalog: Catalog, watch: tuple[Watch, list[int]]
) -> None:
    watcher, _ = watch
    healthy(catalog)
    watcher.run(config, NOW)
    stale = NOW + timedelta(hours=2)
    # the rule state is written, then the daemon dies before the evidence record
    find(catalog, evaluate(config, catalog, stale), stale)
    assert len(pending(catalog)) == 2 and webhooks(catalog) == []
    assert watcher.record(config) == 2
    assert len(webhooks(catalog)) == 2 and pending(catalog) == []
    assert watcher.record(config) == 0


def test_without_webhooks_transitions_are_still_recorded(tmp_path: Path) -> None:
    root = write_root(tmp_path / "r", drorch=DRORCH, jobs={"app": JOB}, policies={"strict": POLICY})
    config = load_config(root)
    catalog = open_catalog(None, config.state_dir)
    watcher = Watch(catalog, EvidenceLog(catalog, config.settings.evidence_key), lambda: None)
    watcher.run(config, NOW)  # never ran: every rule violated, each recorded once
    kinds = evidence_kinds(catalog)
    assert len(kinds) == len(evaluate(config, catalog, NOW)[0].rules)
    assert {k for k, _ in kinds} == {"policy-violation"}
    assert outbox.backlog(catalog).pending == 0


def test_a_rule_that_flips_back_before_it_was_recorded_is_recorded_both_ways(
    config: Config, catalog: Catalog, watch: tuple[Watch, list[int]]
) -> None:
    watcher, _ = watch
    healthy(catalog)
    watcher.run(config, NOW)
    stale = NOW + timedelta(hours=2)
    find(catalog, evaluate(config, catalog, stale), stale)  # violated, not yet recorded
    later = stale + timedelta(seconds=1)
    run(catalog, "snapshot", RunStatus.SUCCEEDED, later)
    snapshot(catalog, "primary", "c" * 64, later)
    assert find(catalog, evaluate(config, catalog, later), later) == 0  # waits its turn
    watcher.record(config)
    watcher.run(config, later + timedelta(seconds=1))
    kinds = [(k, r) for k, r in evidence_kinds(catalog) if r == "rpo:primary"]
    assert kinds == [("policy-violation", "rpo:primary"), ("policy-restored", "rpo:primary")]


def test_an_older_evaluation_never_overwrites_a_newer_one(
    config: Config, catalog: Catalog, watch: tuple[Watch, list[int]]
) -> None:
    watcher, _ = watch
    healthy(catalog)
    watcher.run(config, NOW)
    stale = NOW + timedelta(hours=2)
    watcher.run(config, stale)  # rpo violated, recorded
    slow_pass = evaluate(config, catalog, stale + timedelta(minutes=1))  # a full pass starts
    fresh = stale + timedelta(minutes=1, seconds=1)
    run(catalog, "snapshot", RunStatus.SUCCEEDED, fresh)
    snapshot(catalog, "primary", "c" * 64, fresh)
    snapshot(catalog, "replica", "d" * 64, fresh, original="c" * 64)
    watcher.run(config, fresh, jobs=["app"])  # the run's own pass: restored
    # the full pass ends with what it saw before the snapshot: not written over the news
    assert find(catalog, slow_pass, stale + timedelta(minutes=1)) == 0
    assert all(ok for ok, _ in states(catalog).values())
    assert [k for k, _ in evidence_kinds(catalog)] == [
        "policy-violation",
        "policy-violation",
        "policy-restored",
        "policy-restored",
    ]


def test_concurrent_recorders_sign_each_transition_once(config: Config, catalog: Catalog) -> None:
    import threading

    healthy(catalog)
    key = config.settings.evidence_key
    watchers = [Watch(catalog, EvidenceLog(catalog, key), lambda: None) for _ in range(4)]
    watchers[0].run(config, NOW)
    stale = NOW + timedelta(hours=2)
    find(catalog, evaluate(config, catalog, stale), stale)
    threads = [threading.Thread(target=w.record, args=(config,)) for w in watchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    watchers[0].record(config)  # whatever a busy turn left is recorded by the next pass
    assert sorted(evidence_kinds(catalog)) == [
        ("policy-violation", "rpo:primary"),
        ("policy-violation", "rpo:replica"),
    ]
    assert len(webhooks(catalog)) == 2


def test_without_evidence_the_transition_is_still_announced(
    config: Config, catalog: Catalog
) -> None:
    from drorch.errors import EvidenceError

    class Broken(EvidenceLog):
        def append_many(self, entries: object) -> list[Any]:
            raise EvidenceError("evidence log damaged at record 3")

    healthy(catalog)
    watcher = Watch(catalog, Broken(catalog, config.settings.evidence_key), lambda: None)
    watcher.run(config, NOW)
    watcher.run(config, NOW + timedelta(hours=2))
    sent = webhooks(catalog)
    assert [d.payload["rule"] for d in sent if d.payload] == ["rpo:primary", "rpo:replica"]
    assert all(d.payload and d.payload["evidence_seq"] is None for d in sent)
    assert pending(catalog) == []  # announced once, not again every minute


def test_a_pass_over_no_jobs_writes_nothing(
    config: Config, catalog: Catalog, watch: tuple[Watch, list[int]]
) -> None:
    watcher, _ = watch
    assert watcher.run(config, NOW, jobs=[]) == []  # not "every job"
    assert states(catalog) == {} and evidence_kinds(catalog) == []
