"""drorch's compliance benchmark (part of `make bench`): 2,000 jobs over 1,000,000 runs.

Targets (issues 6 and 14): compliance evaluation of 2,000 jobs over 1,000,000 runs takes
<= 2 s with the catalog file out of the page cache; `drorch status` on that catalog (the
CLI, as a process) takes <= 1 s.

What it does:
1. Writes a config root in a temp folder: two disk targets (primary at dc1, replica at
   dc2, both ML), one policy (RPO 4h, RTO 4h, a restore test every day, 2 copies of which
   1 offsite) and N jobs (2,000). Job i works at minute i % 60: a snapshot every hour, a
   replication to the replica every odd hour, a restore test at 02:xx, a prune at 03:xx, a
   check at 04:xx. It is read back with drorch.config.load_config, as drorch reads it.
2. Creates the catalog (SQLite, WAL, synchronous=FULL) as drorch's migrations build it,
   0001 to head, the way a catalog holding a million runs has come to be, and fills it
   with the history of those schedules up to now, oldest first, until it holds R runs
   (1,000,000): about 13 days. Rows are written with sqlite3.executemany in one
   transaction, with drorch's indexes in place, in drorch's column formats (naive UTC
   'YYYY-MM-DD HH:MM:SS.ffffff', JSON text, status names); the fill connection alone runs
   with synchronous=OFF. Snapshot rows are those retention keeps (hourly for 48 h, then
   one a day), on the primary and, once replicated, on the replica. Restore tests carry
   their evidence record with the projected restore time. Some jobs are in trouble on
   purpose (by job number: failing snapshots, a replica down for two days, an interrupted
   restore test, a restore too slow for the RTO, a failed check, a few jobs that never
   ran), and 1 % of older runs failed and were followed by a success: the sanity check
   expects exactly those jobs, and no other, to be violated.
3. Times drorch.policy.evaluate(config, catalog, now) in this process: the first call on
   a new Catalog (the page cache holding the file), the median of further calls, the
   same for one job (jobs=[name]), and the first call after the catalog file was dropped
   from the page cache (posix_fadvise; fincore tells whether it was). It then times each
   SQL statement evaluate issued again with sqlite3, with SQLite's query plan, and
   `drorch compliance --json` as an operator runs it. The verdict is the first call with
   the file out of the page cache (what issue 14 measures); the others are breakdown.
   Then `drorch --config ROOT status` as an operator runs it: the median of several runs
   with the page cache warm (the verdict), and one with the catalog file dropped from it.
4. With --experiment, times evaluate again with changes drorch does not make, each made
   by hand in the bench's catalog and undone after: the runs indexes in the other order
   (open_catalog's create_all puts a new catalog's indexes in a different order in each
   process; the figures must not depend on it) and ANALYZE (statistics for SQLite's
   query planner, which drorch does not gather).

Usage: .venv/bin/python bench/compliance.py [--jobs N] [--runs N] [--calls N] [--profile]
       [--status-runs N] [--experiment] [--keep] [--reuse DIR] [--write-results]
Only the standard library and psutil; drorch is imported, as the evaluation is what is
measured, and also run as a subprocess for the end-to-end figure.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from daemon import filesystem
from run import (
    DRORCH,
    base_env,
    drorch_env,
    machine,
    median,
    section_name,
    standalone_main,
    verdict,
    write_results,
)

TARGET_S = 2.0  # compliance, the catalog out of the page cache
STATUS_TARGET_S = 1.0  # `drorch status`, a process, the page cache warm
PART = "compliance"
SEED = 20261128
HOUR = timedelta(hours=1)
LEAD = timedelta(minutes=6)  # `now` is this long after the last hour of history

DRORCH_YAML = """\
site: dc1
jurisdiction: ML
state_dir: state
evidence_key: keys/evidence.ed25519
targets:
  primary: {kind: disk, path: repos/primary, password_file: keys/primary.pass,
            site: dc1, jurisdiction: ML}
  replica: {kind: disk, path: repos/replica, password_file: keys/replica.pass,
            site: dc2, jurisdiction: ML}
