"""report.html from built records: escaping, missing fields, self-containment, the hooks."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drorch.evidence.report import format_seconds, render_report

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}
HOSTILE = '<script>alert("x")</script>'
CHECKPOINT = {
    "tree_size": 4,
    "root_hash": "ab" * 32,
    "at": "2026-11-23T06:00:01.000000Z",
    "key_id": "0123456789abcdef",
    "signature": "cd" * 64,
}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node] = []
        self.parts: list[str] = []

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())

    def all(self, **wanted: str) -> list[Node]:
        found = []
        for child in self.children:
            if all(child.attrs.get(k.replace("_", "-")) == v for k, v in wanted.items()):
                found.append(child)
            found.extend(child.all(**wanted))
        return found

    def first(self, tag: str, **wanted: str) -> Node:
        return next(n for n in self.all(**wanted) if n.tag == tag)

    def one(self, **wanted: str) -> Node:
        found = self.all(**wanted)
        assert len(found) == 1, (wanted, len(found))
        return found[0]


class Tree(HTMLParser):
    """A strict tree: every element closed by its own end tag (our output is that clean)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.feed(text)
        self.close()
        assert self.stack == [self.root], [n.tag for n in self.stack]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node.parts.append(data)


def restore_test(
    seq: int, job: str = "payroll", result: str = "pass", **extra: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "seq": seq,
        "id": f"00000000-0000-4000-8000-{seq:012d}",
        "kind": "restore-test",
        "at": f"2026-11-2{seq}T02:00:00.000000Z",
        "host": "backup1",
        "actor": "scheduler",
        "job": job,
        "policy": "standard",
        "run": 100 + seq,
        "target": {"name": "primary", "site": "dc1", "jurisdiction": "ML"},
        "snapshot": {
            "id": f"{seq:02d}" * 32,
            "time": "2026-11-20T23:00:00Z",
            "size": 52428800,
            "files": 120,
        },
        "selection": {"rotation_index": 0, "seed": None},
        "checks": [
            {"name": "restic", "passed": True, "detail": "restic restore --verify found no errors"},
            {"name": "canary", "passed": result == "pass", "detail": "canary detail"},
        ],
        "result": result,
        "reasons": [] if result == "pass" else ["canary: canary missing from the restore"],
        "durations_s": {"stage": 0.25, "restore": 12.345, "verify": 1.5},
        "throughput_bytes_per_s": 4247046,
        "rto": {"target_s": 14400, "projected_s": 12.595, "within": True},
        "versions": {"drorch": "0.1.0", "restic": "0.14.0"},
        "artifacts": {},
        "prev": "0" * 64,
        "hash": f"{seq:064x}",
        "signature": "ef" * 64,
        "key_id": "0123456789abcdef",
    }
    record.update(extra)
    return record


def render(records: list[dict[str, Any]], checkpoint: Any = CHECKPOINT) -> tuple[str, Node]:
    text = render_report(records, checkpoint)
    return text, Tree(text).root


def test_summary_counts_and_checkpoint() -> None:
    records = [
        restore_test(1),
        restore_test(2, result="fail"),
        {"seq": 3, "kind": "replication", "at": "2026-11-23T03:00:00Z", "job": "payroll"},
        restore_test(4, job="crm"),
    ]
    _, dom = render(records)
    summary = dom.one(id="summary")
    fields = {f: summary.all(data_field=f)[0].text() for f in ("jobs", "tests", "passed", "failed")}
    assert fields == {"jobs": "2", "tests": "3", "passed": "2", "failed": "1"}
    assert summary.one(data_field="other-events").text() == "1"
    assert summary.one(data_field="period-from").attrs["datetime"] == "2026-11-21T02:00:00.000000Z"
    assert summary.one(data_field="period-to").attrs["datetime"] == "2026-11-24T02:00:00.000000Z"
    assert summary.one(data_field="checkpoint-tree-size").text() == "4"
    assert summary.one(data_field="checkpoint-root-hash").text() == "ab" * 32
    assert summary.one(data_field="checkpoint-key-id").text() == "0123456789abcdef"
    assert summary.all(data_field="beyond-checkpoint") == []


