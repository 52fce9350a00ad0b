"""report.html: the evidence bundle's one-file report for compliance officers.

    html_text = render_report(records, checkpoint)

One self-contained HTML5 file: inline CSS, no script, nothing fetched (a Content Security
Policy forbids it), readable on screen and printed. It leads with what is failing: a
summary (jobs, the rules violated and the jobs in violation, tests, the period, the
checkpoint the report was built from), then per job its compliance at the checkpoint
(every rule its records know, violated ones first, since when, value against limit) under
a badge that says VIOLATED whenever a rule is, then the latest restore test and its
checks, the pass/fail history, measured vs projected vs target RTO, which copy and snapshot
each test used, and the failures with their reasons; then the compliance transitions as
rows; then the runbook runs and recovery drills (who ran and approved each, its steps, the
restore time it achieved per job against the job's RTO, its failures first); other kinds of
evidence follow in one compact table.

Every value from a record is escaped. Numbers carry stable hooks for machines next to the
words for people: `data-seq` on each test, `data-field` naming the value, `data-seconds`
(exact seconds) on durations, `data-bytes` on sizes, `data-value` on shortened ids and
(as the recorded JSON) on a rule's value or limit; `data-status` on each job (violated,
fail, pass, unknown, untested), `data-rule` and `data-ok` on each rule and transition. The
report is a view: the bundle's records and `drorch evidence verify` are the proof.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drorch.config.units import format_size
from drorch.evidence.compliance import KINDS as POLICY_KINDS
from drorch.evidence.compliance import RuleEvent, job_rules, rule_events

RESTORE_TEST = "restore-test"
RUNBOOK = "runbook"
DASH = "—"
SHORT_ID = 8
NO_JOB = "(no job)"
# Fields of other events left out of their details column (shown elsewhere, or seals).
_ENVELOPE = frozenset(
    {"seq", "id", "kind", "at", "host", "prev", "hash", "signature", "key_id", "job", "actor"}
)
_DETAIL_LIMIT = 300
# Rules whose value and limit are seconds (by the name before any ':', as in rpo:primary);
# a rule's value that is not a number (a run status) is shown as it is.
_SECONDS_RULES = frozenset({"rpo", "verified_rpo", "rto", "restore_test", "check"})
# A job's badge: its worst of compliance and latest restore test.
_STATUS_WORDS = {
    "violated": ("VIOLATED", "fail"),
    "fail": ("FAIL", "fail"),
    "pass": ("PASS", "pass"),
    "unknown": ("UNKNOWN", "unknown"),
    "untested": ("UNTESTED", "unknown"),
}

_CSP = "default-src 'none'; style-src 'unsafe-inline'"

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
html { background: #fff; }
body {
  margin: 0 auto; max-width: 72rem; padding: 1.5rem 2rem 3rem;
  font: 10.5pt/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
  color: #111; background: #fff;
}
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.3em; margin: 0 0 .4em; padding-bottom: .2em; border-bottom: 2px solid #333; }
h3 { font-size: 1.08em; margin: 1.3em 0 .4em; }
h4 { font-size: 1em; margin: 1em 0 .3em; }
p { margin: .3em 0 .6em; }
.sub { color: #444; margin-top: 0; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: .92em; }
.hash { word-break: break-all; }
.muted { color: #555; }
.small { font-size: .8em; }
.pass { color: #0b5d23; }
.fail { color: #a3121a; font-weight: 700; }
.unknown { color: #7a4b00; font-weight: 700; }
.verdict {
  display: inline-block; padding: 0 .45em; border: 1.5px solid currentColor;
  border-radius: 3px; font-weight: 700; font-size: .9em; letter-spacing: .03em;
}
.warning { border: 2px solid #a3121a; padding: .5em .8em; margin: .8em 0; }
section { margin: 1.6em 0; }
section.job { margin-top: 2.4em; }
dl.facts {
  display: grid; grid-template-columns: max-content 1fr; gap: .15em 1.2em; margin: .4em 0;
}
dl.facts dt { font-weight: 700; }
dl.facts dd { margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: .6em; margin: .8em 0; }
.card { border: 1px solid #999; border-radius: 4px; padding: .35em .9em; min-width: 7.5em; }
.card .n { display: block; font-size: 1.55em; font-weight: 700; }
.card .l { font-size: .85em; color: #444; }
table { border-collapse: collapse; width: 100%; margin: .3em 0 .8em; }
th, td { border: 1px solid #bbb; padding: .22em .5em; text-align: left; vertical-align: top; }
th { background: #eee; font-weight: 700; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.detail { word-break: break-word; }
td time, td code, td [data-field="within"] { white-space: nowrap; }
#jobs td time { white-space: normal; }
table.rules td.detail { width: 35%; }
.strip span { font-weight: 700; margin-right: .15em; }
.rto td.bar-cell { width: 45%; }
.recovery td.bar-cell { width: 22%; }
tr.step-checks > td { padding: .2em .5em .2em 2em; border-top: none; }
table.rules tr[data-ok="false"] > td {
  background: #fbe9ea; -webkit-print-color-adjust: exact; print-color-adjust: exact;
}
div.compliance { margin: .6em 0 1em; }
ul.violations { margin: .2em 0 .4em 1.2em; padding: 0; }
.bar {
  display: block; height: .75em; min-width: 2px; background: #555;
  -webkit-print-color-adjust: exact; print-color-adjust: exact;
}
.bar.target { background: #999; }
.bar.over { background: #a3121a; }
ul.reasons { margin: .2em 0 .6em 1.2em; padding: 0; }
ol.failures { padding-left: 1.4em; }
ol.failures > li { margin-bottom: .5em; }
nav ul { margin: .2em 0; padding-left: 1.2em; }
a { color: #0b3d91; }
footer { margin-top: 2.5em; padding-top: .6em; border-top: 1px solid #999; font-size: .9em; }
@page { margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; }
  a { color: inherit; text-decoration: none; }
  section.job, section#policy-events, section#runbook-runs {
    break-before: page; page-break-before: always;
  }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  tr, li, dl.facts, .card, .warning { break-inside: avoid; page-break-inside: avoid; }
  table { font-size: .92em; }
  thead { display: table-header-group; }
  th { background: #eee; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_report(
    records: Sequence[Mapping[str, Any]],
    checkpoint: Mapping[str, Any] | None,
    *,
    title: str = "drorch evidence report",
) -> str:
    """The HTML text of the report over records (parsed evidence records, any kinds, any
    order) as of checkpoint (the signed checkpoint they were exported under, or None)."""
    ordered = _ordered(records)
    tests = [r for r in ordered if r.get("kind") == RESTORE_TEST]
    runbooks = [r for r in ordered if r.get("kind") == RUNBOOK]
    others = [r for r in ordered if r.get("kind") not in (RESTORE_TEST, RUNBOOK, *POLICY_KINDS)]
    events = rule_events(ordered)
    size = _int(_map(checkpoint).get("tree_size"))
    jobs = _jobs(tests, events, size)
    out: list[str] = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="generator" content="drorch">\n',
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        f'<header>\n<h1 id="title">{_e(title)}</h1>\n',
        '<p class="sub">Compliance, restore tests and other evidence from the drorch evidence log. '
        "This page is a view of the records; the signed records and checkpoint in the "
        "bundle are the proof.</p>\n</header>\n",
    ]
    out.append(_summary(ordered, tests, runbooks, others, jobs, events, checkpoint))
    for index, job in enumerate(jobs, 1):
        out.append(_job_section(index, job))
    if events:
        out.append(_policy_events(events, jobs))
    if runbooks:
        out.append(_runbook_section(runbooks))
    if others:
        out.append(_other_events(others))
    out.append(
        "<footer>\n<p>Generated by drorch from the evidence records listed above. To check "
        "that they are exactly what drorch signed, verify the bundle offline: "
        "<code>drorch evidence verify BUNDLE --key PUBLIC_KEY.pem</code> (the README "
        "describes how to do it by hand with standard tools).</p>\n</footer>\n"
        "</body>\n</html>\n"
    )
    return "".join(out)


# -- sections -------------------------------------------------------------------------------


def _summary(
    ordered: list[Mapping[str, Any]],
    tests: list[Mapping[str, Any]],
    runbooks: list[Mapping[str, Any]],
    others: list[Mapping[str, Any]],
    jobs: list[_Job],
    events: list[RuleEvent],
    checkpoint: Mapping[str, Any] | None,
) -> str:
    passed = sum(1 for r in tests if _result(r) == "pass")
    failed = sum(1 for r in tests if _result(r) == "fail")
    unknown = len(tests) - passed - failed
    times = sorted(
        (instant, at)
        for at in (_str(r.get("at")) for r in ordered)
        if at and (instant := _instant(at)) is not None
    )
    seqs = [s for s in (_int(r.get("seq")) for r in ordered) if s is not None]
    out = ['<section id="summary">\n<h2>Summary</h2>\n<div class="cards">\n']
    violated = sum(len(job.violated) for job in jobs)
    in_violation = sum(1 for job in jobs if job.violated)
    cards = [
        ("jobs", len(jobs), "jobs", ""),
        ("jobs-violated", in_violation, "jobs in violation", _fail_css(in_violation)),
        ("rules-violated", violated, "rules violated", _fail_css(violated)),
        ("tests", len(tests), "restore tests", ""),
        ("passed", passed, "passed", "pass"),
        ("failed", failed, "failed", _fail_css(failed)),
    ]
    if unknown:
        cards.append(("unknown", unknown, "without a result", "unknown"))
    runbooks_failed = sum(1 for r in runbooks if _result(r) == "fail")
    cards += [
        ("runbook-runs", len(runbooks), "runbook runs", ""),
        ("drills", sum(1 for r in runbooks if r.get("drill") is True), "recovery drills", ""),
        ("runbooks-failed", runbooks_failed, "runbook runs failed", _fail_css(runbooks_failed)),
        ("policy-events", len(events), "compliance transitions", ""),
        ("other-events", len(others), "other events", ""),
    ]
    for field, count, label, css in cards:
        out.append(
            f'<div class="card"><span class="n {css}" data-field="{field}">{count}</span>'
            f'<span class="l">{_e(label)}</span></div>\n'
        )
    out.append("</div>\n")
    out.append(_violations(jobs, events, seqs, _int(_map(checkpoint).get("tree_size"))))
    out.append('<dl class="facts">\n<dt>Period</dt><dd data-field="period">')
    if times:
        first, last = times[0][1], times[-1][1]
        out.append(f"{_time(first, 'period-from')} to {_time(last, 'period-to')}</dd>\n")
    else:
        out.append("no records</dd>\n")
    out.append(f'<dt>Records</dt><dd><span data-field="records">{len(ordered)}</span>')
    if seqs:
        out.append(
            f' (seq <span data-field="seq-first">{min(seqs)}</span> to '
            f'<span data-field="seq-last">{max(seqs)}</span>)'
        )
    out.append("</dd>\n</dl>\n")
    out.append(_checkpoint(checkpoint, seqs))
    if jobs:
        out.append(_overview(jobs))
    out.append("</section>\n")
    return "".join(out)


def _checkpoint(checkpoint: Mapping[str, Any] | None, seqs: list[int]) -> str:
    out = ['<div id="checkpoint">\n<h3>Signed checkpoint this report was built from</h3>\n']
    if checkpoint is None:
        out.append(
            '<p class="warning" data-field="checkpoint-missing">No checkpoint: these records '
            "are not anchored to a signed checkpoint.</p>\n</div>\n"
        )
        return "".join(out)
    size = _int(checkpoint.get("tree_size"))
    at = _str(checkpoint.get("at"))
    out.append('<dl class="facts">\n')
    out.append(
        f'<dt>Tree size</dt><dd><span data-field="checkpoint-tree-size">'
        f"{_e(_text_or_dash(checkpoint.get('tree_size')))}</span> records</dd>\n"
    )
    for label, field, key in (
        ("Root hash", "checkpoint-root-hash", "root_hash"),
        ("Key id", "checkpoint-key-id", "key_id"),
    ):
        out.append(
            f'<dt>{label}</dt><dd><code class="hash" data-field="{field}">'
            f"{_e(_text_or_dash(checkpoint.get(key)))}</code></dd>\n"
        )
    out.append(f"<dt>Signed at</dt><dd>{_time(at, 'checkpoint-at')}</dd>\n")
    out.append(
        '<dt>Signature</dt><dd><code class="hash small" data-field="checkpoint-signature">'
        f"{_e(_text_or_dash(checkpoint.get('signature')))}</code></dd>\n"
    )
    out.append("</dl>\n")
    beyond = [s for s in seqs if size is not None and s > size]
    if beyond:
        out.append(
            f'<p class="warning" data-field="beyond-checkpoint">{len(beyond)} record(s) '
            f"(seq {min(beyond)} onwards) are newer than this checkpoint and not covered by "
            "it.</p>\n"
        )
    out.append("</div>\n")
    return "".join(out)


def _overview(jobs: list[_Job]) -> str:
    out = [
        '<h3>Jobs</h3>\n<table id="jobs">\n<thead><tr><th>Job</th><th>Status</th><th>Policy</th>'
        '<th class="num">Tests</th><th class="num">Passed</th><th class="num">Failed</th>'
        '<th>Latest test</th><th>Latest result</th><th class="num">Projected</th>'
        '<th class="num">RTO target</th><th>Within RTO</th></tr></thead>\n'
        "<tbody>\n"
    ]
    for index, job in enumerate(jobs, 1):
        latest = job.tests[-1] if job.tests else {}
        rto = _map(latest.get("rto"))
        passed = sum(1 for r in job.tests if _result(r) == "pass")
        failed = sum(1 for r in job.tests if _result(r) == "fail")
        out.append(
            f"<tr{_attrs(job=job.name, status=job.status)}>"
            f'<td><a href="#job-{index}">{_e(job.name)}</a></td>'
            f"<td>{_job_badge(job)}{_rules_count(job)}</td>"
            f"<td>{_e(_text_or_dash(job.policy))}</td>"
            f'<td class="num" data-field="tests">{len(job.tests)}</td>'
            f'<td class="num" data-field="passed">{passed}</td>'
            f'<td class="num" data-field="failed">{failed}</td>'
            f"<td>{_time(_str(latest.get('at')), 'at')}</td>"
            f"<td>{_verdict(latest) if job.tests else _NO_TEST}</td>"
            f'<td class="num">{_duration(rto.get("projected_s"), "projected")}</td>'
            f'<td class="num">{_duration(rto.get("target_s"), "rto-target")}</td>'
            f"<td>{_within(rto)}</td></tr>\n"
        )
    out.append("</tbody>\n</table>\n")
    return "".join(out)


def _job_section(index: int, job: _Job) -> str:
    """Compliance first (what is failing now), then the restore tests."""
    tests = list(job.tests)
    passed = sum(1 for r in tests if _result(r) == "pass")
    failed = sum(1 for r in tests if _result(r) == "fail")
    out = [
        f'<section class="job" id="job-{index}"{_attrs(job=job.name, status=job.status)}>\n',
        f"<h2>Job {_e(job.name)} {_job_badge(job)}</h2>\n",
        _job_rules(job),
        f"<p>Policy <strong>{_e(_text_or_dash(job.policy))}</strong>. "
        f'<span data-field="tests">{len(tests)}</span> restore test(s) in the period: '
        f'<span data-field="passed">{passed}</span> passed, '
        f'<span data-field="failed">{failed}</span> failed.</p>\n',
    ]
    if not tests:
        out.append(
            '<p class="unknown" data-field="no-tests">No restore test of this job is among '
            "these records.</p>\n</section>\n"
        )
        return "".join(out)
    out.append('<p class="strip" aria-label="results, oldest first">Results, oldest first: ')
    for record in tests:
        result = _result(record)
        mark = {"pass": "✓", "fail": "✗"}.get(result, "?")
        out.append(
            f'<span class="{_css_result(result)}" title="seq {_e(_text_or_dash(record.get("seq")))}'
            f': {_e(result)}">{mark}</span>'
        )
    out.append("</p>\n")
    out.append(_latest(tests[-1]))
    out.append(_history(tests))
    out.append(_copies(tests))
    out.append(_failures(tests))
    out.append("</section>\n")
    return "".join(out)


def _latest(record: Mapping[str, Any]) -> str:
    target = _map(record.get("target"))
    snapshot = _map(record.get("snapshot"))
    selection = _map(record.get("selection"))
    out = [
        f'<div class="latest"{_attrs(seq=_int(record.get("seq")), result=_result(record))}>\n',
        '<h3>Latest restore test</h3>\n<dl class="facts">\n',
        f"<dt>Result</dt><dd>{_verdict(record, 'result')}</dd>\n",
        f"<dt>Tested at</dt><dd>{_time(_str(record.get('at')), 'at')}</dd>\n",
        f"<dt>Copy tested</dt><dd>{_copy(target)}</dd>\n",
        f"<dt>Snapshot tested</dt><dd>{_snapshot(snapshot)}</dd>\n",
    ]
    if selection:
        out.append(f"<dt>Selection</dt><dd>{_selection(selection)}</dd>\n")
    who = [
        ("actor", record.get("actor")),
        ("host", record.get("host")),
        ("run", record.get("run")),
    ]
    out.append(
        "<dt>By</dt><dd>"
        + ", ".join(
            f'{name} <span data-field="{name}">{_e(_text_or_dash(value))}</span>'
            for name, value in who
        )
        + "</dd>\n"
    )
    out.append(
        f'<dt>Record</dt><dd>seq <span data-field="seq">{_e(_text_or_dash(record.get("seq")))}'
        f"</span>, hash {_short(record.get('hash'), 'hash', 16)}</dd>\n"
    )
    out.append(_versions(_map(record.get("versions"))))
    out.append("</dl>\n")
    out.append(_rto(record))
    out.append(_checks(record))
    out.append("</div>\n")
    return "".join(out)


def _rto(record: Mapping[str, Any]) -> str:
    rto = _map(record.get("rto"))
    durations = _map(record.get("durations_s"))
    measured = _num(durations.get("restore"))
    projected = _num(rto.get("projected_s"))
    target = _num(rto.get("target_s"))
    scale = max((v for v in (measured, projected, target) if v is not None), default=0.0)
    projected_over = projected is not None and target is not None and projected > target
    rows = [
        ("Measured restore", "restore", measured, ""),
        ("Projected full restore", "projected", projected, ""),
        ("RTO target", "rto-target", target, "target"),
    ]
    out = [
        '<h4>Recovery time</h4>\n<table class="rto">\n<thead><tr><th>What</th>'
        '<th class="num">Time</th><th class="bar-cell">Scale</th></tr></thead>\n<tbody>\n'
    ]
    for label, field, value, css in rows:
        bar_css = "over" if field == "projected" and projected_over else css
        out.append(
            f'<tr><td>{label}</td><td class="num">{_duration(value, field)}</td>'
            f'<td class="bar-cell">{_bar(value, scale, bar_css)}</td></tr>\n'
        )
    out.append("</tbody>\n</table>\n")
    throughput = _num(record.get("throughput_bytes_per_s"))
    phases = ", ".join(
        f"{_e(name)} {_duration(_num(value), f'phase-{name}')}"
        for name, value in durations.items()
        if _num(value) is not None
    )
    out.append(f"<p>Within RTO: {_within(rto)}")
    if throughput is not None:
        out.append(
            f'. Measured throughput <span data-field="throughput" data-bytes-per-s='
            f'"{_number_attr(throughput)}">{_e(format_size(int(throughput)))}/s</span>'
        )
    if phases:
        out.append(f". Phases: {phases}")
    out.append(".</p>\n")
    return "".join(out)


def _checks(record: Mapping[str, Any]) -> str:
    checks = [_map(c) for c in _list(record.get("checks"))]
    out = ["<h4>Checks</h4>\n"]
    if not checks:
        out.append('<p class="fail" data-field="no-checks">No check ran.</p>\n')
    else:
        out.append(_check_table(checks))
    reasons = _reasons(record)
    if reasons and _result(record) != "pass":
        out.append(f"<p>Reasons it failed:</p>\n{_reason_list(reasons)}")
    return "".join(out)


def _check_table(checks: list[Mapping[str, Any]]) -> str:
    out = [
        '<table class="checks">\n<thead><tr><th>Check</th><th>Result</th><th>Detail</th>'
        "</tr></thead>\n<tbody>\n"
    ]
    for check in checks:
        passed = check.get("passed")
        word = "pass" if passed is True else "fail" if passed is False else "unknown"
        flag = "true" if passed is True else "false" if passed is False else ""
        out.append(
            f'<tr class="check" data-check="{_e(_text_or_dash(check.get("name")))}" '
            f'data-passed="{flag}"><td>{_e(_text_or_dash(check.get("name")))}</td>'
            f'<td class="{_css_result(word)}" data-field="check-result">{word.upper()}</td>'
            f'<td class="detail">{_e(_text_or_dash(check.get("detail")))}</td></tr>\n'
        )
    out.append("</tbody>\n</table>\n")
    return "".join(out)


def _history(tests: list[Mapping[str, Any]]) -> str:
    out = [
        "<h3>History over the period</h3>\n",
        '<table class="history">\n<thead><tr><th class="num">Seq</th><th>Tested at</th>'
        '<th>Copy</th><th>Snapshot</th><th>Result</th><th class="num">Measured restore</th>'
        '<th class="num">Projected</th><th class="num">RTO target</th><th>Within RTO</th>'
        "</tr></thead>\n<tbody>\n",
    ]
    for record in reversed(tests):  # newest first
        target = _map(record.get("target"))
        snapshot = _map(record.get("snapshot"))
        rto = _map(record.get("rto"))
        durations = _map(record.get("durations_s"))
        seq = _int(record.get("seq"))
        out.append(
            f"<tr{_attrs(seq=seq, result=_result(record))}>"
            f'<td class="num">{_e(_text_or_dash(record.get("seq")))}</td>'
            f"<td>{_time(_str(record.get('at')), 'at')}</td>"
            f'<td data-field="target">{_e(_text_or_dash(target.get("name")))}</td>'
            f"<td>{_short(snapshot.get('id'), 'snapshot-id', SHORT_ID)}</td>"
            f"<td>{_verdict(record, 'result')}</td>"
            f'<td class="num">{_duration(durations.get("restore"), "restore")}</td>'
            f'<td class="num">{_duration(rto.get("projected_s"), "projected")}</td>'
            f'<td class="num">{_duration(rto.get("target_s"), "rto-target")}</td>'
            f"<td>{_within(rto)}</td></tr>\n"
        )
    out.append("</tbody>\n</table>\n")
    return "".join(out)


def _copies(tests: list[Mapping[str, Any]]) -> str:
    copies: dict[str, list[Mapping[str, Any]]] = {}
    for record in tests:
        name = _str(_map(record.get("target")).get("name")) or DASH
        copies.setdefault(name, []).append(record)
    out = [
        "<h3>Copies tested</h3>\n",
        '<table class="copies">\n<thead><tr><th>Copy</th><th>Site</th><th>Jurisdiction</th>'
        '<th class="num">Tests</th><th class="num">Passed</th><th class="num">Failed</th>'
        "<th>Last tested</th><th>Last result</th></tr></thead>\n<tbody>\n",
    ]
    for name, records in sorted(copies.items()):
        last = records[-1]
        target = _map(last.get("target"))
        out.append(
            f'<tr data-copy="{_e(name)}"><td>{_e(name)}</td>'
            f"<td>{_e(_text_or_dash(target.get('site')))}</td>"
            f"<td>{_e(_text_or_dash(target.get('jurisdiction')))}</td>"
            f'<td class="num" data-field="tests">{len(records)}</td>'
            f'<td class="num" data-field="passed">'
            f"{sum(1 for r in records if _result(r) == 'pass')}</td>"
            f'<td class="num" data-field="failed">'
            f"{sum(1 for r in records if _result(r) == 'fail')}</td>"
            f"<td>{_time(_str(last.get('at')), 'at')}</td><td>{_verdict(last)}</td></tr>\n"
        )
    out.append("</tbody>\n</table>\n")
    return "".join(out)


def _failures(tests: list[Mapping[str, Any]]) -> str:
    failed = [r for r in tests if _result(r) != "pass"]
    out = ["<h3>Failures</h3>\n"]
    if not failed:
        out.append('<p class="pass" data-field="no-failures">No failed test in the period.</p>\n')
        return "".join(out)
    out.append('<ol class="failures">\n')
    for record in reversed(failed):
        target = _map(record.get("target"))
        snapshot = _map(record.get("snapshot"))
        reasons = _reasons(record) or ["no reason was recorded"]
        out.append(
            f"<li{_attrs(seq=_int(record.get('seq')), result=_result(record))}>"
            f"{_verdict(record, 'result')} seq {_e(_text_or_dash(record.get('seq')))}, "
            f"{_time(_str(record.get('at')), 'at')}, copy "
            f'<span data-field="target">{_e(_text_or_dash(target.get("name")))}</span>, '
            f"snapshot {_short(snapshot.get('id'), 'snapshot-id', SHORT_ID)}\n"
            f"{_reason_list(reasons)}</li>\n"
        )
    out.append("</ol>\n")
    return "".join(out)


# -- compliance -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """A job of the report: its restore tests (by seq) and its rules known at the checkpoint
    (violated first)."""

    name: str
    tests: tuple[Mapping[str, Any], ...]
    rules: tuple[RuleEvent, ...]
    policy: Any

    @property
    def violated(self) -> tuple[RuleEvent, ...]:
        return tuple(r for r in self.rules if not r.ok)

    @property
    def status(self) -> str:
        """violated whatever the tests say; else the latest test's result, or untested."""
        if self.violated:
            return "violated"
        return _result(self.tests[-1]) if self.tests else "untested"