"""

POLICY_YAML = """\
rpo: 4h
rto: 4h
restore_test_every: 1d
retention: {hourly: 48, daily: 14}
copies: {min: 2, media: 1, offsite: 1}
residency: [ML]
"""

SNAPSHOT, REPLICATE, RESTORE_TEST, PRUNE, CHECK = (
    "snapshot",
    "replicate:replica",
    "restore-test",
    "prune",
    "check",
)


def job_yaml(minute: int) -> str:
    return (
        f"policy: standard\nsource: {{paths: [/srv/data]}}\n"
        f'snapshot: {{target: primary, schedule: "{minute} * * * *"}}\n'
        f'replicate: [{{to: replica, schedule: "{minute} 1-23/2 * * *"}}]\n'
        f'restore_test: {{schedule: "{minute} 2 * * *", from: [primary]}}\n'
        f'prune: {{schedule: "{minute} 3 * * *"}}\n'
        f'check: {{schedule: "{minute} 4 * * *"}}\n'
    )


FAILURES = {
    SNAPSHOT: "restic backup failed (exit 1): unable to save snapshot: no space left on device",
    REPLICATE: "target replica is offline: dial tcp 10.2.0.7:22: connect: no route to host",
    CHECK: "restic check failed (exit 1): Fatal: repository contains errors",
    RESTORE_TEST: "restic-verify: restored content differs: pack 1a2b3c damaged",
}


def actions_due(hour_of_day: int) -> tuple[str, ...]:
    """What every job runs in an hour of the day, in the order it starts them."""
    extra = {2: (RESTORE_TEST,), 3: (PRUNE,), 4: (CHECK,)}.get(hour_of_day, ())
    return (SNAPSHOT, *((REPLICATE,) if hour_of_day % 2 else ()), *extra)


# --- the jobs' fates --------------------------------------------------------------------------

OK = "ok"
OK_RUNNING = "ok, a snapshot running now"
NEVER_RAN = "never ran (a new job)"
SNAPSHOTS_FAILING = "its last 6 snapshots failed"
REPLICA_DOWN = "replications failing for 2 days"
TEST_INTERRUPTED = "its last restore test interrupted"
SLOW_RESTORE = "restore tests project 6-8 h (RTO 4 h)"
CHECK_FAILED = "its last check failed"
TROUBLE = {
    7: SNAPSHOTS_FAILING,
    17: REPLICA_DOWN,
    27: TEST_INTERRUPTED,
    37: SLOW_RESTORE,
    47: CHECK_FAILED,
}
HEALTHY = (OK, OK_RUNNING)


def fate(number: int) -> str:
    if number % 250 == 249:
        return NEVER_RAN
    if number % 50 in TROUBLE:
        return TROUBLE[number % 50]
    return OK_RUNNING if number % 100 == 3 else OK


@dataclass(frozen=True)
class Layout:
    jobs: int
    runs: int

    def name(self, number: int) -> str:
        return f"j{number:05d}"

    def active(self) -> list[int]:
        return [n for n in range(self.jobs) if fate(n) != NEVER_RAN]


@dataclass(frozen=True)
class Timeline:
    """`hours` hours of history ending `LEAD` before `now`; the first `skip` runs are cut
    so that exactly `runs` remain."""

    now: datetime  # aware UTC, what evaluate is given
    first: datetime  # naive UTC, the start of the oldest hour
    hours: int
    skip: int

    @property
    def end(self) -> datetime:
        return self.first + self.hours * HOUR

    @classmethod
    def ending_now(cls, layout: Layout) -> Timeline:
        # An hour of the clock before now, so that `drorch compliance` (which evaluates at
        # the real clock) sees nearly the same; not 02:00, when the restore tests are due.
        end = (datetime.now(UTC) - LEAD).replace(minute=0, second=0, microsecond=0)
        if end.hour == 2:
            end -= HOUR
        active = len(layout.active())
        if active == 0:
            sys.exit("bench: no job would ever run: raise --jobs")
        total, hours = 0, 0
        while total < layout.runs:
            hours += 1
            total += active * len(actions_due((end - hours * HOUR).hour))
        naive = end.replace(tzinfo=None)
        return cls(end + LEAD, naive - hours * HOUR, hours, total - layout.runs)


# --- the catalog's rows -----------------------------------------------------------------------

RUN_COLUMNS = (
    "id, job, action, target, status, created_at, started_at, finished_at, host, pid, actor, "
    "bytes_processed, bytes_added, files, snapshot_id, error, artifacts, details"
)
SNAPSHOT_COLUMNS = (
    "job, target, snapshot_id, time, tree, hostname, paths, tags, size, files, original_id, "
    "run_id, canary_path, canary_sha256, recorded_at"
)


def _t(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DateTime text, for drorch's naive UTC columns."""
    return None if value is None else value.isoformat(sep=" ", timespec="microseconds")


