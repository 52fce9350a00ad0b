"""The runbook section in a real browser: Debian's chromium, headless, parses report.html with
restore tests, runbook runs and another event; the section sits between the jobs and the other
events with the records' values, a hostile step stays text, and its recovery bars are painted
at the scale of the records (read back from the screenshot's pixels)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from drorch.evidence.report import format_seconds, render_report
from tests.e2e.test_report_browser import (
    CHECKPOINT,
    HOSTILE,
    RECORDS,
    TITLE,
    Dom,
    Node,
    png_size_and_pixels,
    run_chromium,
)
from tests.unit.evidence_report.test_runbook_section import runbook_run

OVER = (0xA3, 0x12, 0x1A)  # .bar.over: a restore that took longer than its RTO
TARGET = (0x99, 0x99, 0x99)  # .bar.target: the RTO


def runbooks() -> list[dict[str, Any]]:
    drill = runbook_run(7, drill=True)
    failed = runbook_run(8, result="fail", status="FAILED")
    failed["steps"][0]["summary"] = HOSTILE
    failed["recovery"].append(
        {
            "job": "registry",
            "policy": "standard",
            "target": "replica",
            "snapshot": "77" * 32,
            "bytes": 5 * 1024**3,
            "restore_s": 5400,
            "rto_s": 3600,
            "within": False,
        }
    )
    return [drill, failed]


RUNBOOKS = runbooks()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runbook-report")


@pytest.fixture(scope="module")
def dom(work: Path) -> Node:
    report = work / "report.html"
    records = copy.deepcopy(RECORDS) + RUNBOOKS
    report.write_text(render_report(records, CHECKPOINT, title=TITLE), encoding="utf-8")
    done = run_chromium(work, "--dump-dom", report.as_uri())
    assert "<html" in done.stdout, done.stdout[:500]
    return Dom(done.stdout).root


def test_the_section_sits_between_the_jobs_and_the_other_events(dom: Node) -> None:
    body = dom.one("body")
    order = [n.attrs.get("id") for n in body.children if n.tag == "section"]
    assert order == ["summary", "job-1", "job-2", "runbook-runs", "other-events"]
    assert dom.one("section", id="runbook-runs").one("h2").text() == "Runbook runs and drills"
    other = [r.attrs["data-kind"] for r in dom.one(id="other-events").find("tr") if r.attrs]
    assert other == ["replication"]
    summary = dom.one(id="summary")
    assert summary.one(data_field="runbook-runs").text() == "2"
    assert summary.one(data_field="drills").text() == "1"
    assert summary.one(data_field="runbooks-failed").text() == "1"


@pytest.mark.parametrize("record", RUNBOOKS, ids=lambda r: f"seq{r['seq']}")
def test_summary_row_matches_its_record(dom: Node, record: dict[str, Any]) -> None:
    table = dom.one("table", id="runbook-summary")
    row = table.one("tr", data_seq=str(record["seq"]))
    assert row.attrs["data-result"] == record["result"]
    assert row.attrs["data-drill"] == str(record["drill"]).lower()
    assert row.one(data_field="result").text() == record["result"].upper()
    assert row.one(data_field="runbook-title").text() == record["runbook"]["title"]
    assert row.one(data_field="run").text() == str(record["run"])
    assert row.one(data_field="started").attrs["datetime"] == record["started_at"]
    assert row.one(data_field="actor").text() == record["actor"]
    assert row.one(data_field="approved-by").text() == record["approvals"][0]["by"]
    duration = row.one(data_field="duration")
    assert float(duration.attrs["data-seconds"] or "nan") == record["duration_s"]
    assert duration.text() == format_seconds(record["duration_s"])


def test_failure_reasons_and_hostile_step_text_stay_text(dom: Node) -> None:
    assert dom.one("title").text() == TITLE  # not 'owned': the step summary did not run
    assert dom.find("script") == []
    box = dom.one(data_field="runbook-failures")
    assert [r.text() for r in box.find("li", **{"class": "reason"})] == RUNBOOKS[1]["reasons"]
    run = dom.one("div", **{"class": "runbook-run", "data-seq": "8"})
    restore = run.one("tr", data_step="restore")
    assert restore.one(data_field="step-summary").text() == HOSTILE
    rows = run.one("table", **{"class": "recovery"}).find("tr", **{"class": "recovery-job"})
    assert [(r.attrs["data-job"], r.one(data_field="within").text()) for r in rows] == [
        ("payroll", "yes"),
        ("registry", "NO"),
    ]


def pixel_rows(data: bytes) -> list[bytes]:
    """The RGB rows of chromium's screenshot (8-bit RGB, not interlaced), PNG filters undone."""
    width, height, raw = png_size_and_pixels(data)
    assert (data[24], data[25], data[28]) == (8, 2, 0), "expected 8-bit RGB, not interlaced"
    stride, rows, previous = width * 3, [], bytes(width * 3)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            left = line[x - 3] if x >= 3 else 0
            up, corner = previous[x], previous[x - 3] if x >= 3 else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (
                    line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 0xFF
        rows.append(bytes(line))
        previous = rows[-1]
    return rows


def longest_run(row: bytes, colour: tuple[int, int, int]) -> int:
    if bytes(colour) * 40 not in row:  # most rows: no bar here, found without a Python loop
        return 0
    best = run = 0
    for x in range(0, len(row), 3):
        run = run + 1 if tuple(row[x : x + 3]) == colour else 0
        best = max(best, run)
    return best


def solid_blocks(rows: list[bytes], colour: tuple[int, int, int]) -> list[tuple[int, int]]:
    """(height, width) of each stack of rows with a long run of colour: a bar, not a border."""
    blocks, height, width = [], 0, 0
    for row in [*rows, b""]:
        run = longest_run(row, colour)
        if run >= 40:
            height, width = height + 1, max(width, run)
            continue
        if height >= 5:
            blocks.append((height, width))
        height, width = 0, 0
    return blocks


def test_recovery_bars_are_painted_to_scale(work: Path) -> None:
    report = work / "runbooks-only.html"
    report.write_text(render_report(RUNBOOKS, CHECKPOINT, title=TITLE), encoding="utf-8")
    png = work / "runbooks-only.png"
    run_chromium(work, f"--screenshot={png}", "--window-size=1200,3200", report.as_uri())
    rows = pixel_rows(png.read_bytes())
    over = solid_blocks(rows, OVER)
    targets = solid_blocks(rows, TARGET)
    # one restore over its RTO (registry, 5400 s against 3600 s): a full-width red bar, and
    # three RTO bars: payroll's twice (a full bar beside a 150 s restore), registry's at 2/3
    assert len(over) == 1, over
    assert len(targets) == 3, targets
    (over_width,) = (width for _, width in over)
    widths = sorted(width for _, width in targets)
    assert widths[1:] == [over_width, over_width]
    assert widths[0] / over_width == pytest.approx(3600 / 5400, abs=0.02)