_NO_TEST = '<span class="unknown" data-field="result" data-result="none">no test</span>'


def _jobs(tests: list[Mapping[str, Any]], events: list[RuleEvent], size: int | None) -> list[_Job]:
    """Every job with a restore test or a compliance transition among the records, by name;
    its rules as they stood at the checkpoint (tree size `size`)."""
    tested: dict[str, list[Mapping[str, Any]]] = {}
    for record in tests:
        tested.setdefault(_str(record.get("job")) or NO_JOB, []).append(record)
    rules = {job or NO_JOB: state.rules for job, state in job_rules(events, up_to=size).items()}
    policies = {event.job or NO_JOB: event.policy for event in events}
    return [
        _Job(
            name,
            tuple(tested.get(name, ())),
            rules.get(name, ()),
            tested[name][-1].get("policy") if name in tested else policies.get(name),
        )
        for name in sorted(set(tested) | set(rules), key=lambda n: (n == NO_JOB, n))
    ]


def _job_badge(job: _Job) -> str:
    word, css = _STATUS_WORDS[job.status]
    return (
        f'<span class="verdict {css}" data-field="job-status" data-status="{job.status}">'
        f"{word}</span>"
    )


def _rules_count(job: _Job) -> str:
    """'1 of 3 rules violated' under the job's badge, when its records know any rule."""
    if not job.rules:
        return ""
    counts = _attrs(rules=len(job.rules), violated=len(job.violated))
    return (
        f'<br><span class="small" data-field="job-rules-violated"{counts}>'
        f"{len(job.violated)} of {len(job.rules)} rules violated</span>"
    )


