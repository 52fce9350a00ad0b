"""drorch's restore-test benchmark (part of `make bench`): a restore test against bare restic.

Target (from the issue): a restore test (restore + every check + removing the scratch folder)
costs <= 1.15x bare `restic restore --verify` plus hashing the restored tree in Python plus
`rm -rf` of that tree, side by side in one run.

What it does:
1. Generates a tree once (300 MiB in 3,000 files by default, bench/run.py's generator), a
   config root with one disk target and one job whose restore test checks restic, canary
   and listing; keys by `drorch keys init`; one snapshot by `drorch run JOB` (untimed).
2. Warm-up (untimed): one bare restore and one restore test, so that restic's cache
   (state/cache, shared by both) and the page cache hold the repository for both.
3. N rounds (6), in alternating order:
   bare:   `restic restore ID --target FRESH --verify` (drorch's environment: the password
           file, RESTIC_CACHE_DIR=ROOT/state/cache, RESTIC_PROGRESS_FPS, TZ=UTC), then a
           Python subprocess hashing every restored file with hashlib.sha256, then
           `rm -rf` of the restored tree; the three are timed as one (drorch's run removes
           its scratch folder too, and disk space is the operator's);
   drorch: `drorch --config ROOT run JOB restore-test`, which must exit 0, twice: served
           by a `drorch cli-server` started before the rounds (the verdict), and direct,
           in its own process (shown beside it).
4. Attributes drorch's time from what its run leaves: the catalog's run times, the
   artifact of every restic call (state/runs/ID/NN-NAME.json, duration_s), and the
   evidence record's durations_s (restore, verify, cleanup).

Usage: .venv/bin/python bench/restore.py [--rounds N] [--size-mb M] [--files F] [--write-results]
Only the standard library; drorch runs as a subprocess, as an operator runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from run import (
    DRORCH,
    DRORCH_SIDES,
    JOB,
    PROGRESS_FPS,
    PYTHON,
    SIDES_LINE,
    MiB,
    base_env,
    conclude,
    drorch_env,
    generate_tree,
    machine,
    make_root,
    median,
    round_order,
    settle,
    standalone_main,
    timed,
    verdict,
    work_folder,
)
from run import run as run_command

TARGET_RATIO = 1.15
PART = "restore test"
RESTORE_TEST = "restore_test: {from: [primary], verify: [restic, canary, listing]}\n"

# The bare side's checks: sha256 of every regular file under argv[1]; prints the count.
HASH_SCRIPT = """\
import hashlib, os, stat, sys
count = 0
for folder, _dirs, names in os.walk(sys.argv[1]):
    for name in names:
        path = os.path.join(folder, name)
        if stat.S_ISREG(os.lstat(path).st_mode):
            with open(path, "rb") as handle:
                hashlib.file_digest(handle, "sha256").hexdigest()
            count += 1
