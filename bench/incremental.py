"""drorch's incremental-snapshot benchmark (part of `make bench`): nothing changed since the
last snapshot, drorch against bare restic into the same repository.

Target (issue 14): `drorch run JOB snapshot` of a tree of 20,000 small files that the
repository already holds costs <= 1.10x bare `restic backup` of the same tree into the same
repository, median of the per-round ratios over 8 rounds in alternating order.

What it does:
1. Generates a tree once (20,000 files, 2 KiB on average, seeded; bench/run.py's
   generator), a config root with one disk target and one job (`drorch keys init`), and one
   snapshot by `drorch run JOB snapshot` (untimed): the repository now holds the tree.
2. Warm-up (untimed): one bare backup and one drorch snapshot of each side.
3. N rounds (7), in alternating order, dirty pages flushed before each timed step:
   bare:   `restic --repo REPO backup --json --host HOST -- TREE CANARIES` with drorch's
           restic environment (the target's password file, RESTIC_CACHE_DIR=ROOT/state/
           cache, RESTIC_PROGRESS_FPS, TZ=UTC): the same repository, cache, parent snapshot
           and paths as drorch's backup (drorch adds its canary folder to every snapshot, so
           bare backs it up too);
   drorch: `drorch --config ROOT run JOB snapshot`, which must exit 0, twice: served by a
           `drorch cli-server` started before the rounds (the verdict), and direct, in
           its own process (shown beside it).
   Each adds a snapshot that changes one file (drorch's canary) and nothing else.
4. Attributes drorch's time from the artifact its restic backup call leaves
   (state/runs/ID/NN-backup.json, duration_s): restic's own run, and the rest.

Usage: .venv/bin/python bench/incremental.py [--rounds N] [--files F] [--size-mb M]
       [--write-results]
Only the standard library; drorch runs as a subprocess, as an operator runs it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from run import (
    DRORCH,
    DRORCH_SIDES,
    JOB,
    PROGRESS_FPS,
    SIDES_LINE,
    MiB,
    base_env,
    conclude,
    drorch_env,
    generate_tree,
    machine,
    make_root,
    median,
    restic_calls,
    round_order,
    run,
    settle,
    standalone_main,
    timed,
    verdict,
    work_folder,
)

TARGET_RATIO = 1.10
PART = "incremental snapshot"


@dataclass(frozen=True)
class Setup:
    root: Path
    tree: Path
    restic: str

    @property
    def repository(self) -> Path:
        return self.root / "repos" / "primary"

    @property
    def canaries(self) -> Path:
        return self.root / "state" / "canaries" / JOB

    def bare_env(self) -> dict[str, str]:
        return {
            **base_env(),
            "RESTIC_PASSWORD_FILE": str(self.root / "keys" / "primary.pass"),
            "RESTIC_CACHE_DIR": str(self.root / "state" / "cache"),
            "RESTIC_PROGRESS_FPS": PROGRESS_FPS,
            "TZ": "UTC",
        }


@dataclass(frozen=True)
class Pair:
    order: str
    bare: float
    drorch: float
    drorch_backup: float  # its restic backup call, from the run's artifact
    drorch_calls: int  # restic processes its run spawned
    direct: float  # the same command with no cli-server
    direct_backup: float

    @property
    def direct_ratio(self) -> float:
        return self.direct / self.bare

    @property
    def ratio(self) -> float:
        return self.drorch / self.bare


@dataclass
class Report:
    tree_files: int
    tree_bytes: int
    where: str
    pairs: list[Pair] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return median([p.ratio for p in self.pairs])

    def passed(self) -> bool:
        return bool(self.pairs) and self.ratio <= TARGET_RATIO


def bare_backup(setup: Setup) -> float:
    settle()
    seconds, completed = timed(
        [
            setup.restic,
            "--repo",
            setup.repository,
            "backup",
            "--json",
            "--host",
            socket.gethostname(),
            "--",
            setup.tree,
            setup.canaries,
        ],
        env=setup.bare_env(),
        what="restic backup (bare)",
    )
    if '"message_type":"summary"' not in completed.stdout.replace(" ", ""):
        sys.exit("bench: bare restic backup printed no summary")
    return seconds


def drorch_backup(setup: Setup, side: str = "served") -> tuple[float, float, int]:
    settle()
    seconds, _ = timed(
        [DRORCH, "--config", setup.root, "run", JOB, "snapshot"],
        env=drorch_env(side),
        what=f"drorch run snapshot ({side})",
    )
    calls, processes = restic_calls(setup.root)
    return seconds, calls.get("backup", float("nan")), processes


def bench_pairs(report: Report, setup: Setup, rounds: int) -> None:
    print("warm-up (untimed): one bare backup and one drorch snapshot", flush=True)
    bare_backup(setup)
    for side in DRORCH_SIDES:
        drorch_backup(setup, side)
    print(
        f"{'pair':>4}  {'order':<20}  {'bare s':>7}  {'served s':>8}  {'restic s':>8}  ratio"
        f"  {'direct s':>8}  ratio"
    )
    for number in range(1, rounds + 1):
        order = round_order(number)
        bare = float("nan")
        sides: dict[str, tuple[float, float, int]] = {}
        for side in order.split(","):
            if side == "bare":
                bare = bare_backup(setup)
            else:
                sides[side] = drorch_backup(setup, side)
        (drorch, backup, processes), (direct, direct_backup, _) = sides["served"], sides["direct"]
        pair = Pair(order, bare, drorch, backup, processes, direct, direct_backup)
        report.pairs.append(pair)
        print(
            f"{number:>4}  {order:<20}  {bare:7.3f}  {drorch:8.3f}  {backup:8.3f}  "
            f"{pair.ratio:.3f}  {direct:8.3f}  {pair.direct_ratio:.3f}",
            flush=True,
        )


def summary_line(report: Report) -> str:
    ratios = [p.ratio for p in report.pairs] or [float("nan")]
    return (
        f"incremental snapshot ({report.tree_files} files, {report.tree_bytes / MiB:.0f} MiB, "
        f"nothing changed, {len(report.pairs)} rounds): bare restic backup median "
        f"{median([p.bare for p in report.pairs]):.3f} s, drorch (served) median "
        f"{median([p.drorch for p in report.pairs]):.3f} s, median ratio {report.ratio:.3f} "
        f"(per round {min(ratios):.2f}-{max(ratios):.2f}; target <= {TARGET_RATIO}) "
        f"{verdict(report.passed())}; direct (no cli-server) median "
        f"{median([p.direct for p in report.pairs]):.3f} s, ratio "
        f"{median([p.direct_ratio for p in report.pairs]):.3f}"
    )


def breakdown_lines(report: Report) -> list[str]:
    pairs = report.pairs
    own = median([p.drorch - p.drorch_backup for p in pairs])
    bare = median([p.bare for p in pairs])
    return [
        f"medians over {len(pairs)} rounds, seconds:",
        f"  bare restic backup (its process, wall)            {bare:7.3f}",
        f"  drorch run snapshot, served (the client, wall)    "
        f"{median([p.drorch for p in pairs]):7.3f}",
        f"    its restic backup (the call's artifact)         "
        f"{median([p.drorch_backup for p in pairs]):7.3f}",
        f"    the rest: client start-up, fork, config, catalog, lock, canary, exit {own:7.3f}",
        f"  drorch run snapshot, direct (its process, wall)   "
        f"{median([p.direct for p in pairs]):7.3f}",
        f"    the rest: python start-up, imports, config, catalog, lock, canary, exit "
        f"{median([p.direct - p.direct_backup for p in pairs]):7.3f}",
        f"  restic processes per drorch run: {median([p.drorch_calls for p in pairs]):.0f}",
        f"  budget at {TARGET_RATIO}x: {bare * (TARGET_RATIO - 1):.3f} s for everything drorch "
        "does besides restic backup",
        f"  load average (1, 5, 15 min) at the end: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def results_part(report: Report) -> str:
    info = machine()
    rows = [
        f"| {n} | {p.order} | {p.bare:.3f} | {p.drorch:.3f} | {p.drorch_backup:.3f} | "
        f"{p.drorch - p.drorch_backup:.3f} | {p.ratio:.3f} | {p.direct:.3f} | "
        f"{p.direct - p.direct_backup:.3f} | {p.direct_ratio:.3f} |"
        for n, p in enumerate(report.pairs, 1)
    ]
    return "\n".join(
        [
            f"### {PART}",
            "",
            "Written by `bench/incremental.py` (`make bench` runs it after the snapshot figures).",
            "",
            f"- machine: `{info['uname']}`; nproc: {info['nproc']}; restic: {info['restic']}; "
            f"python {info['python']}; drorch: commit {info['code']}",
            f"- data: {report.tree_files} files, {report.tree_bytes / MiB:.0f} MiB of seeded "
            f"random bytes (bench/run.py's generator), work folder under {report.where}",
            "- one repository, already holding the tree (one untimed `drorch run`); bare is "
            "`restic backup --json --host HOST -- TREE CANARIES` with drorch's restic "
            "environment, into that repository with its cache; drorch is `drorch --config "
            "ROOT run JOB snapshot`; one untimed warm-up of each; rounds alternate the order; "
            "dirty pages are flushed before each timed step",
            f"- {SIDES_LINE}",
            "",
            "| round | order | bare s | drorch served s | its restic backup s | served besides "
            "restic s | ratio | drorch direct s | direct besides restic s | ratio |",
            "|---|---|---|---|---|---|---|---|---|---|",
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


def prepare(work: Path, tree: Path, restic: str) -> Setup:
    root = make_root(work / "root", tree)
    run([DRORCH, "--config", root, "run", JOB, "snapshot"], what="first drorch run snapshot")
    return Setup(root=root, tree=tree, restic=restic)


def add_arguments(parser: Any, prefix: str = "") -> None:
    """The incremental benchmark's options; bench/run.py adds them with prefix
    'incremental-'."""
    parser.add_argument(f"--{prefix}rounds", type=int, default=8, help="timed rounds (8)")
    parser.add_argument(f"--{prefix}files", type=int, default=20_000, help="files (20000)")
    parser.add_argument(f"--{prefix}size-mb", type=int, default=40, help="tree size in MiB (40)")


def run_bench(args: argparse.Namespace, prefix: str = "") -> tuple[Report, bool]:
    """Run the incremental benchmark with the parsed options; return the report and success."""
    option = {
        name: getattr(args, f"{prefix}{name}".replace("-", "_"))
        for name in ("rounds", "files", "size-mb")
    }
    restic = shutil.which("restic")
    if restic is None:
        sys.exit("bench: restic is not installed: run 'make install'")
    if option["rounds"] < 1:
        sys.exit(f"bench: --{prefix}rounds must be at least 1")
    report = Report(tree_files=option["files"], tree_bytes=option["size-mb"] * MiB, where=args.tmp)
    with work_folder(args, "incremental") as work:
        tree = work / "tree"
        print(f"generating {option['size-mb']} MiB in {option['files']} files under {tree}")
        generate_tree(tree, total_bytes=report.tree_bytes, files=report.tree_files, folders=100)
        print("config root, keys and the first snapshot (untimed)", flush=True)
        bench_pairs(report, prepare(work, tree, restic), option["rounds"])
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