def _violations(
    jobs: list[_Job], events: list[RuleEvent], seqs: list[int], size: int | None
) -> str:
    """The summary's lead: every violated rule of every job, then what the state rests on."""
    if not events:
        return (
            '<p class="muted" data-field="compliance-unknown">No compliance transition is '
            "among these records, so this report cannot tell whether any rule is violated "
            "(<code>drorch compliance</code> tells from the catalog).</p>\n"
        )
    anchors = {job.name: index for index, job in enumerate(jobs, 1)}
    violated = [(job, rule) for job in jobs for rule in job.violated]
    known = sum(len(job.rules) for job in jobs)
    out = []
    if violated:
        out.append(
            '<div class="warning" id="violations">\n<p><strong>'
            f'<span data-field="violations-rules">{len(violated)}</span> rule(s) violated in '
            f'<span data-field="violations-jobs">{sum(1 for j in jobs if j.violated)}</span> '
            'job(s)</strong> at the checkpoint:</p>\n<ul class="violations">\n'
        )
        for job, rule in violated:
            out.append(
                f'<li class="violation"{_attrs(job=job.name, rule=rule.rule, seq=rule.seq)}>'
                f"{_job_link(job.name, anchors)}: "
                f'<code data-field="rule">{_e(rule.rule)}</code> violated since '
                f"{_time(rule.at, 'since')}, value {_rule_amount(rule.rule, rule.value, 'value')}"
                f" against limit {_rule_amount(rule.rule, rule.limit, 'limit')}"
                f" (evidence seq {_e(_text_or_dash(rule.seq))})</li>\n"
            )
        out.append("</ul>\n</div>\n")
    else:
        out.append(
            '<p class="pass" data-field="no-violations">No rule is violated at the checkpoint: '
            f"the {known} rule(s) these records know are all ok.</p>\n"
        )
    covered = [s for s in seqs if size is None or s <= size]
    basis = (
        "Compliance is read from the rule transitions the compliance watch signed "
        "(policy-violation, policy-restored)"
    )
    if covered:
        basis += f", up to seq {max(covered)}"
    basis += ". A rule that was never violated has no record"
    if covered and min(covered) > 1:
        basis += (
            f"; one whose last transition came before seq {min(covered)} is not among these records"
        )
    return "".join(out) + f'<p class="small muted" data-field="compliance-basis">{basis}.</p>\n'