def _id(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


@dataclass
class JobState:
    latest: tuple[str, datetime] | None = None  # newest snapshot on the primary
    pending: list[tuple[str, datetime, bool]] = field(default_factory=list)  # not on replica


@dataclass
class History:
    """The runs of the timeline as rows, oldest first; snapshot rows gather on the side."""

    layout: Layout
    timeline: Timeline
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))  # noqa: S311
    snapshots: list[tuple[Any, ...]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    next_id: int = 1
    next_seq: int = 1

    def runs(self) -> Iterator[tuple[Any, ...]]:
        by_minute: dict[int, list[int]] = {}
        for number in self.layout.active():
            by_minute.setdefault(number % 60, []).append(number)
        states = {number: JobState() for number in self.layout.active()}
        skip = self.timeline.skip
        for hour in range(self.timeline.hours):
            start = self.timeline.first + hour * HOUR
            due = actions_due(start.hour)
            for minute in sorted(by_minute):
                slot = start + timedelta(minutes=minute)
                for number in by_minute[minute]:
                    for action in due:
                        if skip:
                            skip -= 1
                            continue
                        yield self.run(number, states[number], action, slot)

    def run(self, number: int, state: JobState, action: str, slot: datetime) -> tuple[Any, ...]:
        rng, end = self.rng, self.timeline.end
        run_id, job, trouble = self.next_id, self.layout.name(number), fate(number)
        self.next_id += 1
        started = slot + timedelta(seconds=rng.uniform(0.02, 0.5))
        seconds = {SNAPSHOT: (20, 240), REPLICATE: (10, 120), RESTORE_TEST: (60, 300)}
        duration = rng.uniform(*seconds.get(action, (30, 300)))
        finished: datetime | None = started + timedelta(seconds=duration)
        status, error, details = "SUCCEEDED", None, None
        target, snapshot_id = "replica" if action == REPLICATE else "primary", None
        processed = added = files = None
        old = slot < end - timedelta(days=3)
        if old and action in (SNAPSHOT, REPLICATE, PRUNE, RESTORE_TEST) and rng.random() < 0.01:
            status = "INTERRUPTED" if rng.random() < 0.2 else "FAILED"
        if (
            (trouble == SNAPSHOTS_FAILING and action == SNAPSHOT and slot >= end - 6 * HOUR)
            or (trouble == REPLICA_DOWN and action == REPLICATE and slot >= end - 48 * HOUR)
            or (trouble == CHECK_FAILED and action == CHECK and slot >= end - 24 * HOUR)
        ):
            status = "FAILED"
        if trouble == TEST_INTERRUPTED and action == RESTORE_TEST and slot >= end - 24 * HOUR:
            status = "INTERRUPTED"
        if trouble == OK_RUNNING and action == SNAPSHOT and slot >= end - HOUR:
            status, finished = "RUNNING", None
        if status == "INTERRUPTED":
            error = "interrupted: the daemon stopped (SIGTERM) while the run went on"
        elif status == "FAILED":
            error = FAILURES.get(action, f"restic {action} failed (exit 1): repository is locked")
        if action == RESTORE_TEST and status in ("SUCCEEDED", "FAILED"):
            if state.latest is None:
                status, error = "FAILED", "no snapshot of the job on primary to test"
            else:
                snapshot_id = state.latest[0]
                details = self.restore_test(job, state.latest, status == "SUCCEEDED")
        elif status != "SUCCEEDED":
            pass
        elif action == SNAPSHOT:
            snapshot_id = _id(job, "primary", slot)
            processed, files = 40_000_000_000 + number * 1_000_003, 250_000 + number
            added = rng.randint(1_000_000, 900_000_000)
            details = {
                "summary": f"snapshot {snapshot_id[:8]} of {job} on primary: {files} files, "
                f"{added / 1e6:.1f} MB added",
                "files_new": rng.randint(0, 500),
                "files_changed": rng.randint(0, 3000),
                "files_unmodified": files - 3500,
                "restic_duration_s": round(duration - 1.5, 3),
            }
            kept = slot >= end - 48 * HOUR or slot.hour == 0
            state.latest = (snapshot_id, started)
            state.pending.append((snapshot_id, started, kept))
            if kept:
                self.snapshot_row(job, "primary", snapshot_id, started, run_id, finished, None)
        elif action == REPLICATE:
            copied = [sid for sid, _, _ in state.pending]
            for original, at, kept in state.pending:
                if kept:
                    copy = _id(original, "replica")
                    self.snapshot_row(job, "replica", copy, at, run_id, finished, original)
            state.pending.clear()
            details = {
                "summary": f"copied {len(copied)} new snapshot(s) to replica (dc2, ML)",
                "to": "replica",
                "site": "dc2",
                "jurisdiction": "ML",
                "from": "primary",
                "copied": [sid[:8] for sid in copied],
                "verified_read_subset": None,
                "evidence_seq": self.seq(),
            }
        elif action == PRUNE:
            removed = [
                f"{(number * 7919 + slot.day * 104729 + k) & 0xFFFFFFFF:08x}" for k in range(23)
            ]
            details = {
                "summary": f"forgot {len(removed)} of 82 snapshots, pruned",
                "removed": removed,
                "kept": 59,
                "retention": {"hourly": 48, "daily": 14},
                "dry_run": False,
            }
        elif action == CHECK:
            details = {"summary": "no errors in primary", "read_data_subset": None}
        self.statuses[status] += 1
        self.actions[action] += 1
        return (
            run_id,
            job,
            action,
            target,
            status,
            _t(slot),
            _t(started),
            _t(finished),
            "backup1",
            rng.randint(1000, 400_000),
            "scheduler",
            processed,
            added,
            files,
            snapshot_id,
            error,
            f"/var/lib/drorch/state/runs/{run_id}",
            None if details is None else json.dumps(details),
        )

    def seq(self) -> int:
        self.next_seq += 1
        return self.next_seq - 1

    def restore_test(self, job: str, tested: tuple[str, datetime], passed: bool) -> dict[str, Any]:
        """The details of a restore-test run: drorch keeps its evidence record in them."""
        slow = fate(int(job[1:])) == SLOW_RESTORE
        projected = self.rng.uniform(21_600, 28_800) if slow else self.rng.uniform(600, 7200)
        evidence = {
            "actor": "scheduler",
            "job": job,
            "policy": "standard",
            "target": {"name": "primary", "site": "dc1", "jurisdiction": "ML"},
            "snapshot": {"id": tested[0], "time": tested[1].strftime("%Y-%m-%dT%H:%M:%SZ")},
            "checks": [
                {"name": "restic-verify", "passed": passed, "detail": "restored content verified"},
                {"name": "canary", "passed": True, "detail": "byte-exact"},
                {"name": "listing", "passed": True, "detail": "3000 files, 300 MiB match"},
            ],
            "result": "pass" if passed else "fail",
            "reasons": [] if passed else ["restic-verify: pack 1a2b3c damaged"],
            "durations_s": {"stage": 0.8, "restore": 12.5, "verify": 3.25},
            "throughput_bytes_per_s": 26_843_545,
            "rto": {"target_s": 14400, "projected_s": round(projected, 3), "within": not slow},
            "versions": {"drorch": "0.1.0", "restic": "0.14.0"},
            "artifacts": {"command.txt": "ab" * 32, "stdout.log": "cd" * 32},
        }
        return {
            "summary": f"restore test of {tested[0][:8]} from primary: "
            f"{'pass' if passed else 'FAIL'}, projected full restore {projected:.1f}s",
            "evidence": evidence,
            "evidence_seq": self.seq(),
        }

    def snapshot_row(
        self,
        job: str,
        target: str,
        snapshot_id: str,
        at: datetime,
        run_id: int,
        recorded: datetime | None,
        original: str | None,
    ) -> None:
        self.snapshots.append(
            (
                job,
                target,
                snapshot_id,
                _t(at),
                None,
                f"host-{job}",
                '["/srv/data"]',
                "[]",
                40_000_000_000,
                250_000,
                original,
                run_id,
                "/srv/data/.drorch-canary",
                "ef" * 32,
                _t(recorded or at),
            )
        )


# --- setup ------------------------------------------------------------------------------------


def make_root(work: Path, layout: Layout) -> Path:
    root = work / "root"
    (root / "jobs").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "drorch.yaml").write_text(DRORCH_YAML, encoding="utf-8")
    (root / "policies" / "standard.yaml").write_text(POLICY_YAML, encoding="utf-8")
    for number in range(layout.jobs):
        path = root / "jobs" / f"{layout.name(number)}.yaml"
        path.write_text(job_yaml(number % 60), encoding="utf-8")
    return root


