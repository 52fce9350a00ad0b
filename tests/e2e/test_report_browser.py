"""report.html in a real browser: Debian's chromium, headless, renders it, and the verdicts,
counts and numbers in the rendered DOM are those of the records; it also prints to PDF."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from drorch.catalog import RunStatus, open_catalog
from drorch.config import load_config
from drorch.config.units import format_size
from drorch.evidence.bundle import export, verify
from drorch.evidence.log import EvidenceLog
from drorch.evidence.report import format_seconds, render_report
from drorch.keys import public_key_pem
from drorch.policy.watch import Watch
from tests.catalog_rows import run, snapshot
from tests.conftest import write_root
from tests.unit.policy.test_rules import DRORCH, JOB, NOW, POLICY, healthy

TITLE = "drorch evidence report: test bundle"
HOSTILE = "exit 1: <script>document.title='owned'</script>"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# What the evidence log assigns to a record, left out of the fields appended.
ENVELOPE = frozenset({"id", "kind", "at", "host", "prev", "hash", "signature", "key_id"})


def chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(
            "chromium is not installed, but `make test` should have installed it "
            "(as root: apt-get install chromium)"
        )
    pytest.skip("chromium is not installed (apt-get install chromium, or run `make test`)")


def run_chromium(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = work / f"profile-{len(list(work.glob('profile-*')))}"
    done = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(work)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


# -- the records ----------------------------------------------------------------------------

CHECKS_OK = [
    {"name": "restic", "passed": True, "detail": "restic restore --verify found no errors"},
    {"name": "canary", "passed": True, "detail": "canary sha256 5f1d6c2a9e0b7d43… matches"},
    {
        "name": "listing",
        "passed": True,
        "detail": "1204 files, 73400320 bytes restored; the snapshot lists 1204 files, "
        "73400320 bytes",
    },
]


def restore_test(
    seq: int, job: str, copy: str, *, result: str = "pass", **extra: Any
) -> dict[str, Any]:
    site = {"primary": "dc1", "replica": "dc2"}[copy]
    record: dict[str, Any] = {
        "seq": seq,
        "id": f"7c9e6679-7425-40de-944b-{seq:012d}",
        "kind": "restore-test",
        "at": f"2026-11-{10 + seq:02d}T02:00:0{seq}.250000Z",
        "host": "backup1.example.internal",
        "actor": "scheduler",
        "job": job,
        "policy": "critical" if job == "payroll" else "standard",
        "run": 40 + seq,
        "target": {"name": copy, "site": site, "jurisdiction": "ML"},
        "snapshot": {
            "id": f"{seq}e4a0c7b" * 8,
            "time": f"2026-11-{9 + seq:02d}T23:00:00Z",
            "size": 73400320 * seq,
            "files": 1204,
        },
        "selection": {"rotation_index": seq % 2, "seed": None},
        "checks": CHECKS_OK,
        "result": result,
        "reasons": [],
        "durations_s": {"stage": 0.125, "restore": 3.5 * seq, "verify": 1.75},
        "throughput_bytes_per_s": int(73400320 / 3.5),
        # projected: the whole snapshot at the measured throughput, plus staging
        "rto": {"target_s": 14400 if job == "payroll" else 86400, "projected_s": 3.5 * seq + 0.125},
        "versions": {"drorch": "0.1.0", "restic": "0.14.0"},
        "artifacts": {"stdout.log": "aa" * 32},
        "prev": "0" * 64,
        "hash": f"{seq:02x}" * 32,
        "signature": "5a" * 64,
        "key_id": "8d2f1b7c0e4a9f36",
    }
    record.update(extra)
    record["rto"]["within"] = (
        record["rto"]["projected_s"] is not None
        and record["rto"]["projected_s"] <= record["rto"]["target_s"]
    )
    return record


RECORDS: list[dict[str, Any]] = [
    restore_test(1, "payroll", "primary"),
    restore_test(2, "registry", "primary"),
    {
        "seq": 3,
        "id": "7c9e6679-7425-40de-944b-000000000003",
        "kind": "replication",
        "at": "2026-11-13T03:00:00.000000Z",
        "host": "backup1.example.internal",
        "actor": "scheduler",
        "job": "payroll",
        "result": "pass",
        "target": {"name": "replica", "site": "dc2", "jurisdiction": "ML"},
        "snapshot": {"id": "1e4a0c7b" * 8},
    },
    restore_test(
        4,
        "payroll",
        "replica",
        result="fail",
        checks=[
            CHECKS_OK[0],
            {
                "name": "canary",
                "passed": False,
                "detail": "canary missing from the restore: No such file or directory",
            },
            {"name": "command pg_verifybackup", "passed": False, "detail": HOSTILE},
        ],
        reasons=[
            "canary: canary missing from the restore: No such file or directory",
            f"command pg_verifybackup: {HOSTILE}",
        ],
        rto={"target_s": 14400, "projected_s": 20000.5},
    ),
    restore_test(
        5,
        "registry",
        "replica",
        result="fail",
        checks=[
            {
                "name": "restore",
                "passed": False,
                "detail": "scratch space too small at /var/lib/drorch/scratch: the snapshot "
                "needs 385.0 MiB and 120.0 MiB is free",
            }
        ],
        reasons=[
            "restore: scratch space too small at /var/lib/drorch/scratch: the snapshot needs "
            "385.0 MiB and 120.0 MiB is free"
        ],
        durations_s={},
        throughput_bytes_per_s=None,
        rto={"target_s": 86400, "projected_s": None},
    ),
    restore_test(
        6,
        "payroll",
        "primary",
        durations_s={"stage": 0.5, "restore": 1234.567},
        rto={"target_s": 14400, "projected_s": 1235.067},
    ),
]
for _r in RECORDS:
    if _r["seq"] == 5:
        del _r["snapshot"]  # failed before choosing a snapshot
CHECKPOINT = {
    "tree_size": 6,
    "root_hash": "3b" * 32,
    "at": "2026-11-16T02:00:07.000000Z",
    "key_id": "8d2f1b7c0e4a9f36",
    "signature": "6c" * 64,
}
TESTS = [r for r in RECORDS if r["kind"] == "restore-test"]


# -- a DOM from chromium's serialisation ----------------------------------------------------


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node] = []
        self.parts: list[str] = []

    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    def find(self, tag: str | None = None, **wanted: str) -> list[Node]:
        found = []
        for child in self.children:
            attrs_match = all(child.attrs.get(k.replace("_", "-")) == v for k, v in wanted.items())
            if attrs_match and tag in (None, child.tag):
                found.append(child)
            found.extend(child.find(tag, **wanted))
        return found

    def one(self, tag: str | None = None, **wanted: str) -> Node:
        found = self.find(tag, **wanted)
        assert len(found) == 1, (tag, wanted, len(found))
        return found[0]


class Dom(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr", "col", "source"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node.parts.append(data)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Node]:
    work = tmp_path_factory.mktemp("report")
    report = work / "report.html"
    report.write_text(render_report(RECORDS, CHECKPOINT, title=TITLE), encoding="utf-8")
    done = run_chromium(work, "--dump-dom", report.as_uri())
    assert "<html" in done.stdout, done.stdout[:500]
    return report, Dom(done.stdout).root


def seconds(node: Node) -> float:
    return float(node.attrs["data-seconds"] or "nan")


def assert_duration(node: Node, value: float | None) -> None:
    if value is None:
        assert "data-seconds" not in node.attrs
        assert node.text() == "—"
    else:
        assert seconds(node) == value
        assert node.text() == format_seconds(value)


# -- what a compliance officer reads --------------------------------------------------------


def test_it_renders_and_nothing_in_the_records_runs(rendered: tuple[Path, Node]) -> None:
    _, dom = rendered
    assert dom.one("title").text() == TITLE  # not 'owned': the hostile detail stayed text
    assert dom.find("script") == []
    assert dom.one("h1").text() == TITLE
    reasons = [n.text() for n in dom.find("li", **{"class": "reason"})]
    assert f"command pg_verifybackup: {HOSTILE}" in reasons


def test_summary_matches_the_records(rendered: tuple[Path, Node]) -> None:
    _, dom = rendered
    summary = dom.one(id="summary")
    passed = sum(1 for r in TESTS if r["result"] == "pass")
    failed = sum(1 for r in TESTS if r["result"] == "fail")
    cards = {
        f: summary.find(data_field=f)[0].text()
        for f in ("jobs", "tests", "passed", "failed", "other-events")
    }
    assert cards == {
        "jobs": "2",
        "tests": str(len(TESTS)),
        "passed": str(passed),
        "failed": str(failed),
        "other-events": "1",
    }
    assert (passed, failed) == (3, 2)
    assert summary.one(data_field="period-from").attrs["datetime"] == RECORDS[0]["at"]
    assert summary.one(data_field="period-to").attrs["datetime"] == RECORDS[-1]["at"]
    assert summary.one(data_field="period-from").text() == "2026-11-11 02:00:01 UTC"
    assert summary.one(data_field="checkpoint-tree-size").text() == "6"
    assert summary.one(data_field="checkpoint-root-hash").text() == CHECKPOINT["root_hash"]
    assert summary.one(data_field="checkpoint-key-id").text() == CHECKPOINT["key_id"]
    assert summary.one(data_field="checkpoint-at").attrs["datetime"] == CHECKPOINT["at"]
    rows = [r for r in summary.one(id="jobs").find("tr") if "data-job" in r.attrs]
    assert [r.attrs["data-job"] for r in rows] == ["payroll", "registry"]
    for row in rows:
        mine = [r for r in TESTS if r["job"] == row.attrs["data-job"]]
        assert row.one(data_field="tests").text() == str(len(mine))
        assert row.one(data_field="failed").text() == str(
            sum(1 for r in mine if r["result"] == "fail")
        )
        assert row.one(data_field="result").text() == mine[-1]["result"].upper()


@pytest.mark.parametrize("job", ["payroll", "registry"])
def test_latest_test_and_its_checks(rendered: tuple[Path, Node], job: str) -> None:
    _, dom = rendered
    section = dom.one("section", data_job=job)
    latest_record = [r for r in TESTS if r["job"] == job][-1]
    latest = section.one("div", **{"class": "latest"})
    assert latest.attrs["data-seq"] == str(latest_record["seq"])
    assert latest.one(data_field="result").text() == latest_record["result"].upper()
    target = latest_record["target"]
    assert latest.one(data_field="target").text() == target["name"]
    assert latest.one(data_field="site").text() == target["site"]
    assert latest.one(data_field="jurisdiction").text() == target["jurisdiction"]
    snapshot = latest_record.get("snapshot")
    shown = latest.one(data_field="snapshot-id")
    if snapshot:
        assert shown.attrs["data-value"] == snapshot["id"]
        assert shown.text() == snapshot["id"][:8]
        size = latest.one(data_field="snapshot-size")
        assert size.attrs["data-bytes"] == str(snapshot["size"])
        assert size.text() == format_size(snapshot["size"])
        assert latest.one(data_field="snapshot-time").attrs["datetime"] == snapshot["time"]
    else:
        assert "failed before choosing" in shown.text()
    checks = latest.find("tr", **{"class": "check"})
    assert [(c.attrs["data-check"], c.attrs["data-passed"]) for c in checks] == [
        (c["name"], "true" if c["passed"] else "false") for c in latest_record["checks"]
    ]
    for row, check in zip(checks, latest_record["checks"], strict=True):
        assert row.one(data_field="check-result").text() == ("PASS" if check["passed"] else "FAIL")
        assert row.one("td", **{"class": "detail"}).text() == check["detail"]
    rto = latest.one("table", **{"class": "rto"})
    assert_duration(rto.one(data_field="restore"), latest_record["durations_s"].get("restore"))
    assert_duration(rto.one(data_field="projected"), latest_record["rto"]["projected_s"])
    assert_duration(rto.one(data_field="rto-target"), latest_record["rto"]["target_s"])


@pytest.mark.parametrize("record", TESTS, ids=lambda r: f"seq{r['seq']}")
def test_history_row_matches_its_record(
    rendered: tuple[Path, Node], record: dict[str, Any]
) -> None:
    _, dom = rendered
    section = dom.one("section", data_job=record["job"])
    row = section.one("table", **{"class": "history"}).one("tr", data_seq=str(record["seq"]))
    assert row.attrs["data-result"] == record["result"]
    assert row.one(data_field="result").text() == record["result"].upper()
    assert row.one(data_field="at").attrs["datetime"] == record["at"]
    assert row.one(data_field="target").text() == record["target"]["name"]
    snapshot = row.one(data_field="snapshot-id")
    if "snapshot" in record:
        assert snapshot.attrs["data-value"] == record["snapshot"]["id"]
    else:
        assert snapshot.text() == "—"
    assert_duration(row.one(data_field="restore"), record["durations_s"].get("restore"))
    assert_duration(row.one(data_field="projected"), record["rto"]["projected_s"])
    assert_duration(row.one(data_field="rto-target"), record["rto"]["target_s"])
    within = row.one(data_field="within")
    assert within.attrs["data-within"] == str(record["rto"]["within"]).lower()
    if record["rto"]["projected_s"] is None:
        assert within.text() == "not projected"
    else:
        assert within.text() == ("yes" if record["rto"]["within"] else "NO")


def test_history_is_newest_first_and_complete(rendered: tuple[Path, Node]) -> None:
    _, dom = rendered
    for job in ("payroll", "registry"):
        table = dom.one("section", data_job=job).one("table", **{"class": "history"})
        seqs = [int(r.attrs["data-seq"] or 0) for r in table.find("tr") if "data-seq" in r.attrs]
        assert seqs == sorted((r["seq"] for r in TESTS if r["job"] == job), reverse=True)


def test_failures_show_their_reasons(rendered: tuple[Path, Node]) -> None:
    _, dom = rendered
    shown = {}
    for section in dom.find("section", **{"class": "job"}):
        for item in section.one("ol", **{"class": "failures"}).find("li", data_result="fail"):
            shown[int(item.attrs["data-seq"] or 0)] = [
                r.text() for r in item.find("li", **{"class": "reason"})
            ]
    assert shown == {r["seq"]: r["reasons"] for r in TESTS if r["result"] == "fail"}
    assert len(shown[4]) == 2


def test_other_events_are_listed(rendered: tuple[Path, Node]) -> None:
    _, dom = rendered
    rows = [r for r in dom.one(id="other-events").find("tr") if "data-seq" in r.attrs]
    assert [(r.attrs["data-seq"], r.attrs["data-kind"]) for r in rows] == [("3", "replication")]
    assert rows[0].one(data_field="job").text() == "payroll"


# -- a real bundle whose job violates a rule ------------------------------------------------


class Clock:
    """The evidence log's clock, set to the watch's `now` (then a second per reading)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(scope="module")