def _job_rules(job: _Job) -> str:
    """The job's every known rule, violated ones first, as it stood at the checkpoint."""
    out = [f'<div class="compliance"{_attrs(rules=len(job.rules), violated=len(job.violated))}>\n']
    out.append("<h3>Compliance at the checkpoint</h3>\n")
    if not job.rules:
        out.append(
            '<p class="muted" data-field="no-rules">No compliance transition of this job is '
            "among these records.</p>\n</div>\n"
        )
        return "".join(out)
    if job.violated:
        out.append(
            f'<p><span class="fail" data-field="violated">{len(job.violated)}</span> of '
            f'<span data-field="rules">{len(job.rules)}</span> known rule(s) violated.</p>\n'
        )
    else:
        out.append(
            f'<p class="pass">All <span data-field="rules">{len(job.rules)}</span> known '
            "rule(s) ok.</p>\n"
        )
    out.append(
        '<table class="rules">\n<thead><tr><th>Rule</th><th>State</th><th>Since</th>'
        '<th>Value</th><th>Limit</th><th>Detail</th><th class="num">Seq</th></tr>'
        "</thead>\n<tbody>\n"
    )
    for rule in job.rules:
        counted = ""
        if rule.since and rule.since != rule.at:
            counted = (
                f'<br><span class="small muted">by the rule, from '
                f"{_time(rule.since, 'rule-since')}</span>"
            )
        out.append(
            f'<tr class="rule"{_rule_attrs(rule)}>'
            f'<td><code data-field="rule">{_e(rule.rule)}</code></td>'
            f"<td>{_rule_state(rule.ok)}</td>"
            f"<td>{_time(rule.at, 'since')}{counted}</td>"
            f"<td>{_rule_amount(rule.rule, rule.value, 'value')}</td>"
            f"<td>{_rule_amount(rule.rule, rule.limit, 'limit')}</td>"
            f'<td class="detail" data-field="detail">{_e(_shown(rule.detail))}</td>'
            f'<td class="num" data-field="seq">{_e(_text_or_dash(rule.seq))}</td></tr>\n'
        )
    out.append("</tbody>\n</table>\n</div>\n")
    return "".join(out)


