"""report.html's "Runbook runs and drills" section from built runbook records: where it sits,
its summary and counts, each run's steps and recovery times, failures, escaping, and records
from older drorch versions or runs aborted before their first step."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings

from drorch.evidence.report import format_seconds, render_report
from tests.unit.evidence_report.test_report import HOSTILE, TEXT, Node, render, restore_test

SHA = "9f" * 32
SNAPSHOT = "5e" * 32


def runbook_run(
    seq: int, *, result: str = "pass", drill: bool = False, **extra: Any
) -> dict[str, Any]:
    """A runbook record as the runbook engine appends it: restore payroll, verify, approve."""
    failed = result != "pass"
    record: dict[str, Any] = {
        "seq": seq,
        "id": f"00000000-0000-4000-9000-{seq:012d}",
        "kind": "runbook",
        "at": f"2026-11-3{seq % 10}T02:03:10.000000Z",
        "host": "backup1",
        "actor": "alice",
        "job": "payroll",
        "runbook": {"name": "restore-payroll", "title": "Restore payroll", "sha256": SHA},
        "run": 40 + seq,
        "drill": drill,
        "params": {"destination": "/srv/restore/p1", "snapshot": "latest"},
        "started_at": "2026-11-30T02:00:00Z",
        "finished_at": "2026-11-30T02:03:10Z",
        "duration_s": 190.2,
        "status": "FAILED" if failed else "SUCCEEDED",
        "result": result,
        "reasons": ["step verify: canary: canary differs from the one written"] if failed else [],
        "approvals": [
            {"step": "approve", "by": "bob", "at": "2026-11-30T02:01:00Z", "role": "payroll owner"}
        ],
        "steps": [
            {
                "name": "restore",
                "kind": "restore",
                "status": "SUCCEEDED",
                "actor": "alice",
                "attempts": 1,
                "started_at": "2026-11-30T02:00:00Z",
                "finished_at": "2026-11-30T02:02:30Z",
                "duration_s": 150.1,
                "summary": "restored 1.0 MiB to /srv/restore/p1",
                "error": None,
                "job": "payroll",
                "target": "primary",
                "snapshot": {
                    "id": SNAPSHOT,
                    "time": "2026-11-29T23:00:00Z",
                    "size": 1048576,
                    "status": "COMPLETE",
                },
            },
            {
                "name": "verify",
                "kind": "verify",
                "status": "FAILED" if failed else "SUCCEEDED",
                "actor": "alice",
                "attempts": 2,
                "duration_s": 2.5,
                "summary": None if failed else "2 checks passed",
                "error": "canary: canary differs from the one written" if failed else None,
                "checks": [
                    {"name": "restic", "passed": True, "detail": "restic found no errors"},
                    {"name": "canary", "passed": not failed, "detail": "canary detail"},
                ],
            },
            {"name": "approve", "kind": "approve", "status": "SUCCEEDED", "actor": "bob"},
        ],
        "recovery": [
            {
                "job": "payroll",
                "policy": "critical",
                "target": "primary",
                "snapshot": SNAPSHOT,
                "bytes": 1048576,
                "restore_s": 150.1,
                "rto_s": 3600,
                "within": True,
            }
        ],
    }
    sealed = restore_test(seq)  # the same envelope and versions as a restore test's
    record.update({k: sealed[k] for k in ("versions", "prev", "hash", "signature", "key_id")})
    record.update(extra)
    return record


def section(dom: Node) -> Node:
    return dom.one(id="runbook-runs")


def summary_rows(dom: Node) -> list[Node]:
    return [n for n in section(dom).one(id="runbook-summary").all() if n.tag == "tr" and n.attrs]


def run_detail(dom: Node, seq: int) -> Node:
    return section(dom).first("div", **{"class": "runbook-run", "data_seq": str(seq)})


def test_the_section_sits_after_the_jobs_and_before_other_events() -> None:
    records = [
        restore_test(1),
        runbook_run(2),
        {"seq": 3, "kind": "replication", "at": "2026-11-23T03:00:00Z", "job": "payroll"},
    ]
    _, dom = render(records)
    body = dom.first("body")
    order = [n.attrs.get("id") for n in body.children if n.tag == "section"]
    assert order == ["summary", "job-1", "runbook-runs", "other-events"]
    assert section(dom).first("h2").text() == "Runbook runs and drills"
    other = [n.attrs["data-kind"] for n in dom.one(id="other-events").all(data_kind="runbook")]
    assert other == []  # a runbook record is shown once, in its own section
    assert dom.one(id="summary").one(data_field="other-events").text() == "1"


def test_no_runbook_records_no_section() -> None:
    _, dom = render([restore_test(1)])
    assert dom.all(id="runbook-runs") == []
    assert dom.one(id="summary").one(data_field="runbook-runs").text() == "0"


def test_summary_counts_runs_drills_and_failures() -> None:
    records = [
        runbook_run(1),
        runbook_run(2, result="fail"),
        runbook_run(3, drill=True),
        runbook_run(4, result="fail", drill=True, status="CANCELED"),
        runbook_run(5, drill=True),
        restore_test(6),
    ]
    _, dom = render(records)
    cards = dom.one(id="summary")
    assert {f: cards.one(data_field=f).text() for f in ("runbook-runs", "drills")} == {
        "runbook-runs": "5",
        "drills": "3",
    }
    assert cards.one(data_field="runbooks-failed").text() == "2"
    assert cards.one(data_field="runbooks-failed").attrs["class"] == "n fail"
    assert cards.all(data_field="tests")[0].text() == "1"  # restore tests stay apart
    counts = {
        f: section(dom).first("span", data_field=f).text()
        for f in ("runbook-runs", "drills", "passed", "failed")
    }
    assert counts == {"runbook-runs": "5", "drills": "3", "passed": "3", "failed": "2"}
    rows = summary_rows(dom)
    assert [(r.attrs["data-seq"], r.attrs["data-result"], r.attrs["data-drill"]) for r in rows] == [
        ("1", "pass", "false"),
        ("2", "fail", "false"),
        ("3", "pass", "true"),
        ("4", "fail", "true"),
        ("5", "pass", "true"),
    ]
    assert [r.one(data_field="drill").text() for r in rows] == ["no", "no", "yes", "yes", "yes"]
    assert [r.text() for r in rows[3].all(data_field="status")] == ["canceled"]
    assert [r.attrs["data-seq"] for r in rows if r.all(data_field="status")] == ["4"]
    assert [r.one(data_field="result").text() for r in rows] == [
        "PASS",
        "FAIL",
        "PASS",
        "FAIL",
        "PASS",
    ]


def test_a_summary_row_says_what_who_when_and_how_long() -> None:
    _, dom = render([runbook_run(1)])
    (row,) = summary_rows(dom)
    assert row.one(data_field="runbook-title").text() == "Restore payroll"
    assert row.one(data_field="runbook-name").text() == "restore-payroll"
    assert row.first("a").attrs["href"] == "#" + run_detail(dom, 1).attrs["id"]
    assert row.one(data_field="run").text() == "41"
    assert row.one(data_field="started").attrs["datetime"] == "2026-11-30T02:00:00Z"
    assert row.one(data_field="actor").text() == "alice"
    assert row.one(data_field="approved-by").text() == "bob"
    duration = row.one(data_field="duration")
    assert duration.attrs["data-seconds"] == "190.2"
    assert duration.text() == format_seconds(190.2) == "3 min 10 s"


def test_a_run_without_approval_shows_a_dash() -> None:
    _, dom = render([runbook_run(1, approvals=[])])
    (row,) = summary_rows(dom)
    assert row.one(data_field="approved-by").text() == "—"
    assert run_detail(dom, 1).one(data_field="approvals").text() == "—"


def test_run_details_name_the_runbook_params_and_approvals() -> None:
    _, dom = render([runbook_run(1, drill=True)])
    detail = run_detail(dom, 1)
    assert detail.attrs["data-drill"] == "true"
    assert "DRILL" in detail.first("h3").text()
    assert detail.first("dd", data_field="status").text() == "SUCCEEDED"
    assert detail.one(data_field="finished").attrs["datetime"] == "2026-11-30T02:03:10Z"
    assert detail.one(data_param="destination").text() == "/srv/restore/p1"
    assert detail.one(data_param="snapshot").text() == "latest"
    assert detail.one(data_field="runbook-sha256").attrs["data-value"] == SHA
    (approval,) = detail.all(**{"class": "approval"})
    assert approval.attrs["data-step"] == "approve"
    assert approval.one(data_field="approved-by").text() == "bob"
    assert "(payroll owner)" in approval.text()
    assert approval.one(data_field="at").attrs["datetime"] == "2026-11-30T02:01:00Z"
    assert detail.one(data_field="version-restic").text() == "0.14.0"
    assert detail.all(**{"class": "warning"}) == []  # a pass has no failure box


def test_steps_show_who_did_what_for_how_long_and_their_checks() -> None:
    _, dom = render([runbook_run(1, result="fail")])
    steps = run_detail(dom, 1).first("table", **{"class": "steps"})
    rows = steps.all(**{"class": "step"})
    assert [
        (r.attrs["data-step"], r.one(data_field="step-kind").text(), r.attrs["data-status"])
        for r in rows
    ] == [
        ("restore", "restore", "SUCCEEDED"),
        ("verify", "verify", "FAILED"),
        ("approve", "approve", "SUCCEEDED"),
    ]
    restore, verify, approve = rows
    assert restore.one(data_field="step-actor").text() == "alice"
    assert approve.one(data_field="step-actor").text() == "bob"
    assert restore.one(data_field="step-duration").attrs["data-seconds"] == "150.1"
    assert restore.one(data_field="step-summary").text() == "restored 1.0 MiB to /srv/restore/p1"
    assert restore.one(data_field="snapshot-id").attrs["data-value"] == SNAPSHOT
    assert restore.one(data_field="step-target").text() == "primary"
    assert restore.all(data_field="attempts") == []
    assert verify.one(data_field="attempts").text() == "2"
    status = verify.one(data_field="step-status")
    assert (status.text(), status.attrs["class"]) == ("FAILED", "fail")
    error = verify.one(data_field="step-error")
    assert (error.text(), error.attrs["class"]) == (
        "canary: canary differs from the one written",
        "fail",
    )
    assert approve.one(data_field="step-duration").text() == "—"
    checks = steps.one(**{"class": "step-checks"}).all(**{"class": "check"})
    assert [(c.attrs["data-check"], c.attrs["data-passed"]) for c in checks] == [
        ("restic", "true"),
        ("canary", "false"),
    ]


def test_recovery_time_per_job_against_its_rto() -> None:
    slow = {
        "job": "registry",
        "policy": "standard",
        "target": "vault",
        "snapshot": "77" * 32,
        "bytes": 5 * 1024**3,
        "restore_s": 5400,
        "rto_s": 3600,
        "within": False,
    }
    record = runbook_run(1)
    record["recovery"].append(slow)
    _, dom = render([record])
    table = run_detail(dom, 1).first("table", **{"class": "recovery"})
    rows = table.all(**{"class": "recovery-job"})
    assert [r.attrs["data-job"] for r in rows] == ["payroll", "registry"]
    payroll, registry = rows
    assert payroll.one(data_field="restore").attrs["data-seconds"] == "150.1"
    assert payroll.one(data_field="rto-target").attrs["data-seconds"] == "3600"
    assert payroll.one(data_field="rto-target").text() == "1 h"
    assert payroll.one(data_field="within").attrs["data-within"] == "true"
    assert payroll.one(data_field="within").text() == "yes"
    assert payroll.one(data_field="bytes").attrs["data-bytes"] == "1048576"
    assert payroll.one(data_field="snapshot-id").text() == SNAPSHOT[:8]
    assert registry.one(data_field="within").text() == "NO"
    assert registry.one(data_field="within").attrs["class"] == "fail"
    assert registry.one(data_field="target").text() == "vault"
    assert registry.one(data_field="bytes").text() == "5.0 GiB"
    bars = {
        r.attrs["data-job"]: [
            (b.attrs["class"], b.attrs["style"])
            for b in r.all()
            if b.tag == "span" and "bar" in (b.attrs.get("class") or "")
        ]
        for r in rows
    }
    assert bars == {
        "payroll": [("bar ", "width: 4.2%"), ("bar target", "width: 100.0%")],
        "registry": [("bar over", "width: 100.0%"), ("bar target", "width: 66.7%")],
    }


def test_failures_and_their_reasons_come_first() -> None:
    no_reason = runbook_run(3, result="fail", reasons=[])
    _, dom = render([runbook_run(1), runbook_run(2, result="fail"), no_reason])
    box = section(dom).one(data_field="runbook-failures")
    assert box.attrs["class"] == "warning"
    items = [n for n in box.first("ol", **{"class": "failures"}).children if n.tag == "li"]
    shown = {i.attrs["data-seq"]: [r.text() for r in i.all(**{"class": "reason"})] for i in items}
    assert shown == {
        "2": ["step verify: canary: canary differs from the one written"],
        # without reasons, the failed steps' errors say why
        "3": ["step verify: canary: canary differs from the one written"],
    }
    link = items[0].first("a").attrs["href"]
    assert link == "#" + run_detail(dom, 2).attrs["id"]
    detail = run_detail(dom, 2)
    warning = detail.first("div", **{"class": "warning"})
    assert warning.one(data_field="status").text() == "FAILED"
    assert [r.text() for r in warning.all(**{"class": "reason"})] == shown["2"]


def test_a_failure_without_any_reason_says_so() -> None:
    record = runbook_run(1, result="fail", reasons=None, steps=None, status="CANCELED")
    _, dom = render([record])
    box = section(dom).one(data_field="runbook-failures")
    assert [r.text() for r in box.all(**{"class": "reason"})] == ["no reason was recorded"]


def test_all_passed_says_so() -> None:
    _, dom = render([runbook_run(1)])
    assert section(dom).one(data_field="no-runbook-failures")
    assert section(dom).all(data_field="runbook-failures") == []


def test_a_run_aborted_before_any_step() -> None:
    aborted = {
        "seq": 1,
        "kind": "runbook",
        "at": "2026-11-30T02:00:05Z",
        "actor": "alice",
        "runbook": {"name": "restore-payroll"},
        "run": 7,
        "status": "CANCELED",
        "result": "fail",
        "reasons": ["aborted by alice before the first step"],
        "steps": [],
    }
    _, dom = render([aborted])
    (row,) = summary_rows(dom)
    assert row.one(data_field="runbook-title").text() == "restore-payroll"  # no title: its name
    assert row.all(data_field="runbook-name") == []
    assert row.one(data_field="started").text() == "—"  # not the record's time, a later one
    assert row.one(data_field="duration").text() == "—"
    assert row.one(data_field="approved-by").text() == "—"
    assert row.one(data_field="drill").text() == "no"
    detail = run_detail(dom, 1)
    assert detail.one(data_field="no-steps")
    assert detail.one(data_field="no-recovery")
    assert detail.one(data_field="runbook-sha256").text() == "—"


def test_records_from_older_versions_and_malformed_fields() -> None:
    bare = {"kind": "runbook"}
    odd = {
        "seq": 2,
        "kind": "runbook",
        "runbook": "restore-payroll",
        "drill": "yes",
        "params": ["destination"],
        "approvals": [1, {"by": None}],
        "steps": [3, {"name": "x", "duration_s": "slow", "checks": "none", "snapshot": "abc"}],
        "recovery": {"job": "payroll"},
        "duration_s": float("nan"),
        "started_at": 5,
        "result": "maybe",
    }
    _, dom = render([bare, odd], None)
    rows = summary_rows(dom)
    assert len(rows) == 2
    assert [r.attrs.get("data-seq") for r in rows] == ["2", None]
    assert [r.attrs["data-result"] for r in rows] == ["unknown", "unknown"]
    assert [r.one(data_field="drill").text() for r in rows] == ["no", "no"]
    assert section(dom).one(data_field="unknown").text() == "2"
    steps = run_detail(dom, 2).first("table", **{"class": "steps"}).all(**{"class": "step"})
    assert [s.attrs["data-step"] for s in steps] == ["—", "x"]
    assert steps[1].one(data_field="step-duration").text() == "—"
    assert run_detail(dom, 2).one(data_field="no-recovery")
    assert dom.one(id="summary").one(data_field="runbook-runs").text() == "2"


def test_hostile_runbook_text_is_escaped() -> None:
    img = '"><img src=x onerror=alert(1)>'
    record = runbook_run(
        1,
        result="fail",
        actor=HOSTILE,
        job=HOSTILE,
        status=img,
        runbook={"name": img, "title": HOSTILE, "sha256": HOSTILE},
        params={HOSTILE: img},
        reasons=[HOSTILE],
        approvals=[{"step": img, "by": HOSTILE, "role": HOSTILE, "at": img}],
        steps=[
            {
                "name": HOSTILE,
                "kind": img,
                "status": img,
                "actor": HOSTILE,
                "summary": "</td></tr></table>" + HOSTILE,
                "error": img,
                "target": HOSTILE,
                "checks": [{"name": img, "passed": False, "detail": HOSTILE}],
            }
        ],
        recovery=[{"job": HOSTILE, "policy": img, "target": HOSTILE, "snapshot": img}],
        versions={HOSTILE: img},
    )
    text, dom = render([record])  # Tree() asserts every element is closed in order
    lowered = text.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    (row,) = summary_rows(dom)
    assert row.one(data_field="runbook-title").text() == HOSTILE
    assert row.one(data_field="runbook-name").text() == img
    assert row.attrs["data-runbook"] == img
    assert row.one(data_field="actor").text() == HOSTILE
    assert row.one(data_field="approved-by").text() == HOSTILE
    detail = run_detail(dom, 1)
    (step,) = detail.all(**{"class": "step"})
    assert step.attrs["data-step"] == HOSTILE
    assert step.attrs["data-status"] == img
    assert step.one(data_field="step-summary").text() == "</td></tr></table>" + HOSTILE
    assert step.one(data_field="step-error").text() == img
    assert detail.one(data_check=img).attrs["data-passed"] == "false"
    assert detail.one(data_param=HOSTILE).text() == img
    assert detail.one(**{"class": "recovery-job"}).attrs["data-job"] == HOSTILE
    assert [r.text() for r in section(dom).all(**{"class": "reason"})] == [HOSTILE, HOSTILE]


@settings(max_examples=60, deadline=None)
@given(name=TEXT, summary=TEXT, title=TEXT, error=TEXT)
def test_any_step_text_stays_text(name: str, summary: str, title: str, error: str) -> None:
    step = {"name": name, "kind": "command", "status": "FAILED", "summary": summary, "error": error}
    record = runbook_run(1, result="fail", steps=[step], runbook={"name": "r", "title": title})
    text, dom = render([record])
    tags = {m.lower() for m in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", text)}
    assert "script" not in tags and "img" not in tags
    (shown,) = run_detail(dom, 1).all(**{"class": "step"})
    assert shown.attrs["data-step"] == (name or "—")
    if summary:
        assert shown.one(data_field="step-summary").text() == " ".join(summary.split())


def test_the_report_stays_self_contained_with_runbooks() -> None:
    text = render_report([runbook_run(1), runbook_run(2, result="fail", drill=True)], None)
    lowered = text.lower()
    for banned in ("http://", "https://", "<script", "src=", "<link", "url(", "@import", "<img"):
        assert banned not in lowered, banned
    assert "content-security-policy" in lowered