def violated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Node, list[dict[str, Any]]]:
    """A real catalog, key and compliance watch: job app's restore tests pass, yet its
    replica's RPO is violated at the checkpoint. A hostile transition for crm is appended
    (signed like any other) to show that rule names and details stay text. The bundle is
    exported, verified offline, and its report.html rendered by chromium."""
    work = tmp_path_factory.mktemp("violated")
    root = write_root(work / "root", drorch=DRORCH, jobs={"app": JOB}, policies={"strict": POLICY})
    config = load_config(root)
    catalog = open_catalog(None, config.state_dir)
    clock = Clock(NOW)
    evidence = EvidenceLog(catalog, config.settings.evidence_key, clock=clock)
    watch = Watch(catalog, evidence, lambda: None)
    healthy(catalog)
    watch.run(config, NOW)  # every rule ok: nothing to record
    evidence.append("restore-test", bundle_test("app"))
    stale = clock.now = NOW + timedelta(hours=2)  # both copies older than the 1 h RPO
    watch.run(config, stale)
    later = clock.now = stale + timedelta(minutes=5)
    run(catalog, "snapshot", RunStatus.SUCCEEDED, later)
    snapshot(catalog, "primary", "c" * 64, later)  # primary is fresh again, the replica not
    watch.run(config, later)
    evidence.append("restore-test", bundle_test("app"))  # the latest test passes
    evidence.append("restore-test", bundle_test("crm"))
    evidence.append(
        "policy-violation",
        {
            "job": "crm",
            "rule": HOSTILE,
            "ok": False,
            "value": HOSTILE,
            "limit": 1,
            "detail": HOSTILE,
        },
    )
    bundle = export(catalog, work / "bundle", key_path=config.settings.evidence_key)
    public = work / "public.pem"
    public.write_text(public_key_pem(config.settings), encoding="utf-8")
    assert verify(bundle, public).ok
    records = [json.loads(line) for line in (bundle / "records.jsonl").read_text().splitlines()]
    done = run_chromium(work, "--dump-dom", (bundle / "report.html").as_uri())
    return Dom(done.stdout).root, records