def _policy_events(events: list[RuleEvent], jobs: list[_Job]) -> str:
    """Every compliance transition among the records, newest first, one readable row each."""
    anchors = {job.name: index for index, job in enumerate(jobs, 1)}
    out = [
        '<section id="policy-events">\n<h2>Compliance transitions</h2>\n',
        f'<p><span data-field="policy-events">{len(events)}</span> transition(s), newest '
        "first: each is a signed record of the compliance watch, written when a rule of a "
        "job turned violated or back to ok.</p>\n",
        '<table class="transitions">\n<thead><tr><th class="num">Seq</th><th>When</th>'
        "<th>Job</th><th>Rule</th><th>Change</th><th>Value</th><th>Limit</th><th>Detail</th>"
        "</tr></thead>\n<tbody>\n",
    ]
    for event in reversed(events):
        job = event.job or NO_JOB
        before = "VIOLATED" if event.ok else "not violated"
        out.append(
            f'<tr class="transition"{_attrs(job=job)}{_rule_attrs(event)}>'
            f'<td class="num" data-field="seq">{_e(_text_or_dash(event.seq))}</td>'
            f"<td>{_time(event.at, 'at')}</td>"
            f'<td data-field="job">{_job_link(job, anchors)}</td>'
            f'<td><code data-field="rule">{_e(event.rule)}</code></td>'
            f'<td><span class="{"fail" if event.ok else "muted"}" data-field="from">{before}'
            f"</span> → {_rule_state(event.ok, 'to')}</td>"
            f"<td>{_rule_amount(event.rule, event.value, 'value')}</td>"
            f"<td>{_rule_amount(event.rule, event.limit, 'limit')}</td>"
            f'<td class="detail" data-field="detail">{_e(_shown(event.detail))}</td></tr>\n'
        )
    out.append("</tbody>\n</table>\n</section>\n")
    return "".join(out)


def _job_link(name: str, anchors: Mapping[str, int]) -> str:
    """The job's name, linked to its section when it has one (a job whose only records lie
    beyond the checkpoint has none)."""
    index = anchors.get(name)
    return f'<a href="#job-{index}">{_e(name)}</a>' if index is not None else _e(name)


def _rule_attrs(rule: RuleEvent) -> str:
    return _attrs(rule=rule.rule, ok="true" if rule.ok else "false", seq=rule.seq)


def _rule_state(ok: bool, field: str = "rule-state") -> str:
    word, css = ("ok", "pass") if ok else ("VIOLATED", "fail")
    return f'<span class="{css}" data-field="{field}">{word}</span>'


def _rule_amount(rule: str, value: Any, field: str) -> str:
    """A rule's value or limit as recorded: a duration for the rules that measure time,
    else its words; the exact recorded JSON in data-value."""
    if value is None:
        return f'<span data-field="{field}">{DASH}</span>'
    if rule.split(":", 1)[0] in _SECONDS_RULES and _num(value) is not None:
        return _duration(value, field)
    exact = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return f'<span data-field="{field}" data-value="{_e(exact)}">{_e(_amount(value))}</span>'


def _amount(value: Any) -> str:
    """A mapping as 'min 1, media 2', a list as 'ML, FR' (or none), anything else as text."""
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {_amount(item)}" for key, item in value.items()) or DASH
    if isinstance(value, list | tuple):
        return ", ".join(_amount(item) for item in value) or "none"
    return _compact(value)


# -- runbook runs and drills ----------------------------------------------------------------


def _runbook_section(runs: list[Mapping[str, Any]]) -> str:
    """What operators did by runbook: one summary row per run, then each run's steps and the
    recovery time it achieved per job against that job's RTO."""
    out = [
        '<section id="runbook-runs">\n<h2>Runbook runs and drills</h2>\n',
        _runbook_counts(runs),
        _runbook_failures(runs),
        _runbook_table(runs),
    ]
    out.extend(_runbook_run(index, record) for index, record in enumerate(runs, 1))
    out.append("</section>\n")
    return "".join(out)


def _runbook_counts(runs: list[Mapping[str, Any]]) -> str:
    passed = sum(1 for r in runs if _result(r) == "pass")
    failed = sum(1 for r in runs if _result(r) == "fail")
    unknown = len(runs) - passed - failed
    drills = sum(1 for r in runs if r.get("drill") is True)
    out = [
        f'<p><span data-field="runbook-runs">{len(runs)}</span> runbook run(s) in the period, '
        f'<span data-field="drills">{drills}</span> of them recovery drill(s): '
        f'<span data-field="passed">{passed}</span> passed, '
        f'<span class="{_fail_css(failed)}" data-field="failed">{failed}</span> failed'
    ]
    if unknown:
        out.append(
            f', <span class="unknown" data-field="unknown">{unknown}</span> without a result'
        )
    out.append(".</p>\n")
    return "".join(out)