def test_latest_test_is_the_highest_seq_whatever_the_order() -> None:
    records = [restore_test(3), restore_test(1, result="fail"), restore_test(2)]
    _, dom = render(records)
    section = dom.first("section", data_job="payroll")
    assert section.first("div", **{"class": "latest"}).attrs["data-seq"] == "3"
    history = section.first("table", **{"class": "history"}).all()
    seqs = [r.attrs["data-seq"] for r in history if r.tag == "tr" and "data-seq" in r.attrs]
    assert seqs == ["3", "2", "1"]  # newest first


def test_history_numbers_carry_exact_values() -> None:
    _, dom = render([restore_test(1)])
    row = dom.first("tr", data_seq="1")
    restore = row.one(data_field="restore")
    assert float(restore.attrs["data-seconds"] or "") == 12.345
    assert restore.text() == format_seconds(12.345) == "12.3 s"
    assert row.one(data_field="projected").attrs["data-seconds"] == "12.595"
    assert row.one(data_field="rto-target").attrs["data-seconds"] == "14400"
    assert row.one(data_field="rto-target").text() == "4 h"
    assert row.one(data_field="within").attrs["data-within"] == "true"
    assert row.one(data_field="snapshot-id").attrs["data-value"] == "01" * 32
    assert row.one(data_field="snapshot-id").text() == "01010101"
    size = dom.one(data_field="snapshot-size")
    assert size.attrs["data-bytes"] == "52428800"
    assert size.text() == "50.0 MiB"


def test_failure_lists_its_reasons_and_failed_checks() -> None:
    _, dom = render([restore_test(1, result="fail")])
    failure = dom.first("li", data_seq="1")
    assert [r.text() for r in failure.all(**{"class": "reason"})] == [
        "canary: canary missing from the restore"
    ]
    canary = dom.one(data_check="canary")
    assert canary.attrs["data-passed"] == "false"
    assert canary.one(data_field="check-result").text() == "FAIL"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, "0.00 s"),
        (0.421, "0.42 s"),
        (12.345, "12.3 s"),
        (59.9, "59.9 s"),
        (59.96, "1 min"),
        (245, "4 min 05 s"),
        (3599.6, "1 h"),
        (7500, "2 h 05 min"),
        (7529, "2 h 05 min"),
        (14400, "4 h"),
        (86400, "1 d"),
        (273600, "3 d 4 h"),
    ],
)
def test_format_seconds(seconds: float, shown: str) -> None:
    assert format_seconds(seconds) == shown


def test_hostile_text_is_escaped_everywhere() -> None:
    record = restore_test(
        1,
        job=HOSTILE,
        result="fail",
        policy=HOSTILE,
        actor=HOSTILE,
        target={"name": '"><img src=x onerror=alert(1)>', "site": HOSTILE, "jurisdiction": "&"},
        checks=[{"name": HOSTILE, "passed": False, "detail": "</td></tr></table>" + HOSTILE}],
        reasons=[HOSTILE],
        versions={HOSTILE: HOSTILE},
    )
    other = {"seq": 2, "kind": "policy-violation", "job": HOSTILE, "note": HOSTILE}
    text, dom = render([record, other], {**CHECKPOINT, "root_hash": HOSTILE})
    assert "<script" not in text.lower()
    assert "<img" not in text.lower()
    assert "&lt;script&gt;" in text
    assert dom.one(**{"class": "job"}).attrs["data-job"] == HOSTILE
    assert dom.one(data_check=HOSTILE).text().startswith(HOSTILE)
    assert dom.one(data_field="checkpoint-root-hash").text() == HOSTILE


def test_hostile_title_is_escaped() -> None:
    text = render_report([], None, title=HOSTILE)
    assert "<script" not in text
    assert Tree(text).root.one(id="title").text() == HOSTILE


def test_period_orders_times_not_strings() -> None:
    records = [
        {"seq": 1, "kind": "replication", "at": "2026-11-21T03:00:00Z"},
        {"seq": 2, "kind": "replication", "at": "2026-11-21T03:00:00.500000Z"},
        {"seq": 3, "kind": "replication", "at": "not a time"},
    ]
    _, dom = render(records)
    assert dom.one(data_field="period-from").attrs["datetime"] == "2026-11-21T03:00:00Z"
    assert dom.one(data_field="period-to").attrs["datetime"] == "2026-11-21T03:00:00.500000Z"