@dataclass
class Fill:
    seconds: float = 0.0
    runs: int = 0
    snapshots: int = 0
    megabytes: float = 0.0
    days: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)


def fill(database: Path, layout: Layout, timeline: Timeline) -> Fill:
    history = History(layout, timeline)
    began = time.perf_counter()
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")  # the fill only; drorch runs FULL
        connection.execute("PRAGMA cache_size=-262144")
        connection.execute("BEGIN")
        connection.executemany(
            f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * 18)})",  # noqa: S608
            history.runs(),
        )
        connection.executemany(
            f"INSERT INTO snapshots ({SNAPSHOT_COLUMNS}) VALUES ({', '.join('?' * 15)})",  # noqa: S608
            history.snapshots,
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    with open(database, "rb") as handle:
        os.fsync(handle.fileno())  # clean pages, so that they can be dropped from the cache
    return Fill(
        seconds=time.perf_counter() - began,
        runs=history.next_id - 1,
        snapshots=len(history.snapshots),
        megabytes=database.stat().st_size / 1e6,
        days=timeline.hours / 24,
        statuses=dict(history.statuses.most_common()),
        actions=dict(history.actions.most_common()),
    )


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Query:
    shape: str
    count: int = 0
    seconds: float = 0.0
    rows: int = 0
    plan: list[str] = field(default_factory=list)


@dataclass
class Experiment:
    label: str
    first: float
    calls: list[float]
    facts: float
    sql: float


@dataclass
class Report:
    layout: Layout
    where: str = ""
    config_s: float = 0.0
    fill: Fill = field(default_factory=Fill)
    open_s: float = 0.0
    cold: float = float("nan")
    warm: list[float] = field(default_factory=list)
    one_job: str = ""
    one_cold: float = float("nan")
    one_warm: list[float] = field(default_factory=list)
    uncached: float | None = None
    cached_before: str = ""
    cached_after: str = ""
    facts: float = float("nan")
    indexes: list[str] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    cli: list[float] = field(default_factory=list)
    cli_violated: int | None = None
    status: list[float] = field(default_factory=list)  # `drorch status`, page cache warm, served
    status_direct: list[float] = field(default_factory=list)  # the same with no cli-server
    status_cold: float | None = None  # the catalog file dropped from the page cache, served
    status_rows: int = 0
    violated: int = 0
    by_fate: dict[str, tuple[int, int]] = field(default_factory=dict)  # fate -> (jobs, violated)
    by_rule: dict[str, int] = field(default_factory=dict)
    profile: list[str] = field(default_factory=list)
    experiments: list[Experiment] = field(default_factory=list)
    load: tuple[float, float] = (float("nan"), float("nan"))  # load average at start, end

    @property
    def warm_median(self) -> float:
        return median(self.warm)

    def compliance_ok(self) -> bool:
        return self.uncached is not None and self.uncached <= TARGET_S

    def status_ok(self) -> bool:
        return bool(self.status) and median(self.status) <= STATUS_TARGET_S

    def verdict(self) -> bool:
        return self.compliance_ok() and self.status_ok()


def _timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    value = call(*args, **kwargs)
    return time.perf_counter() - began, value


def check_sanity(report: Report, results: list[Any]) -> None:
    """The rules did work: exactly the jobs in trouble on purpose are violated."""
    layout = report.layout
    if len(results) != layout.jobs:
        sys.exit(f"bench: evaluate returned {len(results)} results for {layout.jobs} jobs")
    ok = {r.job: r.ok for r in results}
    wrong = [n for n in range(layout.jobs) if ok[layout.name(n)] != (fate(n) in HEALTHY)]
    if wrong:
        shown = []
        for result in [r for r in results if r.job in {layout.name(n) for n in wrong[:3]}]:
            bad = [f"{x.rule}: {x.detail}" for x in result.rules if not x.ok]
            shown.append(f"{result.job} ({fate(int(result.job[1:]))}): ok={result.ok} {bad}")
        listed = "\n  ".join(shown)
        sys.exit(f"bench: {len(wrong)} jobs evaluated against the fixture's intent:\n  {listed}")
    report.violated = sum(1 for r in results if not r.ok)
    fates = Counter(fate(n) for n in range(layout.jobs))
    violated = Counter(fate(int(r.job[1:])) for r in results if not r.ok)
    report.by_fate = {name: (count, violated[name]) for name, count in fates.most_common()}
    rules = Counter(x.rule for r in results for x in r.rules if not x.ok)
    report.by_rule = dict(sorted(rules.items()))


def capture_queries(catalog: Any, call: Callable[..., Any], *args: Any) -> list[tuple[str, Any]]:
    """The SQL statements (with their parameters) that `call` sends through the catalog."""
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(catalog.engine, "before_cursor_execute", before)
    try:
        call(*args)
    finally:
        event.remove(catalog.engine, "before_cursor_execute", before)
    return statements


def replay(database: Path, statements: list[tuple[str, Any]]) -> list[Query]:
    """Each statement again through sqlite3 (execute and fetch every row), with its plan;
    statements of one shape (the chunks of an IN list) add up."""
    queries: dict[str, Query] = {}
    connection = sqlite3.connect(database)
    try:
        for statement, parameters in statements:
            shape = " ".join(re.sub(r"\?(, \?)+", "?, ...", statement).split())
            query = queries.setdefault(shape, Query(shape))
            if not query.plan:
                levels: dict[int, int] = {}  # plan rows come after their parent
                plan = connection.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                for node, parent, _, step in plan.fetchall():
                    levels[node] = levels.get(parent, -1) + 1
                    query.plan.append("  " * levels[node] + step)
            began = time.perf_counter()
            rows = connection.execute(statement, parameters).fetchall()
            query.seconds += time.perf_counter() - began
            query.count += 1
            query.rows += len(rows)
    finally:
        connection.close()
    return list(queries.values())


def page_cache(database: Path) -> str:
    """How much of the catalog file the page cache holds, by fincore (util-linux)."""
    fincore = shutil.which("fincore")
    if fincore is None:
        return "?"
    done = subprocess.run(
        [fincore, "--noheadings", "--bytes", "--output", "RES,SIZE", str(database)],
        capture_output=True,
        text=True,
        check=False,
    )
    parts = done.stdout.split()
    if done.returncode != 0 or len(parts) != 2:
        return "?"
    return f"{int(parts[0]) / 1e6:.0f} of {int(parts[1]) / 1e6:.0f} MB"


def drop_from_cache(database: Path) -> None:
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


# Changes to the bench's own catalog, made by hand and undone: what they would buy drorch.
# name -> (statements making the change, statements undoing it)
EXPERIMENTS = {
    # drorch's indexes on runs are chosen so the plan does not hang on their order (the
    # order a catalog got them in: create_all's varies by process, migrations' is fixed);
    # this checks that it does not.
    "ix_runs_job_action defined last": (
        (
            "DROP INDEX ix_runs_job_action",
            "CREATE INDEX ix_runs_job_action ON runs (job, action, id)",
        ),
        (
            "DROP INDEX ix_runs_action_status",
            "CREATE INDEX ix_runs_action_status ON runs (action, status, job)",
        ),
    ),
    "ANALYZE": (("ANALYZE",), ("DROP TABLE sqlite_stat1",)),
}
VARIANTS = (("ix_runs_job_action defined last",), ("ANALYZE",))


def _sql(database: Path, statements: Iterable[str]) -> None:
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def runs_indexes(database: Path) -> list[str]:
    """The indexes of the runs table in the schema's order: SQLite's planner breaks ties
    between equally good indexes by it (the one defined last wins)."""
    connection = sqlite3.connect(database)
    try:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs'"
        return [name for (name,) in connection.execute(query)]
    finally:
        connection.close()


def run_experiments(report: Report, config: Any, now: datetime, calls: int) -> None:
    from drorch.catalog import open_catalog
    from drorch.catalog.facts import read_facts
    from drorch.policy import evaluate

    database = config.state_dir / "catalog.sqlite"
    for variant in VARIANTS:
        print(f"experiment: {' + '.join(variant)}", flush=True)
        _sql(database, (statement for name in variant for statement in EXPERIMENTS[name][0]))
        try:
            catalog = open_catalog(None, config.state_dir)
            first = _timed(evaluate, config, catalog, now)[0]
            warm = [_timed(evaluate, config, catalog, now)[0] for _ in range(calls)]
            facts = _timed(read_facts, catalog)[0]
            statements = capture_queries(catalog, evaluate, config, catalog, now)
            catalog.close()
            sql = sum(query.seconds for query in replay(database, statements))
        finally:
            undo = (s for name in reversed(variant) for s in EXPERIMENTS[name][1])
            _sql(database, undo)
        report.experiments.append(Experiment(" + ".join(variant), first, warm, facts, sql))


def create_catalog(state_dir: Path) -> None:
    """The catalog as drorch's migrations build it, from 0001 up, as a catalog that has
    lived through drorch's upgrades has it. open_catalog builds a new one from the models
    instead, whose indexes come out in a different order in each process; the order is
    what SQLite's planner breaks ties by, and it decides the figures (see --experiment)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from drorch.catalog import open_catalog
    from drorch.catalog.database import MIGRATIONS, create_catalog_engine, default_url

    engine = create_catalog_engine(default_url(state_dir))
    alembic = AlembicConfig()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            alembic.attributes["connection"] = connection
            command.upgrade(alembic, "head")
    finally:
        engine.dispose()
    open_catalog(None, state_dir).close()  # at drorch's head revision: nothing left to do


def bench_compliance(
    report: Report,
    work: Path,
    *,
    calls: int,
    cli_runs: int,
    status_runs: int,
    profile: bool,
    experiment: bool,
    reuse: bool,
) -> None:
    from drorch.catalog import open_catalog
    from drorch.catalog.facts import read_facts
    from drorch.config import load_config
    from drorch.policy import evaluate

    layout = report.layout
    root = work / "root"
    manifest = work / "manifest.json"
    if reuse:
        saved = json.loads(manifest.read_text(encoding="utf-8"))
        if (saved["jobs"], saved["runs"]) != (layout.jobs, layout.runs):
            sys.exit(f"bench: {work} holds {saved['jobs']} jobs and {saved['runs']} runs")
        now = datetime.fromisoformat(saved["now"])
        report.fill = Fill(**saved["fill"])
        print(f"reusing the catalog of {work} (filled in {report.fill.seconds:.1f} s)")
    else:
        print(f"writing a config root with {layout.jobs} jobs", flush=True)
        make_root(work, layout)
    report.config_s, config = _timed(load_config, root, check_secrets=False)
    database = config.state_dir / "catalog.sqlite"
    if not reuse:
        timeline = Timeline.ending_now(layout)
        now = timeline.now
        create_catalog(config.state_dir)
        print(f"filling the catalog with {layout.runs:,} runs ({timeline.hours} hours)", flush=True)
        report.fill = fill(database, layout, timeline)
        manifest.write_text(
            json.dumps(
                {
                    "jobs": layout.jobs,
                    "runs": layout.runs,
                    "now": now.isoformat(),
                    "fill": report.fill.__dict__,
                }
            ),
            encoding="utf-8",
        )
    print(f"evaluating at {now:%Y-%m-%d %H:%M:%S}Z", flush=True)
    load = os.getloadavg()[0]

    # The first call on a new Catalog: a new engine, nothing compiled or cached yet.
    report.open_s, catalog = _timed(open_catalog, None, config.state_dir)
    report.cold, results = _timed(evaluate, config, catalog, now)
    check_sanity(report, results)
    for _ in range(calls):
        report.warm.append(_timed(evaluate, config, catalog, now)[0])
    report.facts = _timed(read_facts, catalog)[0]
    catalog.close()
    report.indexes = runs_indexes(database)

    report.one_job = layout.name(layout.jobs // 2)
    one = [report.one_job]
    catalog = open_catalog(None, config.state_dir)
    report.one_cold, single = _timed(evaluate, config, catalog, now, jobs=one)
    assert [r.job for r in single] == one
    report.one_warm = [_timed(evaluate, config, catalog, now, jobs=one)[0] for _ in range(calls)]
    statements = capture_queries(catalog, evaluate, config, catalog, now)
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(evaluate, config, catalog, now)
        report.profile = profile_lines(profiler)
    catalog.close()
    report.queries = replay(database, statements)
    if experiment:
        run_experiments(report, config, now, calls)

    report.cached_before = page_cache(database)
    drop_from_cache(database)
    report.cached_after = page_cache(database)
    catalog = open_catalog(None, config.state_dir)
    report.uncached = _timed(evaluate, config, catalog, now)[0]
    catalog.close()
    report.load = (load, os.getloadavg()[0])

    argv = [str(DRORCH), "--config", str(root), "compliance", "--json"]
    for _ in range(cli_runs):
        seconds, done = _timed(
            subprocess.run, argv, capture_output=True, text=True, env=base_env(), check=False
        )
        if done.returncode not in (0, 3):
            sys.exit(f"bench: drorch compliance failed ({done.returncode}):\n{done.stderr}")
        report.cli.append(seconds)
        report.cli_violated = sum(1 for job in json.loads(done.stdout) if not job["ok"])
    bench_status(report, root, database, status_runs)


def bench_status(report: Report, root: Path, database: Path, runs: int) -> None:
    """`drorch status` as an operator runs it: `runs` times with the page cache warm (one
    first, untimed, to warm it), then once with the catalog file dropped from it."""
    argv = [str(DRORCH), "--config", str(root), "status"]

    def once(side: str = "served") -> float:
        env = drorch_env(side)
        seconds, done = _timed(
            subprocess.run, argv, capture_output=True, text=True, env=env, check=False
        )
        if done.returncode != 0:
            sys.exit(f"bench: drorch status failed ({done.returncode}):\n{done.stderr}")
        # One row a (job, action) that has a schedule, after the two header lines.
        report.status_rows = sum(1 for line in done.stdout.splitlines() if line.startswith("j"))
        return seconds

    print(f"timing `drorch status` ({runs} runs of each side, then one cold)", flush=True)
    once()
    once("direct")
    for _ in range(runs):
        report.status.append(once())
        report.status_direct.append(once("direct"))
    drop_from_cache(database)
    report.status_cold = once()
    expected = sum(5 if fate(n) != NEVER_RAN else 0 for n in range(report.layout.jobs))
    if report.status_rows < expected:
        sys.exit(f"bench: drorch status shows {report.status_rows} rows, {expected} expected")


def profile_lines(profiler: cProfile.Profile, top: int = 25) -> list[str]:
    import io

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    total = next((line.strip() for line in lines if "function calls" in line), "")
    return [total, *[line.rstrip() for line in lines[start:] if line.strip()]]


# --- output -----------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary_lines(report: Report) -> list[str]:
    layout = report.layout
    warm = report.warm or [float("nan")]
    status = report.status or [float("nan")]
    uncached = float("nan") if report.uncached is None else report.uncached
    return [
        f"compliance of {layout.jobs} jobs over {report.fill.runs:,} runs, the catalog out of "
        f"the page cache: first call on a new Catalog {uncached:.3f} s (target <= "
        f"{TARGET_S:.0f} s) {verdict(report.compliance_ok())}; page cache warm: first call "
        f"{report.cold:.3f} s, then median {report.warm_median:.3f} s over {len(report.warm)} "
        f"calls ({min(warm):.3f}-{max(warm):.3f})",
        f"`drorch status` on {report.fill.runs:,} runs ({layout.jobs} jobs, served): median "
        f"{median(status):.3f} s over {len(report.status)} runs with the page cache warm "
        f"({min(status):.3f}-{max(status):.3f}; target <= {STATUS_TARGET_S:.0f} s) "
        f"{verdict(report.status_ok())}; the catalog out of the page cache: "
        + ("-" if report.status_cold is None else f"{report.status_cold:.3f} s")
        + f"; direct (no cli-server): median {median(report.status_direct):.3f} s",
        f"one job (jobs=[{report.one_job}]): first call on a new Catalog "
        f"{_ms(report.one_cold)}, then median {_ms(median(report.one_warm))}",
        f"sanity: {report.violated} of {layout.jobs} jobs violated, "
        f"{layout.jobs - report.violated} ok: exactly the jobs the fixture puts in trouble",
    ]


def breakdown_lines(report: Report) -> list[str]:
    fill_ = report.fill
    lines = [
        f"fill: {fill_.runs:,} runs and {fill_.snapshots:,} snapshot rows over "
        f"{fill_.days:.1f} days in {fill_.seconds:.1f} s ({fill_.runs / fill_.seconds:,.0f} "
        f"runs/s); catalog file {fill_.megabytes:.0f} MB",
        "  runs by action: " + ", ".join(f"{k} {v:,}" for k, v in fill_.actions.items()),
        "  runs by status: " + ", ".join(f"{k} {v:,}" for k, v in fill_.statuses.items()),
        f"load_config of the root ({report.layout.jobs} job files): {report.config_s:.2f} s; "
        f"open_catalog: {_ms(report.open_s)}",
        f"evaluate, all jobs: first call {report.cold:.3f} s; further calls "
        + ", ".join(f"{s:.3f}" for s in report.warm)
        + " s",
        f"read_facts alone (the catalog's side of evaluate), one call: {report.facts:.3f} s",
        "indexes of runs, in the schema's order (SQLite's planner breaks ties between equally "
        "good indexes by it: the one defined last wins): " + ", ".join(report.indexes),
    ]
    if report.uncached is not None:
        lines.append(
            f"  first call on a new Catalog with the file out of the page cache "
            f"({report.cached_before} cached before posix_fadvise, {report.cached_after} "
            f"after): {report.uncached:.3f} s"
        )
    if report.cli:
        lines.append(
            f"`drorch compliance --json` (a process: imports, load_config, open, evaluate at "
            f"the real clock, JSON of every rule): median {median(report.cli):.2f} s over "
            f"{len(report.cli)} runs; {report.cli_violated} jobs violated at that clock"
        )
    lines.append("jobs by fate (jobs, of them violated):")
    lines += [f"  {name}: {count}, {bad}" for name, (count, bad) in report.by_fate.items()]
    lines.append("violations by rule: " + ", ".join(f"{k} {v}" for k, v in report.by_rule.items()))
    total = sum(q.seconds for q in report.queries)
    if report.experiments:
        lines += [
            "EXPERIMENTS, not drorch's schema: each change made by hand in this bench's catalog "
            "and undone after; a new Catalog each. Seconds: the first call, the median of the "
            "further calls, read_facts (one call), the SQL replayed through sqlite3:",
            f"  {report.cold:6.3f} {report.warm_median:6.3f} {report.facts:6.3f} {total:6.3f}"
            "  drorch's catalog as its migrations build it (the figures above)",
            *(
                f"  {e.first:6.3f} {median(e.calls):6.3f} {e.facts:6.3f} {e.sql:6.3f}  + {e.label}"
                for e in report.experiments
            ),
        ]
    lines.append(
        f"the SQL of one evaluate, each statement again through sqlite3 (execute + fetch all), "
        f"{total:.3f} s in all:"
    )
    for query in sorted(report.queries, key=lambda q: -q.seconds):
        lines.append(
            f"  {query.seconds:7.3f} s  {query.count:>3}x  {query.rows:>7,} rows  "
            f"{query.shape[:150]}{'...' if len(query.shape) > 150 else ''}"
        )
        lines += [f"{'':26}plan: {step}" for step in query.plan]
    return lines


def results_part(report: Report) -> str:
    info = machine()
    layout, fill_ = report.layout, report.fill
    setup = [
        f"machine: `{info['uname']}`; nproc: {info['nproc']}; python {info['python']}; "
        f"SQLite {sqlite3.sqlite_version}; drorch: commit {info['code']}",
        f"work folder (config root, catalog) on {report.where}",
        f"config root: {layout.jobs} jobs, two disk targets (primary dc1, replica dc2, both "
        "ML), one policy (RPO 4h, RTO 4h, restore test every 1d, copies min 2 with 1 offsite, "
        "residency ML). Job i works at minute i % 60: snapshot hourly, replicate:replica at "
        "odd hours, restore-test 02:xx, prune 03:xx, check 04:xx",
        "catalog: SQLite (WAL, synchronous=FULL for drorch's connections) as drorch's "
        "migrations build it, 0001 to head (indexes of runs in the order "
        + ", ".join(report.indexes)
        + f"), filled by sqlite3.executemany in one transaction with drorch's indexes in place: "
        f"{fill_.runs:,} runs (the schedules' {fill_.days:.1f} days up to now), "
        f"{fill_.snapshots:,} snapshot rows (retention: hourly 48 h, then daily; on the "
        "primary and, once replicated, on the replica), restore tests with their evidence "
        "record; 1 % of runs older than 3 days failed or were interrupted, then succeeded",
        "jobs in trouble on purpose, by job number: "
        + "; ".join(f"{name} ({count})" for name, (count, _) in report.by_fate.items()),
        "measured in-process: `drorch.policy.evaluate(config, catalog, now)`; the first call "
        "on a new Catalog from open_catalog (the page cache holding the file, as right after "
        "drorch wrote it), then further calls on it; the verdict is the first call on a new "
        "Catalog after posix_fadvise(DONTNEED) dropped the catalog file from the page cache",
        "`drorch --config ROOT status` timed as a process (load_config of the 2000 job files, "
        "open, queries, the table of every (job, action) on stdout), served by a `drorch "
        "cli-server` started before (the verdict) and direct, in its own process (imports "
        "too; shown beside it): one untimed run of each to warm the page cache, then "
        "--status-runs runs of each, alternating, then one served with the catalog file "
        "dropped from the page cache",
        f"load average (1 min) when evaluating began and ended: {report.load[0]:.2f}, "
        f"{report.load[1]:.2f} (the machine is shared: expect the figures to move with it)",
    ]
    return "\n".join(
        [
            f"### {PART} ({layout.jobs} jobs, {fill_.runs:,} runs)",
            "",
            "Written by `bench/compliance.py` (`make bench` runs it after the daemon figures).",
            "",
            *(f"- {line}" for line in setup),
            "",
            "Verdicts:",
            "",
            *(f"- {line}" for line in summary_lines(report)),
            "",
            "Breakdown:",
            "",
            "```",
            *breakdown_lines(report),
            "```",
            "",
        ]
    )


# --- main -------------------------------------------------------------------------------------


def add_arguments(parser: Any, prefix: str = "") -> None:
    """The compliance benchmark's options; bench/run.py adds them with prefix 'compliance-'."""
    parser.add_argument(f"--{prefix}jobs", type=int, default=2000, help="jobs (2000)")
    parser.add_argument(
        f"--{prefix}runs", type=int, default=1_000_000, help="runs in the catalog (1000000)"
    )
    parser.add_argument(
        f"--{prefix}calls", type=int, default=5, help="evaluate calls after the first (5)"
    )
    parser.add_argument(
        f"--{prefix}cli-runs", type=int, default=1, help="`drorch compliance` runs timed (1)"
    )
    parser.add_argument(
        f"--{prefix}status-runs", type=int, default=5, help="`drorch status` runs timed (5)"
    )
    parser.add_argument(
        f"--{prefix}profile", action="store_true", help="print a cProfile of one evaluate call"
    )
    parser.add_argument(
        f"--{prefix}experiment",
        action="store_true",
        help="also time evaluate with indexes and ANALYZE changed by hand (then undone)",
    )
    parser.add_argument(
        f"--{prefix}reuse",
        metavar="DIR",
        help="the work folder of an earlier run kept by --keep (same jobs and runs): no fill",
    )


def run_bench(args: argparse.Namespace, prefix: str = "") -> tuple[Report, bool]:
    """Run the compliance benchmark with the parsed options; return the report and success."""
    option = {
        name: getattr(args, f"{prefix}{name}".replace("-", "_"))
        for name in (
            "jobs",
            "runs",
            "calls",
            "cli-runs",
            "status-runs",
            "profile",
            "experiment",
            "reuse",
        )
    }
    if min(option["jobs"], option["runs"], option["calls"], option["status-runs"]) < 1:
        sys.exit(
            f"bench: --{prefix}jobs, --{prefix}runs, --{prefix}calls and --{prefix}status-runs "
            "must be >= 1"
        )
    report = Report(layout=Layout(jobs=option["jobs"], runs=option["runs"]))
    reuse = option["reuse"] is not None
    work = (
        Path(option["reuse"]).absolute()
        if reuse
        else Path(tempfile.mkdtemp(prefix="drorch-bench-compliance-", dir=args.tmp))
    )
    report.where = filesystem(str(work.parent))
    try:
        bench_compliance(
            report,
            work,
            calls=option["calls"],
            cli_runs=option["cli-runs"],
            status_runs=option["status-runs"],
            profile=option["profile"],
            experiment=option["experiment"],
            reuse=reuse,
        )
    finally:
        if args.keep or reuse:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("\n".join(breakdown_lines(report)))
    if report.profile:
        print("\ncProfile of one evaluate call (warm), by own time:")
        print("\n".join(report.profile))
    print()
    print("\n".join(summary_lines(report)))
    if args.write_results:
        today = section_name()
        write_results(results_part(report), today, part=PART)
    return report, report.verdict()


def main(argv: Sequence[str] | None = None) -> int:
    return standalone_main(
        argv, doc=__doc__ or "", part=PART, add_arguments=add_arguments, run_bench=run_bench
    )


if __name__ == "__main__":
    sys.exit(main())