def _runbook_failures(runs: list[Mapping[str, Any]]) -> str:
    failed = [(i, r) for i, r in enumerate(runs, 1) if _result(r) != "pass"]
    if not failed:
        return '<p class="pass" data-field="no-runbook-failures">No runbook run failed.</p>\n'
    out = [
        '<div class="warning" data-field="runbook-failures">\n'
        f"<p><strong>{len(failed)} runbook run(s) did not pass:</strong></p>\n"
        '<ol class="failures">\n'
    ]
    for index, record in failed:
        out.append(
            f"<li{_attrs(seq=_int(record.get('seq')), result=_result(record))}>"
            f'{_verdict(record)} <a href="#runbook-{index}">{_runbook_name(record)}</a>, run '
            f"{_e(_text_or_dash(record.get('run')))}, status "
            f"{_e(_text_or_dash(record.get('status')))}\n{_runbook_reasons(record)}</li>\n"
        )
    out.append("</ol>\n</div>\n")
    return "".join(out)


def _runbook_table(runs: list[Mapping[str, Any]]) -> str:
    out = [
        '<table id="runbook-summary" class="runbooks">\n<thead><tr><th>Runbook</th>'
        '<th class="num">Run</th><th>Started</th><th>Run by</th><th>Approved by</th>'
        '<th class="num">Duration</th><th>Result</th><th>Drill</th></tr></thead>\n<tbody>\n'
    ]
    for index, record in enumerate(runs, 1):
        out.append(
            f"<tr{_runbook_attrs(record)}>"
            f'<td><a href="#runbook-{index}">{_runbook_name(record)}</a></td>'
            f'<td class="num" data-field="run">{_e(_text_or_dash(record.get("run")))}</td>'
            f"<td>{_time(_str(record.get('started_at')), 'started')}</td>"
            f'<td data-field="actor">{_e(_text_or_dash(record.get("actor")))}</td>'
            f'<td data-field="approved-by">{_e(_approvers(record))}</td>'
            f'<td class="num">{_duration(record.get("duration_s"), "duration")}</td>'
            f"<td>{_verdict(record)}{_unusual_status(record)}</td>"
            f'<td data-field="drill">{"yes" if record.get("drill") is True else "no"}</td>'
            "</tr>\n"
        )
    out.append("</tbody>\n</table>\n")
    return "".join(out)


def _runbook_run(index: int, record: Mapping[str, Any]) -> str:
    drill = ' <span class="verdict muted">DRILL</span>' if record.get("drill") is True else ""
    out = [
        f'<div class="runbook-run" id="runbook-{index}"{_runbook_attrs(record)}>\n',
        f"<h3>{_runbook_name(record)}, run {_e(_text_or_dash(record.get('run')))} "
        f"{_verdict(record)}{drill}</h3>\n",
    ]
    if _result(record) != "pass":
        out.append(
            '<div class="warning"><p>This run did not pass (status '
            f'<span data-field="status">{_e(_text_or_dash(record.get("status")))}</span>). '
            f"Reasons:</p>\n{_runbook_reasons(record)}</div>\n"
        )
    out.append(_runbook_facts(record))
    out.append(_steps([_map(s) for s in _list(record.get("steps"))]))
    out.append(_recovery([_map(r) for r in _list(record.get("recovery"))]))
    out.append("</div>\n")
    return "".join(out)


def _runbook_facts(record: Mapping[str, Any]) -> str:
    runbook = _map(record.get("runbook"))
    params = _map(record.get("params"))
    shown_params = ", ".join(
        f'{_e(k)} <code data-param="{_e(k)}">{_e(_text_or_dash(v))}</code>'
        for k, v in sorted(params.items())
    )
    out = [
        '<dl class="facts">\n',
        f'<dt>Status</dt><dd data-field="status">{_e(_text_or_dash(record.get("status")))}</dd>\n',
        f"<dt>Started</dt><dd>{_time(_str(record.get('started_at')), 'started')}</dd>\n",
        f"<dt>Finished</dt><dd>{_time(_str(record.get('finished_at')), 'finished')}</dd>\n",
        f"<dt>Duration</dt><dd>{_duration(record.get('duration_s'), 'duration')}</dd>\n",
        f'<dt>Run by</dt><dd><span data-field="actor">{_e(_text_or_dash(record.get("actor")))}'
        f'</span> on host <span data-field="host">{_e(_text_or_dash(record.get("host")))}'
        "</span></dd>\n",
        f"<dt>Approvals</dt><dd>{_approvals(record)}</dd>\n",
    ]
    if _str(record.get("job")):
        out.append(f'<dt>Job</dt><dd data-field="job">{_e(record.get("job"))}</dd>\n')
    out.append(f"<dt>Parameters</dt><dd>{shown_params or DASH}</dd>\n")
    out.append(
        f'<dt>Runbook</dt><dd><code data-field="runbook-name">'
        f"{_e(_text_or_dash(runbook.get('name')))}</code>, file sha256 "
        f"{_short(runbook.get('sha256'), 'runbook-sha256', 16)}</dd>\n"
    )
    out.append(
        f'<dt>Record</dt><dd>seq <span data-field="seq">{_e(_text_or_dash(record.get("seq")))}'
        f"</span>, hash {_short(record.get('hash'), 'hash', 16)}</dd>\n"
    )
    out.append(_versions(_map(record.get("versions"))))
    out.append("</dl>\n")
    return "".join(out)


def _approvals(record: Mapping[str, Any]) -> str:
    approvals = [_map(a) for a in _list(record.get("approvals"))]
    if not approvals:
        return f'<span data-field="approvals">{DASH}</span>'
    return "; ".join(
        f'<span class="approval" data-step="{_e(_text_or_dash(a.get("step")))}">'
        f'<span data-field="approved-by">{_e(_text_or_dash(a.get("by")))}</span>'
        + (f" ({_e(a.get('role'))})" if _str(a.get("role")) else "")
        + f" approved step {_e(_text_or_dash(a.get('step')))} at {_time(_str(a.get('at')), 'at')}"
        "</span>"
        for a in approvals
    )


def _steps(steps: list[Mapping[str, Any]]) -> str:
    out = ["<h4>Steps</h4>\n"]
    if not steps:
        out.append(
            '<p class="unknown" data-field="no-steps">No step ran: the run ended before its '
            "first step.</p>\n"
        )
        return "".join(out)
    out.append(
        '<table class="steps">\n<thead><tr><th>Step</th><th>Kind</th><th>Status</th>'
        '<th>Who</th><th class="num">Duration</th><th>Summary or error</th></tr></thead>\n'
        "<tbody>\n"
    )
    for step in steps:
        status = _str(step.get("status"))
        out.append(
            f'<tr class="step"{_attrs(step=_text_or_dash(step.get("name")), status=status)}>'
            f"<td>{_e(_text_or_dash(step.get('name')))}</td>"
            f'<td data-field="step-kind">{_e(_text_or_dash(step.get("kind")))}</td>'
            f'<td class="{_css_status(status)}" data-field="step-status">'
            f"{_e(status or DASH)}</td>"
            f'<td data-field="step-actor">{_e(_text_or_dash(step.get("actor")))}</td>'
            f'<td class="num">{_duration(step.get("duration_s"), "step-duration")}</td>'
            f'<td class="detail">{_step_detail(step)}</td></tr>\n'
        )
        checks = [_map(c) for c in _list(step.get("checks"))]
        if checks:
            out.append(
                f'<tr class="step-checks"><td colspan="6">{_check_table(checks)}</td></tr>\n'
            )
    out.append("</tbody>\n</table>\n")
    return "".join(out)