print(count)
"""


# --- the setup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    root: Path
    restic: str
    repo: Path
    snapshot_id: str
    env: dict[str, str]  # what drorch gives restic


def prepare(work: Path, tree: Path, restic: str) -> Setup:
    root = make_root(work / "root", tree)  # one disk target, one job, keys by `keys init`
    with (root / "jobs" / f"{JOB}.yaml").open("a", encoding="utf-8") as handle:
        handle.write(RESTORE_TEST)
    run_command([DRORCH, "--config", root, "run", JOB], what="drorch run (the snapshot)")
    env = {
        **base_env(),
        "RESTIC_PASSWORD_FILE": str(root / "keys" / "primary.pass"),
        "RESTIC_CACHE_DIR": str(root / "state" / "cache"),
        "RESTIC_PROGRESS_FPS": PROGRESS_FPS,
        "TZ": "UTC",
    }
    repo = root / "repos" / "primary"
    listed = run_command(
        [restic, "--repo", repo, "snapshots", "--json"], env=env, what="restic snapshots"
    )
    snapshots = json.loads(listed.stdout)
    if len(snapshots) != 1:
        sys.exit(f"bench: expected one snapshot, restic lists {len(snapshots)}")
    return Setup(root, restic, repo, str(snapshots[0]["id"]), env)


# --- bare restic ------------------------------------------------------------------------------


@dataclass
class Bare:
    restore: float
    hashing: float
    removal: float  # `rm -rf` of the restored tree
    total: float  # the three, wall time


def bare_restore(setup: Setup, target: Path, files: int) -> Bare:
    settle()
    started = time.perf_counter()
    restore, _ = timed(
        [
            setup.restic,
            "--repo",
            setup.repo,
            "restore",
            setup.snapshot_id,
            "--target",
            target,
            "--verify",
        ],
        env=setup.env,
        what="restic restore --verify",
    )
    hashing, hashed = timed([PYTHON, "-c", HASH_SCRIPT, target], what="hashing the restore")
    # The generated tree has no read-only folders: plain `rm -rf` removes it (and the step
    # exits the bench if it cannot).
    removal, _ = timed(["rm", "-rf", target], what="rm -rf of the restore")
    total = time.perf_counter() - started
    if int(hashed.stdout) < files:
        sys.exit(f"bench: the bare restore holds {hashed.stdout.strip()} files, not {files}")
    if target.exists():
        sys.exit(f"bench: rm -rf left {target} behind")
    return Bare(restore, hashing, removal, total)


# --- drorch -----------------------------------------------------------------------------------


@dataclass
class Drorch:
    total: float  # the subprocess, wall time
    run_id: int = 0
    in_run: float = float("nan")  # the catalog's started_at -> finished_at
    phases: dict[str, float] = field(default_factory=dict)  # evidence durations_s
    calls: dict[str, float] = field(default_factory=dict)  # restic call -> duration_s
    after_evidence: float = float("nan")  # evidence record's time -> run finished

    @property
    def outside_run(self) -> float:
        """Python start-up, imports, config and catalog before the run; exit after it."""
        return self.total - self.in_run

    @property
    def checks(self) -> float:
        """The verify phase: the canary's sha256, the walk of the tree, and what is left to
        wait of restic ls (it runs from the start of the restore, beside it)."""
        return self.phases.get("verify", float("nan"))

    @property
    def cleanup(self) -> float:
        """Removing the scratch folder (the evidence record's `cleanup` phase)."""
        return self.phases.get("cleanup", float("nan"))

    @property
    def rest(self) -> float:
        """The run outside restore, verify, cleanup and restic version: choosing the
        snapshot, opening the repository, the space check, hashing the artifacts, the
        evidence append and the catalog."""
        return (
            self.in_run
            - self.phases.get("restore", float("nan"))
            - self.checks
            - self.cleanup
            - self.calls.get("version", 0.0)
        )


def _json(argv: Sequence[str | Path], what: str) -> Any:
    return json.loads(run_command(argv, what=what).stdout)


def _seconds(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def drorch_restore_test(setup: Setup, side: str = "served") -> Drorch:
    root = setup.root
    settle()
    total, _ = timed(
        [DRORCH, "--config", root, "run", JOB, "restore-test"],
        env=drorch_env(side),
        what=f"drorch run restore-test ({side})",
    )
    result = Drorch(total=total)
    # The run's details, untimed: its id and status, its times (the catalog's, to the
    # microsecond; `runs --json` prints whole seconds), its restic calls and its evidence.
    newest = _json([DRORCH, "--config", root, "runs", "--json", "--limit", "1"], "drorch runs")[0]
    if newest["action"] != "restore-test" or newest["status"] != "SUCCEEDED":
        sys.exit(f"bench: the restore test did not succeed: {newest}")
    result.run_id = int(newest["id"])
    left = sorted((root / "state" / "scratch").glob("restore-test-*"))
    if left:
        sys.exit(f"bench: the restore test left its scratch folder behind: {left}")
    catalog = root / "state" / "catalog.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT started_at, finished_at FROM runs WHERE id = ?", (result.run_id,)
        ).fetchone()
    started_at, finished_at = (datetime.fromisoformat(value) for value in row)
    result.in_run = (finished_at - started_at).total_seconds()
    for artifact in sorted((root / "state" / "runs" / str(result.run_id)).glob("*-*.json")):
        name = artifact.stem.split("-", 1)[1]
        seconds = float(json.loads(artifact.read_text(encoding="utf-8"))["duration_s"])
        result.calls[name] = result.calls.get(name, 0.0) + seconds
    records = _json([DRORCH, "--config", root, "evidence", "list", "--json"], "evidence list")
    record = _json(
        [DRORCH, "--config", root, "evidence", "show", str(records[-1]["seq"]), "--json"],
        "evidence show",
    )
    if record.get("run") != result.run_id or record.get("result") != "pass":
        sys.exit(f"bench: the newest evidence record is not this run's pass: {record}")
    result.phases = {k: float(v) for k, v in record["durations_s"].items()}
    at = _seconds(record["at"]).replace(tzinfo=None)
    result.after_evidence = (finished_at - at).total_seconds()
    return result


# --- the benchmark ----------------------------------------------------------------------------


@dataclass
class Report:
    tree_bytes: int
    tree_files: int
    snapshot_id: str = ""
    where: str = ""
    rounds: list[tuple[str, Bare, Drorch]] = field(default_factory=list)  # served
    direct: list[Drorch] = field(default_factory=list)  # the same rounds, no cli-server
    loads: list[float] = field(default_factory=list)  # 1-min load average after each round
    python_runs: list[float] = field(default_factory=list)
    help_runs: list[float] = field(default_factory=list)
    runs_runs: list[float] = field(default_factory=list)

    def med(self, pick: Callable[[Bare, Drorch], float]) -> float:
        return median([pick(b, d) for _, b, d in self.rounds])

    @property
    def ratio_median(self) -> float:
        return self.med(lambda b, d: d.total / b.total)

    @property
    def direct_ratio_median(self) -> float:
        pairs = zip(self.rounds, self.direct, strict=True)
        return median([d.total / b.total for (_, b, _), d in pairs])

    def passed(self) -> bool:
        return self.ratio_median <= TARGET_RATIO


def bench_restore(report: Report, setup: Setup, work: Path, rounds: int) -> None:
    files = report.tree_files
    print("warm-up (untimed): one bare restore and one restore test", flush=True)
    bare_restore(setup, work / "bare-warmup", files)
    for side in DRORCH_SIDES:
        drorch_restore_test(setup, side)
    print(
        f"{'round':>5}  {'order':<20}  {'bare s':>7}  {'(restore':>8}  {'hash':>6}  "
        f"{'rm)':>6}  {'served s':>8}  {'ratio':>6}  {'direct s':>8}  {'ratio':>6}  load"
    )
    for number in range(1, rounds + 1):
        order = round_order(number)
        steps: dict[str, Callable[[], object]] = {
            "bare": lambda n=number: bare_restore(setup, work / f"bare-{n}", files),
            **{side: lambda side=side: drorch_restore_test(setup, side) for side in DRORCH_SIDES},
        }
        results = {name: steps[name]() for name in order.split(",")}
        report.loads.append(os.getloadavg()[0])
        bare, drorch, direct = results["bare"], results["served"], results["direct"]
        assert isinstance(bare, Bare)
        assert isinstance(drorch, Drorch) and isinstance(direct, Drorch)
        report.rounds.append((order, bare, drorch))
        report.direct.append(direct)
        print(
            f"{number:>5}  {order:<20}  {bare.total:7.3f}  {bare.restore:8.3f}  "
            f"{bare.hashing:6.3f}  {bare.removal:6.3f}  {drorch.total:8.3f}  "
            f"{drorch.total / bare.total:6.3f}  {direct.total:8.3f}  "
            f"{direct.total / bare.total:6.3f}  {report.loads[-1]:.2f}",
            flush=True,
        )


def bench_startup(report: Report, root: Path, runs: int = 7) -> None:
    """Floors for drorch's time outside its run: the interpreter, drorch's imports, and a
    command that loads the config and opens the catalog."""
    commands = {
        "python": [PYTHON, "-c", "pass"],
        "help": [DRORCH, "--help"],
        "runs": [DRORCH, "--config", root, "runs", "--json", "--limit", "1"],
    }
    for argv in commands.values():
        run_command(argv, what=str(argv[1]))
    for _ in range(runs):
        report.python_runs.append(timed(commands["python"], what="python -c pass")[0])
        report.help_runs.append(timed(commands["help"], what="drorch --help")[0])
        report.runs_runs.append(timed(commands["runs"], what="drorch runs")[0])


# --- output -----------------------------------------------------------------------------------


def summary_line(report: Report) -> str:
    ratios = [d.total / b.total for _, b, d in report.rounds] or [float("nan")]
    return (
        f"restore test ({report.tree_bytes / MiB:.0f} MiB in {report.tree_files} files, "
        f"{len(report.rounds)} rounds): bare restore --verify + hashing + rm -rf median "
        f"{report.med(lambda b, d: b.total):.3f} s, drorch restore-test (served) median "
        f"{report.med(lambda b, d: d.total):.3f} s, median ratio {report.ratio_median:.3f} "
        f"(per round {min(ratios):.2f}-{max(ratios):.2f}; target <= {TARGET_RATIO}) "
        f"{verdict(report.passed())}; direct (no cli-server) median "
        f"{median([d.total for d in report.direct]):.3f} s, ratio "
        f"{report.direct_ratio_median:.3f}"
    )


def breakdown_lines(report: Report) -> list[str]:
    """Where drorch's time goes, medians over the rounds."""
    m = report.med
    bare_total = m(lambda b, d: b.total)
    bare_restore_s = m(lambda b, d: b.restore)
    hashing = m(lambda b, d: b.hashing)
    removal = m(lambda b, d: b.removal)
    drorch_total = m(lambda b, d: d.total)
    restic_restore = m(lambda b, d: d.calls.get("restore", 0.0))
    parts = [
        ("restic restore --verify (its artifact)", restic_restore, bare_restore_s),
        (
            "  drorch around it (restore phase - restic)",
            m(lambda b, d: d.phases.get("restore", 0.0) - d.calls.get("restore", 0.0)),
            None,
        ),
        (
            "checks after the restore: canary sha256, walk of the tree, what is left to wait "
            "of restic ls (verify phase)",
            m(lambda b, d: d.checks),
            None,
        ),
        ("removing the scratch folder (cleanup phase)", m(lambda b, d: d.cleanup), removal),
        (
            "restic version (for the evidence record; 0 when drorch's cache knows it)",
            m(lambda b, d: d.calls.get("version", 0.0)),
            None,
        ),
        (
            "rest of the run: snapshot choice, repo open, space check, artifact hashes, "
            "evidence append, catalog",
            m(lambda b, d: d.rest),
            None,
        ),
        (
            "outside the run: client start-up, fork, config, catalog open, exit",
            m(lambda b, d: d.outside_run),
            None,
        ),
    ]
    lines = [f"medians over {len(report.rounds)} rounds, seconds:"]
    lines.append(
        f"  bare total {bare_total:.3f} = restore --verify {bare_restore_s:.3f} + hashing "
        f"{hashing:.3f} (python subprocess: start-up, walk, sha256 of every file) + rm -rf "
        f"{removal:.3f}"
    )
    lines.append(f"  drorch total {drorch_total:.3f}:")
    for label, value, bare in parts:
        extra = f"   (bare: {bare:.3f}, difference {value - bare:+.3f})" if bare is not None else ""
        lines.append(f"    {value:7.3f}  {label}{extra}")
    lines.append(
        f"  not added above: restic ls --json (the listing check) "
        f"{m(lambda b, d: d.calls.get('ls', 0.0)):.3f}, run from the start of the restore, "
        "beside it"
    )
    lines.append(
        f"  the run in the catalog (started_at -> finished_at) {m(lambda b, d: d.in_run):.3f};"
        f" the evidence record's time -> finished_at {m(lambda b, d: d.after_evidence):.3f}"
    )
    lines.append(
        f"  start-up floors (median of {len(report.python_runs)}): python -c pass "
        f"{median(report.python_runs):.3f}, drorch --help {median(report.help_runs):.3f}, "
        f"drorch runs --json (config + catalog) {median(report.runs_runs):.3f}"
    )
    overhead = drorch_total - bare_total
    own = drorch_total - restic_restore
    lines.append(
        f"  overhead drorch - bare (medians) {overhead:+.3f}; drorch's time outside restic "
        f"restore {own:.3f} vs the bare side's hashing + rm -rf {hashing + removal:.3f}: with "
        f"restic's restore as bare ran it, a ratio of {(bare_restore_s + own) / bare_total:.3f}"
    )
    allowed = (TARGET_RATIO - 1) * bare_total
    lines.append(
        f"  budget at {TARGET_RATIO}x: {TARGET_RATIO * bare_total:.3f} s, i.e. "
        f"{allowed + hashing + removal:.3f} s for everything drorch does besides restic restore"
    )
    lines.append(
        f"  direct (no cli-server): total {median([d.total for d in report.direct]):.3f}, of "
        f"which outside the run (python start-up, imports, config, catalog open, exit) "
        f"{median([d.outside_run for d in report.direct]):.3f}"
    )
    if report.loads:
        lines.append(
            f"  load average (1 min) after each round: "
            f"{', '.join(f'{load:.2f}' for load in report.loads)} (a shared 2-core machine: "
            "the figures move with it)"
        )
    return lines


def results_part(report: Report) -> str:
    info = machine()
    setup = [
        f"machine: `{info['uname']}`; nproc: {info['nproc']}; restic: {info['restic']}; "
        f"python {info['python']}; drorch: commit {info['code']}",
        f"data: {report.tree_bytes / MiB:.0f} MiB in {report.tree_files} files of seeded "
        f"random bytes (bench/run.py's generator), one snapshot "
        f"{report.snapshot_id[:8]} by `drorch run`, work folder under {report.where}",
        "job: `" + RESTORE_TEST.strip() + "`; one disk target",
        "bare: `restic restore ID --target FRESH --verify` with drorch's restic environment "
        "(password file, RESTIC_CACHE_DIR=ROOT/state/cache, RESTIC_PROGRESS_FPS, TZ) then "
        "`python -c` hashing every restored file with hashlib.sha256, then `rm -rf` of the "
        "restored tree, timed as one. drorch: `drorch --config ROOT run JOB restore-test` "
        "(exit 0, run SUCCEEDED, evidence record `pass`, its scratch folder gone). One "
        "untimed warm-up of each; rounds alternate the order; dirty pages are flushed before "
        "each timed step",
        SIDES_LINE,
    ]
    rows = [
        f"| {n} | {order} | {b.restore:.3f} | {b.hashing:.3f} | {b.removal:.3f} | "
        f"{b.total:.3f} | {d.total:.3f} | {d.calls.get('restore', 0.0):.3f} | "
        f"{d.calls.get('ls', 0.0):.3f} | {d.checks:.3f} | {d.cleanup:.3f} | {d.rest:.3f} | "
        f"{d.outside_run:.3f} | {d.total / b.total:.3f} | {x.total:.3f} | "
        f"{x.total / b.total:.3f} | {load:.2f} |"
        for n, ((order, b, d), x, load) in enumerate(
            zip(report.rounds, report.direct, report.loads, strict=True), start=1
        )
    ]
    return "\n".join(
        [
            f"### {PART}",
            "",
            "Written by `bench/restore.py` (`make bench` runs it after the snapshot figures).",
            "",
            *(f"- {line}" for line in setup),
            "",
            "| round | order | bare restore s | bare hash s | bare rm s | bare s | "
            "drorch served s | its restic restore s | its restic ls s (beside it) | checks s | "
            "cleanup s | rest of run s | outside run s | ratio | drorch direct s | ratio | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Verdict:",
            "",
            f"- {summary_line(report)}",
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
    """The restore benchmark's options; bench/run.py adds them with prefix 'restore-'."""
    parser.add_argument(f"--{prefix}rounds", type=int, default=6, help="timed rounds (6)")
    parser.add_argument(f"--{prefix}size-mb", type=int, default=300, help="tree size in MiB (300)")
    parser.add_argument(f"--{prefix}files", type=int, default=3000, help="files in the tree (3000)")


def run_bench(args: argparse.Namespace, prefix: str = "") -> tuple[Report, bool]:
    """Run the restore benchmark with the parsed options; return the report and success."""
    option = {
        name: getattr(args, f"{prefix}{name}".replace("-", "_"))
        for name in ("rounds", "size-mb", "files")
    }
    restic = shutil.which("restic")
    if restic is None:
        sys.exit("bench: restic is not installed: run 'make install'")
    if option["rounds"] < 1:
        sys.exit(f"bench: --{prefix}rounds must be at least 1")
    report = Report(tree_bytes=option["size-mb"] * MiB, tree_files=option["files"], where=args.tmp)
    with work_folder(args, "restore") as work:
        tree = work / "tree"
        print(f"generating {option['size-mb']} MiB in {option['files']} files under {tree}")
        generate_tree(tree, total_bytes=report.tree_bytes, files=report.tree_files)
        print("config root, keys and one snapshot (untimed)", flush=True)
        setup = prepare(work, tree, restic)
        report.snapshot_id = setup.snapshot_id
        bench_restore(report, setup, work, option["rounds"])
        bench_startup(report, setup.root)
    conclude(
        args,
        PART,
        ["\n".join(breakdown_lines(report)), summary_line(report)],
        lambda: results_part(report),
    )
    return report, report.passed()


def main(argv: Sequence[str] | None = None) -> int:
    return standalone_main(
        argv, doc=__doc__ or "", part=PART, add_arguments=add_arguments, run_bench=run_bench
    )


if __name__ == "__main__":
    sys.exit(main())