def test_output_is_self_contained() -> None:
    records = [restore_test(1), restore_test(2, result="fail"), {"seq": 3, "kind": "tape-out"}]
    text = render_report(records, CHECKPOINT).lower()
    for banned in ("http://", "https://", "<script", "src=", "<link", "url(", "@import", "<img"):
        assert banned not in text, banned
    assert text.startswith("<!doctype html>")
    assert "content-security-policy" in text
    assert "@media print" in text


def test_missing_and_malformed_fields_render_as_dashes() -> None:
    failed_early = {
        "seq": 1,
        "kind": "restore-test",
        "job": "payroll",
        "result": "fail",
        "target": {"name": "tape1", "site": None},
        "checks": [{"name": "restore", "passed": False, "detail": "target tape1 is offline"}],
        "reasons": ["restore: target tape1 is offline"],
        "durations_s": {},
        "throughput_bytes_per_s": None,
        "rto": {"target_s": 3600, "projected_s": None, "within": False},
    }
    odd = {
        "seq": "two",
        "kind": "restore-test",
        "job": "payroll",
        "target": "primary",
        "snapshot": ["x"],
        "checks": "none",
        "durations_s": {"restore": "fast"},
        "rto": None,
        "at": 17,
    }
    _, dom = render([failed_early, odd, {"kind": "restore-test"}], None)
    assert dom.one(data_field="checkpoint-missing")
    row = dom.first("tr", data_seq="1")
    assert row.one(data_field="snapshot-id").text() == "—"
    assert row.one(data_field="restore").text() == "—"
    assert "data-seconds" not in row.one(data_field="projected").attrs
    assert row.one(data_field="within").text() == "not projected"
    latest = dom.first("section", data_job="payroll").first("div", **{"class": "latest"})
    assert "data-seq" not in latest.attrs  # the record without a usable seq sorts last
    assert latest.attrs["data-result"] == "unknown"
    assert dom.first("section", data_job="(no job)")


def test_records_newer_than_the_checkpoint_are_flagged() -> None:
    _, dom = render([restore_test(1), restore_test(5)])
    assert "seq 5 onwards" in dom.one(data_field="beyond-checkpoint").text()


def test_no_records() -> None:
    _, dom = render([], None)
    assert dom.one(data_field="tests").text() == "0"
    assert dom.one(data_field="period").text() == "no records"


def test_other_events_are_listed() -> None:
    event = {
        "seq": 2,
        "kind": "replication",
        "at": "2026-11-22T03:00:00Z",
        "job": "payroll",
        "actor": "scheduler",
        "result": "pass",
        "target": {"name": "replica"},
        "bytes": 123,
    }
    _, dom = render([restore_test(1), event])
    row = dom.one(id="other-events").one(data_seq="2")
    assert row.attrs["data-kind"] == "replication"
    assert row.one(data_field="result").text() == "PASS"
    assert "target replica" in row.text()
    assert "bytes 123" in row.text()


def test_rendering_is_deterministic_and_leaves_records_alone() -> None:
    records = [restore_test(1), restore_test(2, result="fail")]
    before = copy.deepcopy(records)
    assert render_report(records, CHECKPOINT) == render_report(records, CHECKPOINT)
    assert records == before


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(job=TEXT, detail=TEXT, reason=TEXT, name=TEXT)
def test_any_text_stays_text(job: str, detail: str, reason: str, name: str) -> None:
    record = restore_test(
        1,
        job=job or "j",
        result="fail",
        checks=[{"name": name, "passed": False, "detail": detail}],
        reasons=[reason],
    )
    text, dom = render([record])  # Tree() asserts every element is closed in order
    tags = {m.lower() for m in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", text)}
    allowed = {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "header",
        "h1",
        "h2",
        "h3",
        "h4",
        "p",
        "section",
        "div",
        "span",
        "dl",
        "dt",
        "dd",
        "code",
        "time",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "a",
        "strong",
        "ul",
        "ol",
        "li",
        "footer",
    }
    assert tags <= allowed
    assert dom.one(**{"class": "job"}).attrs["data-job"] == (job or "j")