def _step_detail(step: Mapping[str, Any]) -> str:
    out = []
    if _str(step.get("summary")):
        out.append(f'<span data-field="step-summary">{_e(step.get("summary"))}</span>')
    if step.get("error") not in (None, ""):
        out.append(
            f'<span class="fail" data-field="step-error">{_e(_compact(step.get("error")))}</span>'
        )
    where = [
        f'{label} <span data-field="step-{field}">{_e(_compact(step.get(key)))}</span>'
        for label, field, key in (("job", "job", "job"), ("copy", "target", "target"))
        if step.get(key) not in (None, "")
    ]
    snapshot = _map(step.get("snapshot"))
    if snapshot:
        where.append(f"snapshot {_short(snapshot.get('id'), 'snapshot-id', SHORT_ID)}")
    attempts = _int(step.get("attempts"))
    if attempts is not None and attempts > 1:
        where.append(f'<span data-field="attempts">{attempts}</span> attempts')
    if where:
        out.append(f'<span class="small muted">{", ".join(where)}</span>')
    return "<br>".join(out) or DASH


def _recovery(rows: list[Mapping[str, Any]]) -> str:
    out = ["<h4>Recovery time per job</h4>\n"]
    if not rows:
        out.append('<p data-field="no-recovery">No job was restored in this run.</p>\n')
        return "".join(out)
    out.append(
        '<table class="recovery">\n<thead><tr><th>Job</th><th>Policy</th><th>Copy</th>'
        '<th>Snapshot</th><th class="num">Size</th><th class="num">Achieved restore</th>'
        '<th class="num">RTO target</th><th>Within RTO</th><th class="bar-cell">Scale</th>'
        "</tr></thead>\n<tbody>\n"
    )
    for row in rows:
        achieved, target = _num(row.get("restore_s")), _num(row.get("rto_s"))
        scale = max((v for v in (achieved, target) if v is not None), default=0.0)
        over = achieved is not None and target is not None and achieved > target
        out.append(
            f'<tr class="recovery-job"{_attrs(job=_str(row.get("job")))}>'
            f'<td data-field="job">{_e(_text_or_dash(row.get("job")))}</td>'
            f'<td data-field="policy">{_e(_text_or_dash(row.get("policy")))}</td>'
            f'<td data-field="target">{_e(_text_or_dash(row.get("target")))}</td>'
            f"<td>{_short(row.get('snapshot'), 'snapshot-id', SHORT_ID)}</td>"
            f'<td class="num">{_size(row.get("bytes"), "bytes")}</td>'
            f'<td class="num">{_duration(achieved, "restore")}</td>'
            f'<td class="num">{_duration(target, "rto-target")}</td>'
            f"<td>{_within_mark(row.get('within'), achieved, 'not measured')}</td>"
            f'<td class="bar-cell">{_bar(achieved, scale, "over" if over else "")}'
            f"{_bar(target, scale, 'target')}</td></tr>\n"
        )
    out.append("</tbody>\n</table>\n")
    return "".join(out)


def _runbook_name(record: Mapping[str, Any]) -> str:
    """Its title for people with its file name beside it; either alone when that is all the
    record has."""
    runbook = _map(record.get("runbook"))
    title, name = _str(runbook.get("title")), _str(runbook.get("name"))
    shown = f'<span data-field="runbook-title">{_e(title or name or DASH)}</span>'
    if title and name:
        shown += f' <code data-field="runbook-name">{_e(name)}</code>'
    return shown


def _runbook_attrs(record: Mapping[str, Any]) -> str:
    drill = record.get("drill")
    return _attrs(
        seq=_int(record.get("seq")),
        result=_result(record),
        status=_str(record.get("status")),
        drill="true" if drill is True else "false",
        runbook=_str(_map(record.get("runbook")).get("name")),
    )


def _runbook_reasons(record: Mapping[str, Any]) -> str:
    """The record's reasons, else its failed steps' errors: a failure is never shown bare."""
    reasons = [_compact(r) for r in _list(record.get("reasons"))] or [
        f"step {_compact(s.get('name'))}: {_compact(s.get('error'))}"
        for s in (_map(s) for s in _list(record.get("steps")))
        if s.get("status") == "FAILED"
    ]
    return _reason_list(reasons or ["no reason was recorded"])


def _unusual_status(record: Mapping[str, Any]) -> str:
    """A run's status beside its result when the result alone would hide it (CANCELED)."""
    status = _str(record.get("status"))
    if status is None or status in ("SUCCEEDED", "FAILED"):
        return ""
    return f' <span class="small muted" data-field="status">{_e(status.lower())}</span>'


def _approvers(record: Mapping[str, Any]) -> str:
    names = [_str(_map(a).get("by")) for a in _list(record.get("approvals"))]
    return ", ".join(dict.fromkeys(n for n in names if n)) or DASH


def _css_status(status: str | None) -> str:
    return {"SUCCEEDED": "pass", "FAILED": "fail"}.get(status or "", "unknown")


def _other_events(others: list[Mapping[str, Any]]) -> str:
    out = [
        '<section id="other-events">\n<h2>Other events</h2>\n',
        '<table class="events">\n<thead><tr><th class="num">Seq</th><th>At</th><th>Kind</th>'
        "<th>Job</th><th>Actor</th><th>Result</th><th>Details</th></tr></thead>\n<tbody>\n",
    ]
    for record in others:
        result = _str(record.get("result"))
        out.append(
            f"<tr{_attrs(seq=_int(record.get('seq')), kind=_str(record.get('kind')))}>"
            f'<td class="num">{_e(_text_or_dash(record.get("seq")))}</td>'
            f"<td>{_time(_str(record.get('at')), 'at')}</td>"
            f'<td data-field="kind">{_e(_text_or_dash(record.get("kind")))}</td>'
            f'<td data-field="job">{_e(_text_or_dash(record.get("job")))}</td>'
            f"<td>{_e(_text_or_dash(record.get('actor')))}</td>"
            f'<td class="{_css_result(result or "")}" data-field="result">'
            f"{_e(result.upper() if result else DASH)}</td>"
            f'<td class="detail">{_e(_details(record))}</td></tr>\n'
        )
    out.append("</tbody>\n</table>\n</section>\n")
    return "".join(out)


# -- pieces ---------------------------------------------------------------------------------


def format_seconds(seconds: float) -> str:
    """A duration for people: 0.42 s, 12.3 s, 4 min 05 s, 2 h 05 min, 4 h, 3 d 4 h."""
    if seconds < 9.995:
        return f"{seconds:.2f} s"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    total = round(seconds)
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min {rest:02d} s" if rest else f"{minutes} min"
    if total < 86400:
        hours, rest = divmod(total, 3600)
        return f"{hours} h {rest // 60:02d} min" if rest // 60 else f"{hours} h"
    days, rest = divmod(total, 86400)
    return f"{days} d {rest // 3600} h" if rest // 3600 else f"{days} d"