def bundle_test(job: str) -> dict[str, Any]:
    record = restore_test(1, job, "primary")
    return {k: v for k, v in record.items() if k not in ENVELOPE and k != "seq"}


def in_order(section: Node, *wanted: dict[str, str]) -> list[int]:
    """Where each wanted node stands in the section's document order."""
    nodes = section.find()
    return [
        next(i for i, n in enumerate(nodes) if all(n.attrs.get(k) == v for k, v in w.items()))
        for w in wanted
    ]


def test_a_violated_rule_is_at_the_top_of_its_job(
    violated: tuple[Node, list[dict[str, Any]]],
) -> None:
    dom, records = violated
    kinds = [(r["seq"], r["kind"], r.get("rule")) for r in records]
    assert kinds[:5] == [
        (1, "restore-test", None),
        (2, "policy-violation", "rpo:primary"),
        (3, "policy-violation", "rpo:replica"),
        (4, "policy-restored", "rpo:primary"),
        (5, "restore-test", None),
    ]
    app = dom.one("section", data_job="app")
    assert app.attrs["data-status"] == "violated"
    badge = app.one("h2").one(data_field="job-status")
    assert badge.text() == "VIOLATED"
    assert app.one("div", **{"class": "latest"}).one(data_field="result").text() == "PASS"
    rows = app.find("tr", **{"class": "rule"})
    first = rows[0]
    assert (first.attrs["data-rule"], first.attrs["data-ok"], first.attrs["data-seq"]) == (
        "rpo:replica",
        "false",
        "3",
    )
    assert first.one(data_field="rule-state").text() == "VIOLATED"
    assert first.one(data_field="since").attrs["datetime"] == records[2]["at"]
    assert first.one(data_field="value").attrs["data-seconds"] == str(records[2]["value"])
    assert first.one(data_field="value").text() == "2 h 20 min"  # newest snapshot 20 min old at NOW
    assert first.one(data_field="limit").text() == "1 h"
    assert first.one(data_field="detail").text() == records[2]["detail"]
    assert [(r.attrs["data-rule"], r.attrs["data-ok"]) for r in rows[1:]] == [
        ("rpo:primary", "true")
    ]
    # the rules come before anything about restore tests in the job's section
    rules_at, latest_at = in_order(app, {"class": "compliance"}, {"class": "latest"})
    assert rules_at < latest_at
    assert in_order(app, {"class": "rules"})[0] < min(
        i for i, n in enumerate(app.find()) if n.tag == "table" and n.attrs.get("class") != "rules"
    )


