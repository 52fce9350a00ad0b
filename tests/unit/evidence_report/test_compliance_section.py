"""report.html leads with what is failing: each job's compliance at the checkpoint (every rule
its records know, violated first, since when, value against limit), a job badge that says
VIOLATED whatever the latest restore test says, the summary's counts, and the compliance
transitions as readable rows. Records are built as the daemon's compliance watch appends
them (drorch.policy.watch: the rule's result_json plus actor, job, policy and site)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings

from drorch.catalog import rule_states
from drorch.evidence import compliance
from drorch.evidence.report import render_report
from tests.unit.evidence_report.test_report import HOSTILE, TEXT, Node, Tree, render, restore_test

CHECKPOINT = {
    "tree_size": 20,
    "root_hash": "ab" * 32,
    "at": "2026-11-29T06:00:01.000000Z",
    "key_id": "0123456789abcdef",
    "signature": "cd" * 64,
}
COPIES_LIMIT = {"min": 3, "media": 2, "offsite": 1, "offline": 1, "failed": 0}
COPIES_VALUE = {"min": 2, "media": 1, "offsite": 1, "offline": 0, "failed": 0}


def transition(
    seq: int,
    rule: str,
    *,
    ok: bool = False,
    job: str = "payroll",
    value: Any = 8400,
    limit: Any = 3600,
    detail: str = "newest snapshot on primary is 8400s old",
    since: str | None = "2026-11-22T04:00:00.000000Z",
) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": f"00000000-0000-4000-a000-{seq:012d}",
        "kind": "policy-restored" if ok else "policy-violation",
        "at": f"2026-11-2{seq % 10}T05:00:00.000000Z",
        "host": "backup1",
        "actor": "scheduler",
        "job": job,
        "policy": "critical",
        "site": "dc1",
        "rule": rule,
        "ok": ok,
        "value": value,
        "limit": limit,
        "since": None if ok else since,
        "detail": detail,
        "prev": "0" * 64,
        "hash": f"{seq:064x}",
        "signature": "ef" * 64,
        "key_id": "0123456789abcdef",
    }


def payroll_in_violation() -> list[dict[str, Any]]:
    """payroll: its latest restore test passed, two rules are violated, one came back."""
    return [
        restore_test(1),
        transition(2, "rpo:primary"),
        transition(
            3,
            "copies",
            value=COPIES_VALUE,
            limit=COPIES_LIMIT,
            detail="short of min, media, offline; holders: primary, replica",
            since=None,
        ),
        transition(4, "rpo:replica", detail="newest snapshot on replica is 8400s old"),
        transition(5, "rpo:primary", ok=True, value=60, detail="newest snapshot on primary is 60s"),
        restore_test(6),
        restore_test(7, job="crm"),
    ]


def job_section(dom: Node, job: str) -> Node:
    return dom.first("section", data_job=job)


def rule_rows(section: Node) -> list[Node]:
    return [n for n in section.first("table", **{"class": "rules"}).all() if n.tag == "tr"][1:]


def test_the_kinds_are_those_the_watch_writes() -> None:
    assert (compliance.VIOLATION, compliance.RESTORED) == (
        rule_states.VIOLATION,
        rule_states.RESTORED,
    )


def test_a_violated_rule_leads_its_job_and_turns_its_badge_whatever_the_test_says() -> None:
    text, dom = render(payroll_in_violation(), CHECKPOINT)
    payroll = job_section(dom, "payroll")
    assert payroll.attrs["data-status"] == "violated"
    badge = payroll.first("h2").one(data_field="job-status")
    assert (badge.text(), badge.attrs["data-status"]) == ("VIOLATED", "violated")
    assert "fail" in (badge.attrs["class"] or "")
    # the latest restore test still passed, and says so further down
    latest = payroll.first("div", **{"class": "latest"})
    assert latest.attrs["data-seq"] == "6"
    assert latest.one(data_field="result").text() == "PASS"
    # compliance comes first in the section: before the restore tests
    body = text[text.index('data-job="payroll" data-status') :]
    assert body.index('class="compliance"') < body.index('class="latest"')
    # every known rule, violated first (earliest transition first), then the ok ones
    rows = rule_rows(payroll)
    assert [(r.attrs["data-rule"], r.attrs["data-ok"], r.attrs["data-seq"]) for r in rows] == [
        ("copies", "false", "3"),
        ("rpo:replica", "false", "4"),
        ("rpo:primary", "true", "5"),
    ]
    assert [r.one(data_field="rule-state").text() for r in rows] == ["VIOLATED", "VIOLATED", "ok"]
    compliance_block = payroll.first("div", **{"class": "compliance"})
    assert (compliance_block.attrs["data-rules"], compliance_block.attrs["data-violated"]) == (
        "3",
        "2",
    )
    assert compliance_block.one(data_field="violated").text() == "2"
    # crm has no rule transition: its badge is its latest test's
    crm = job_section(dom, "crm")
    assert crm.attrs["data-status"] == "pass"
    assert crm.first("h2").one(data_field="job-status").text() == "PASS"
    assert crm.one(data_field="no-rules")


def test_each_rule_says_since_when_and_its_value_against_its_limit() -> None:
    _, dom = render(payroll_in_violation(), CHECKPOINT)
    rows = {r.attrs["data-rule"]: r for r in rule_rows(job_section(dom, "payroll"))}
    replica = rows["rpo:replica"]
    # since: the transition's time; the rule's own reckoning beside it
    assert replica.one(data_field="since").attrs["datetime"] == "2026-11-24T05:00:00.000000Z"
    assert replica.one(data_field="rule-since").attrs["datetime"] == "2026-11-22T04:00:00.000000Z"
    assert replica.one(data_field="value").attrs["data-seconds"] == "8400"
    assert replica.one(data_field="value").text() == "2 h 20 min"
    assert replica.one(data_field="limit").text() == "1 h"
    assert replica.one(data_field="detail").text() == "newest snapshot on replica is 8400s old"
    assert replica.one(data_field="seq").text() == "4"
    # a mapping reads as words, the exact recorded value is in data-value
    copies = rows["copies"]
    assert copies.one(data_field="value").text() == "min 2, media 1, offsite 1, offline 0, failed 0"
    assert copies.one(data_field="limit").text() == "min 3, media 2, offsite 1, offline 1, failed 0"
    assert copies.one(data_field="value").attrs["data-value"] == (
        '{"failed": 0, "media": 1, "min": 2, "offline": 0, "offsite": 1}'
    )
    assert copies.all(data_field="rule-since") == []
    # a rule that came back: ok since the restoring transition
    primary = rows["rpo:primary"]
    assert primary.one(data_field="since").attrs["datetime"] == "2026-11-25T05:00:00.000000Z"
    assert primary.one(data_field="value").text() == "1 min"


def test_the_summary_counts_violations_and_lists_them_first() -> None:
    records = [
        *payroll_in_violation(),
        transition(8, "residency", job="crm", value=["FR", "ML"], limit=["ML"], since=None),
    ]
    _, dom = render(records, CHECKPOINT)
    summary = dom.one(id="summary")
    assert summary.one(data_field="rules-violated").text() == "3"
    assert summary.one(data_field="jobs-violated").text() == "2"
    assert summary.one(data_field="jobs").text() == "2"
    assert summary.one(data_field="policy-events").text() == "5"
    assert summary.one(data_field="other-events").text() == "0"  # transitions are not "other"
    box = summary.one(id="violations")
    assert box.one(data_field="violations-rules").text() == "3"
    assert box.one(data_field="violations-jobs").text() == "2"
    items = box.all(**{"class": "violation"})
    assert [(i.attrs["data-job"], i.attrs["data-rule"]) for i in items] == [
        ("crm", "residency"),
        ("payroll", "copies"),
        ("payroll", "rpo:replica"),
    ]
    assert items[0].one(data_field="value").text() == "FR, ML"
    assert "residency violated since 2026-11-28 05:00:00 UTC" in items[0].text()
    # the jobs table: status and violated rules beside the latest test
    rows = {
        r.attrs["data-job"]: r
        for r in summary.one(id="jobs").all()
        if r.tag == "tr" and "data-job" in r.attrs
    }
    assert rows["crm"].attrs["data-status"] == "violated"
    assert rows["crm"].one(data_field="job-status").text() == "VIOLATED"
    assert rows["crm"].one(data_field="result").text() == "PASS"
    assert rows["payroll"].one(data_field="job-rules-violated").text() == "2 of 3 rules violated"


def test_state_is_the_checkpoint_s() -> None:
    """A transition newer than the checkpoint is listed, but not counted in the state."""
    records = payroll_in_violation()
    _, dom = render(records, {**CHECKPOINT, "tree_size": 4})
    rows = rule_rows(job_section(dom, "payroll"))
    assert [(r.attrs["data-rule"], r.attrs["data-ok"]) for r in rows] == [
        ("rpo:primary", "false"),  # restored at seq 5, after the checkpoint
        ("copies", "false"),
        ("rpo:replica", "false"),
    ]
    assert dom.one(id="policy-events").first("tr", data_seq="5")
    assert dom.one(data_field="beyond-checkpoint")


def test_transitions_are_readable_rows_newest_first() -> None:
    text, dom = render(payroll_in_violation(), CHECKPOINT)
    section = dom.one(id="policy-events")
    rows = section.all(**{"class": "transition"})
    assert [r.attrs["data-seq"] for r in rows] == ["5", "4", "3", "2"]
    restored, replica = rows[0], rows[1]
    assert restored.one(data_field="from").text() == "VIOLATED"
    assert restored.one(data_field="to").text() == "ok"
    assert replica.one(data_field="from").text() == "not violated"
    assert replica.one(data_field="to").text() == "VIOLATED"
    assert "not violated → VIOLATED" in replica.text()
    assert replica.one(data_field="job").text() == "payroll"
    assert replica.one(data_field="rule").text() == "rpo:replica"
    assert replica.one(data_field="value").text() == "2 h 20 min"
    assert replica.one(data_field="limit").text() == "1 h"
    assert replica.one(data_field="at").attrs["datetime"] == "2026-11-24T05:00:00.000000Z"
    assert replica.one(data_field="seq").text() == "4"
    assert dom.all(id="other-events") == []
    assert "=" not in section.text()  # no raw key=value text
    assert 'href="#job-' in text


def test_a_job_known_only_from_its_rules_gets_a_section() -> None:
    records = [restore_test(1), transition(2, "restore_test", job="ledger", value=None)]
    _, dom = render(records, CHECKPOINT)
    ledger = job_section(dom, "ledger")
    assert ledger.attrs["data-status"] == "violated"
    assert ledger.one(data_field="no-tests")
    assert ledger.one(data_field="tests").text() == "0"
    [row] = rule_rows(ledger)
    assert row.one(data_field="value").text() == "—"
    assert row.one(data_field="limit").attrs["data-seconds"] == "3600"
    overview = dom.one(id="jobs").first("tr", data_job="ledger")
    assert overview.one(data_field="result").text() == "no test"
    assert overview.one(data_field="tests").text() == "0"


def test_all_rules_ok_and_no_transitions_at_all() -> None:
    _, dom = render([restore_test(1, result="fail"), transition(2, "rto", ok=True)], CHECKPOINT)
    payroll = job_section(dom, "payroll")
    assert payroll.attrs["data-status"] == "fail"  # no rule violated: the latest test decides
    assert dom.one(data_field="no-violations")
    assert dom.one(data_field="rules-violated").text() == "0"
    _, dom = render([restore_test(1)], CHECKPOINT)
    assert dom.one(data_field="compliance-unknown")
    assert dom.all(id="policy-events") == []
    assert job_section(dom, "payroll").one(data_field="no-rules")


def test_hostile_rule_names_details_and_values_are_escaped() -> None:
    hostile = transition(
        2,
        HOSTILE,
        job='"><img src=x onerror=alert(1)>',
        value={HOSTILE: HOSTILE},
        limit=[HOSTILE],
        detail="</td></tr></table>" + HOSTILE,
        since=HOSTILE,
    )
    text, dom = render([restore_test(1), hostile], CHECKPOINT)
    assert "<script" not in text.lower()
    assert "<img" not in text.lower()
    section = job_section(dom, '"><img src=x onerror=alert(1)>')
    [row] = rule_rows(section)
    assert row.attrs["data-rule"] == HOSTILE
    assert row.one(data_field="rule").text() == HOSTILE
    assert row.one(data_field="detail").text() == "</td></tr></table>" + HOSTILE
    assert row.one(data_field="value").text() == f"{HOSTILE} {HOSTILE}"
    assert row.one(data_field="limit").text() == HOSTILE
    assert row.one(data_field="rule-since").attrs["datetime"] == HOSTILE
    event = dom.one(id="policy-events").one(data_seq="2")
    assert event.one(data_field="rule").text() == HOSTILE


def test_odd_transition_records_render() -> None:
    odd = {"seq": 3, "kind": "policy-violation", "rule": 7, "job": None, "value": {"a": [1, {}]}}
    _, dom = render([odd, {"kind": "policy-restored"}], CHECKPOINT)
    section = job_section(dom, "(no job)")
    rows = rule_rows(section)
    assert [r.attrs["data-rule"] for r in rows] == ["(no rule)"]  # the later one (no seq) won
    assert rows[0].attrs["data-ok"] == "true"


@settings(max_examples=60, deadline=None)
@given(job=TEXT, rule=TEXT, detail=TEXT)
def test_any_text_stays_text(job: str, rule: str, detail: str) -> None:
    record = transition(1, rule or "r", job=job or "j", detail=detail, value=detail, limit=[rule])
    text = render_report([record], CHECKPOINT)
    dom = Tree(text).root  # asserts every element is closed in order
    assert not re.search(r"<\s*(script|img|iframe|object|embed|link)", text, re.IGNORECASE)
    [row] = rule_rows(job_section(dom, job or "j"))
    assert row.attrs["data-rule"] == (rule or "r")
    assert row.one(data_field="detail").text() == (" ".join(detail.split()) or "—")