def _duration(value: Any, field: str) -> str:
    seconds = _num(value)
    if seconds is None:
        return f'<span data-field="{field}">{DASH}</span>'
    return (
        f'<span data-field="{field}" data-seconds="{_number_attr(seconds)}">'
        f"{_e(format_seconds(seconds))}</span>"
    )


def _bar(value: float | None, scale: float, css: str) -> str:
    if value is None or scale <= 0:
        return ""
    width = max(0.0, min(100.0, value / scale * 100))
    return f'<span class="bar {css}" style="width: {width:.1f}%"></span>'


def _within(rto: Mapping[str, Any]) -> str:
    return _within_mark(rto.get("within"), _num(rto.get("projected_s")), "not projected")


def _within_mark(within: Any, measured: float | None, unmeasured: str) -> str:
    """The record's own verdict on a time against its RTO: the report never recomputes it,
    and says so when there was no time to judge (unmeasured)."""
    flag = "true" if within is True else "false" if within is False else ""
    if measured is None:
        word, css = unmeasured, "unknown"
    elif within is True:
        word, css = "yes", "pass"
    elif within is False:
        word, css = "NO", "fail"
    else:
        word, css = "unknown", "unknown"
    return f'<span class="{css}" data-field="within" data-within="{flag}">{word}</span>'


def _verdict(record: Mapping[str, Any], field: str = "result") -> str:
    result = _result(record)
    word = result.upper() if result in ("pass", "fail") else "UNKNOWN"
    return (
        f'<span class="verdict {_css_result(result)}" data-field="{field}" '
        f'data-result="{_e(result)}">{word}</span>'
    )


def _copy(target: Mapping[str, Any]) -> str:
    return (
        f'<span data-field="target">{_e(_text_or_dash(target.get("name")))}</span> at site '
        f'<span data-field="site">{_e(_text_or_dash(target.get("site")))}</span>, '
        f'jurisdiction <span data-field="jurisdiction">'
        f"{_e(_text_or_dash(target.get('jurisdiction')))}</span>"
    )


def _snapshot(snapshot: Mapping[str, Any]) -> str:
    if not snapshot:
        return '<span data-field="snapshot-id">none: the test failed before choosing one</span>'
    out = [_short(snapshot.get("id"), "snapshot-id", SHORT_ID)]
    at = _str(snapshot.get("time"))
    if at:
        out.append(f", taken {_time(at, 'snapshot-time')}")
    if _int(snapshot.get("size")) is not None:
        out.append(f", {_size(snapshot.get('size'), 'snapshot-size')}")
    files = _int(snapshot.get("files"))
    if files is not None:
        out.append(f', <span data-field="snapshot-files">{files}</span> files')
    return "".join(out)


def _size(value: Any, field: str) -> str:
    size = _int(value)
    if size is None:
        return f'<span data-field="{field}">{DASH}</span>'
    return f'<span data-field="{field}" data-bytes="{size}">{_e(format_size(size))}</span>'


def _versions(versions: Mapping[str, Any]) -> str:
    if not versions:
        return ""
    shown = ", ".join(
        f'{_e(k)} <span data-field="version-{_e(k)}">{_e(_text_or_dash(v))}</span>'
        for k, v in sorted(versions.items())
    )
    return f"<dt>Versions</dt><dd>{shown}</dd>\n"


def _selection(selection: Mapping[str, Any]) -> str:
    parts = []
    index = _int(selection.get("rotation_index"))
    if index is not None:
        parts.append(
            "copy named by the operator"
            if index < 0
            else f'copy <span data-field="rotation-index" data-value="{index}">{index + 1}</span>'
            " in the job's rotation"
        )
    if "seed" in selection:
        seed = selection.get("seed")
        parts.append(
            f'random retained snapshot, seed <code data-field="seed">{_e(seed)}</code>'
            if seed is not None
            else "latest (or named) snapshot"
        )
    for key, value in sorted(selection.items()):
        if key not in ("rotation_index", "seed"):
            parts.append(f"{_e(key)} {_e(_compact(value))}")
    return "; ".join(parts) or DASH


def _reason_list(reasons: list[str]) -> str:
    items = "".join(f'<li class="reason">{_e(reason)}</li>\n' for reason in reasons)
    return f'<ul class="reasons">\n{items}</ul>\n'


def _short(value: Any, field: str, length: int) -> str:
    text = _str(value)
    if not text:
        return f'<span data-field="{field}">{DASH}</span>'
    return (
        f'<code data-field="{field}" data-value="{_e(text)}" title="{_e(text)}">'
        f"{_e(text[:length])}</code>"
    )


def _time(at: str | None, field: str) -> str:
    if not at:
        return f'<span data-field="{field}">{DASH}</span>'
    shown = at
    if len(at) >= 19 and at[10] == "T":
        shown = f"{at[:10]} {at[11:19]}" + (" UTC" if at.endswith("Z") else "")
    return f'<time data-field="{field}" datetime="{_e(at)}">{_e(shown)}</time>'


def _reasons(record: Mapping[str, Any]) -> list[str]:
    reasons = [_compact(r) for r in _list(record.get("reasons"))]
    if reasons:
        return reasons
    return [
        f"{_compact(c.get('name'))}: {_compact(c.get('detail'))}"
        for c in (_map(c) for c in _list(record.get("checks")))
        if c.get("passed") is False
    ]


def _details(record: Mapping[str, Any]) -> str:
    parts = [
        f"{key} {_compact(value)}"
        for key, value in sorted(record.items())
        if key not in _ENVELOPE and key != "result" and value not in (None, "", [], {})
    ]
    text = "; ".join(parts) or DASH
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _compact(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        if isinstance(value.get("name"), str | int):
            return str(value["name"])
        if isinstance(value.get("id"), str | int):  # a snapshot: its short id, as elsewhere
            return str(value["id"])[:SHORT_ID]
        return ", ".join(f"{k}={_compact(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(_compact(v) for v in value)
    return str(value)


# -- reading records defensively ------------------------------------------------------------


def _ordered(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """By seq (records without one keep their place after those with one)."""
    usable = [r for r in records if isinstance(r, Mapping)]
    return [
        r
        for _, r in sorted(
            enumerate(usable),
            key=lambda item: (
                _int(item[1].get("seq")) is None,
                _int(item[1].get("seq")) or 0,
                item[0],
            ),
        )
    ]


def _instant(at: str) -> datetime | None:
    """An evidence time (UTC, ending in Z, with or without a fraction) as a datetime."""
    try:
        value = datetime.fromisoformat(at[:-1] + "+00:00" if at.endswith("Z") else at)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _result(record: Mapping[str, Any]) -> str:
    result = record.get("result")
    return result if result in ("pass", "fail") else "unknown"


def _fail_css(count: int) -> str:
    return "fail" if count else ""


def _css_result(result: str) -> str:
    return {"pass": "pass", "fail": "fail"}.get(result, "unknown")


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _number_attr(value: float) -> str:
    """Exact: an integral value without a fraction, otherwise Python's shortest repr."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _shown(text: str | None) -> str:
    """A text for a cell: a dash when there is nothing to read in it (a detail of only
    whitespace, a carriage return, would show as an empty cell)."""
    return text if text and not text.isspace() else DASH


def _text_or_dash(value: Any) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        return value
    return _compact(value)


def _attrs(**values: Any) -> str:
    return "".join(
        f' data-{name}="{_e(value)}"' for name, value in values.items() if value is not None
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