def test_the_summary_leads_with_the_violations(
    violated: tuple[Node, list[dict[str, Any]]],
) -> None:
    dom, _ = violated
    summary = dom.one(id="summary")
    assert summary.one(data_field="rules-violated").text() == "2"
    assert summary.one(data_field="jobs-violated").text() == "2"
    items = summary.one(id="violations").find("li", **{"class": "violation"})
    assert [(i.attrs["data-job"], i.attrs["data-rule"]) for i in items] == [
        ("app", "rpo:replica"),
        ("crm", HOSTILE),
    ]
    assert "app: rpo:replica violated since" in items[0].text()
    jobs = {
        r.attrs["data-job"]: r for r in summary.one(id="jobs").find("tr") if "data-job" in r.attrs
    }
    assert jobs["app"].one(data_field="job-status").text() == "VIOLATED"
    assert jobs["app"].one(data_field="result").text() == "PASS"
    assert jobs["app"].one(data_field="job-rules-violated").text() == "1 of 2 rules violated"


def test_transitions_read_as_rows_and_hostile_text_stays_text(
    violated: tuple[Node, list[dict[str, Any]]],
) -> None:
    dom, records = violated
    assert dom.one("title").text() == "drorch evidence report"  # the hostile detail did not run
    assert dom.find("script") == []
    rows = dom.one(id="policy-events").find("tr", **{"class": "transition"})
    policy = [r for r in records if r["kind"].startswith("policy-")]
    assert [r.attrs["data-seq"] for r in rows] == [str(r["seq"]) for r in reversed(policy)]
    hostile = rows[0]
    assert hostile.one(data_field="rule").text() == HOSTILE
    assert hostile.one(data_field="detail").text() == HOSTILE
    assert hostile.one(data_field="value").text() == HOSTILE
    restored = next(r for r in rows if r.attrs["data-ok"] == "true")
    assert restored.one(data_field="rule").text() == "rpo:primary"
    assert f"{restored.one(data_field='from').text()} → {restored.one(data_field='to').text()}" == (
        "VIOLATED → ok"
    )
    assert restored.one(data_field="value").text() == "0.00 s"


# -- on screen and on paper -----------------------------------------------------------------


def png_size_and_pixels(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_screenshot_is_a_real_page(rendered: tuple[Path, Node], tmp_path: Path) -> None:
    report, _ = rendered
    png = tmp_path / "report.png"
    run_chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,2000", report.as_uri())
    data = png.read_bytes()
    width, height, pixels = png_size_and_pixels(data)
    assert (width, height) == (1200, 2000)
    assert len(data) > 20_000  # text, tables and colour; a blank page compresses to ~10 KB
    assert len(set(pixels)) > 50


def test_prints_to_pdf(rendered: tuple[Path, Node], tmp_path: Path) -> None:
    report, _ = rendered
    pdf = tmp_path / "report.pdf"
    run_chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", report.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    assert pages >= 3  # the summary, then each job from a new page
