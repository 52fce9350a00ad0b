"""drorch's tape-out benchmark (part of `make bench`): writing to the virtual library
against `dd bs=256K` of the same bytes.

Target (from the issue): tape-out of 500 MB to the virtual library runs at >= 0.8x the
throughput of `dd bs=256K` writing the same bytes to one file on the same disk.

What it does:
1. Generates a tree once (500 MiB of seeded random bytes, bench/run.py's generator) and
   backs it up with `restic init` + `restic backup` into a fresh repository: the
   repository's files (packs, index, snapshot, keys, config) are what tape-out writes.
   GNU tar makes one pax archive of the same files in 256 KiB records (untimed).
2. N rounds (6), in alternating order, each side writing to a fresh file on the disk of
   the work folder, dirty pages flushed before each timed step, caches dropped by neither:
   drorch: in this process, through drorch's own code: a fresh virtual library with one
           cartridge (created untimed), then, timed: open the drive (256 KiB records),
           the label, the repository files as archives of at most 256 MiB (tape-out's
           rule for a cartridge of this size: a quarter of its capacity), the session
           index, close. The virtual drive makes each filemark durable (fdatasync) and
           syncs at close, so the data is on disk when the time stops.
   dd:     `dd if=ARCHIVE.tar of=FRESH bs=256K conv=fsync`, a new process each round:
           the tar holds the same files, so dd copies the same bytes (and tar's headers)
           and its copy is on disk (fsync) when it exits. Reading one file is dd's best
           case: `cat FILES | dd` would add a pipe and a second process to dd's side.
3. The verdict: the median over the rounds of the per-round throughput ratio drorch/dd.

What it leaves out of drorch's side: it drives the format layer tape-out writes with
(drorch.targets.tape.format), not TapeOut itself: no `restic copy` into the staging
repository, no catalog records, no changer moves, and not the read-back that tape-out
does before recording anything (which reads every archive again and checks each
SHA-256). A whole tape-out therefore costs more than this row measures.

Usage: .venv/bin/python bench/tape.py [--rounds N] [--size-mb M] [--write-results]
Needs restic and GNU tar; drorch runs in-process (its import is not timed).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from run import (
    MiB,
    base_env,
    conclude,
    generate_tree,
    machine,
    median,
    settle,
    standalone_main,
    verdict,
    work_folder,
)
from run import run as run_command

from drorch.targets.tape.format.archive import ArchiveWriter, Member
from drorch.targets.tape.format.index import ArchiveEntry, Index, write_index
from drorch.targets.tape.format.label import Label, write_label
from drorch.targets.tape.virtual import VirtualLibrary

TARGET_RATIO = 0.8
PART = "tape-out"
RECORD = 256 * 1024
CAPACITY = 1024 * MiB  # one cartridge holds the whole repository
ARCHIVE = CAPACITY // 4  # tape-out's archive limit for it: a quarter of the capacity
BARCODE = "BEN001L8"


# --- the setup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    repo: Path
    files: tuple[tuple[str, Path], ...]  # repository-relative path, file
    tar: Path
    total: int  # bytes in the repository files

    @property
    def archives(self) -> list[list[tuple[str, Path]]]:
        """The files in archives of at most ARCHIVE bytes, in order (a bigger file alone)."""
        batches: list[list[tuple[str, Path]]] = [[]]
        size = 0
        for name, path in self.files:
            length = path.stat().st_size
            if batches[-1] and size + length > ARCHIVE:
                batches.append([])
                size = 0
            batches[-1].append((name, path))
            size += length
        return batches


def prepare(work: Path, tree: Path, restic: str, tar: str) -> Setup:
    password = work / "repo.pass"
    password.write_text("drorch bench tape-out\n", encoding="utf-8")
    password.chmod(0o600)
    env = {
        **base_env(),
        "RESTIC_PASSWORD_FILE": str(password),
        "RESTIC_CACHE_DIR": str(work / "cache"),
    }
    repo = work / "repo"
    run_command([restic, "--repo", repo, "init"], env=env, what="restic init")
    run_command([restic, "--repo", repo, "backup", "--", tree], env=env, what="restic backup")
    files = tuple(
        sorted(
            (path.relative_to(repo).as_posix(), path)
            for path in repo.rglob("*")
            if path.is_file() and not path.is_symlink()
        )
    )
    archive = work / "repository.tar"
    blocking = f"--blocking-factor={RECORD // 512}"
    names = [name for name, _ in files]
    run_command(
        [tar, "--format=pax", blocking, "-cf", archive, "-C", repo, "--", *names],
        what="tar of the repository",
    )
    return Setup(repo, files, archive, sum(path.stat().st_size for _, path in files))


# --- the two sides ----------------------------------------------------------------------------


@dataclass
class Side:
    seconds: float
    cpu: float  # user + system seconds of the process (all its threads) or of dd
    written: int  # bytes in the output file
    parts: dict[str, float] = field(default_factory=dict)


def dd_copy(setup: Setup, target: Path, dd: str) -> Side:
    settle()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run_command(
        [dd, f"if={setup.tar}", f"of={target}", "bs=256K", "conv=fsync", "status=none"],
        what="dd",
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    written = target.stat().st_size
    target.unlink()
    return Side(seconds, cpu, written)


def drorch_tapeout(setup: Setup, folder: Path) -> Side:
    library = VirtualLibrary.create(folder, slots=1, capacity=CAPACITY, barcodes=[BARCODE])
    library.changer().load(1, 0)
    label = Label(
        barcode=BARCODE,
        pool="bench",
        media_set=uuid.uuid4(),
        sequence=1,
        written_at=datetime.now(UTC),
        record_size=RECORD,
    )
    batches = setup.archives
    parts: dict[str, float] = {}
    settle()
    cpu_before = time.process_time()
    started = time.perf_counter()

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        parts[name] = parts.get(name, 0.0) + now - since
        return now

    drive = library.drive(0, record_size=RECORD)
    try:
        mark = lap("open", started)
        write_label(drive, label)
        mark = lap("label", mark)
        entries: list[ArchiveEntry] = []
        for batch in batches:
            with ArchiveWriter(drive) as writer:
                members: list[Member] = [writer.add_file(name, path) for name, path in batch]
                written = writer.finish()
            entries.append(ArchiveEntry(written.file_number, tuple(members)))
            mark = lap("archives", mark)
        index = Index(label, 1 + len(entries), label.written_at, tuple(entries))
        write_index(drive, index)
        mark = lap("index", mark)
    finally:
        drive.close()
    lap("close", mark)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    written = library.cartridge_path(BARCODE).stat().st_size
    shutil.rmtree(folder)
    return Side(seconds, cpu, written, parts)


# --- the benchmark ----------------------------------------------------------------------------


@dataclass
class Report:
    tree_bytes: int
    where: str = ""
    files: int = 0
    archives: int = 0
    total: int = 0  # bytes of repository files
    rounds: list[tuple[str, Side, Side]] = field(default_factory=list)  # order, dd, drorch
    load: list[float] = field(default_factory=list)  # 1-minute load average before, after

    def rate(self, side: Side) -> float:
        """MB/s (10^6 bytes) of repository data."""
        return self.total / side.seconds / 1e6

    def ratio(self, dd: Side, drorch: Side) -> float:
        return self.rate(drorch) / self.rate(dd)

    def med(self, pick: Callable[[Side, Side], float]) -> float:
        return median([pick(dd, d) for _, dd, d in self.rounds])

    @property
    def ratio_median(self) -> float:
        return median([self.ratio(dd, d) for _, dd, d in self.rounds])

    def passed(self) -> bool:
        return self.ratio_median >= TARGET_RATIO


def bench_tape(report: Report, setup: Setup, work: Path, rounds: int, dd: str) -> None:
    print("warm-up (untimed): one dd copy and one drorch tape-out", flush=True)
    dd_copy(setup, work / "dd-warmup.out", dd)
    drorch_tapeout(setup, work / "vtl-warmup")
    print(
        f"{'round':>5}  {'order':<12}  {'dd s':>6}  {'dd MB/s':>8}  "
        f"{'drorch s':>8}  {'drorch MB/s':>11}  {'ratio':>6}"
    )
    for number in range(1, rounds + 1):
        order = "dd,drorch" if number % 2 else "drorch,dd"
        steps: dict[str, Callable[[], Side]] = {
            "dd": lambda n=number: dd_copy(setup, work / f"dd-{n}.out", dd),
            "drorch": lambda n=number: drorch_tapeout(setup, work / f"vtl-{n}"),
        }
        results = {name: steps[name]() for name in order.split(",")}
        copy, tapeout = results["dd"], results["drorch"]
        report.rounds.append((order, copy, tapeout))
        print(
            f"{number:>5}  {order:<12}  {copy.seconds:6.3f}  {report.rate(copy):8.0f}  "
            f"{tapeout.seconds:8.3f}  {report.rate(tapeout):11.0f}  "
            f"{report.ratio(copy, tapeout):6.3f}",
            flush=True,
        )


# --- output -----------------------------------------------------------------------------------


def summary_line(report: Report) -> str:
    ratios = [report.ratio(dd, d) for _, dd, d in report.rounds] or [float("nan")]
    return (
        f"tape-out ({report.total / 1e6:.0f} MB of restic repository files, {report.files} "
        f"files in {report.archives} archives, {len(report.rounds)} rounds): dd bs=256K "
        f"median {report.total / report.med(lambda dd, d: dd.seconds) / 1e6:.0f} MB/s, drorch "
        f"median {report.total / report.med(lambda dd, d: d.seconds) / 1e6:.0f} MB/s, median "
        f"ratio {report.ratio_median:.3f} (per round {min(ratios):.2f}-{max(ratios):.2f}; "
        f"target >= {TARGET_RATIO}) {verdict(report.passed())}"
    )


def breakdown_lines(report: Report) -> list[str]:
    m = report.med
    names: list[str] = []
    for _, _, d in report.rounds:
        names += [n for n in d.parts if n not in names]
    lines = [f"medians over {len(report.rounds)} rounds, seconds:"]
    lines.append(
        f"  dd      {m(lambda dd, d: dd.seconds):.3f} wall, {m(lambda dd, d: dd.cpu):.3f} CPU "
        f"(user+sys); output {m(lambda dd, d: dd.written) / 1e6:.1f} MB"
    )
    lines.append(
        f"  drorch  {m(lambda dd, d: d.seconds):.3f} wall, {m(lambda dd, d: d.cpu):.3f} CPU "
        f"(user+sys, all threads); cartridge file {m(lambda dd, d: d.written) / 1e6:.1f} MB "
        "(AWSTAPE headers, label, index, filemarks)"
    )
    for name in names:
        lines.append(f"    {name:<9} {m(lambda dd, d, n=name: d.parts.get(n, 0.0)):.3f}")
    if report.load:
        lines.append(
            "  load average (1 min) before and after: "
            + ", ".join(f"{value:.2f}" for value in report.load)
        )
    return lines


def results_part(report: Report) -> str:
    info = machine()
    setup = [
        f"machine: `{info['uname']}`; nproc: {info['nproc']}; restic: {info['restic']}; "
        f"python {info['python']}; drorch: commit {info['code']}",
        f"data: {report.tree_bytes / MiB:.0f} MiB of seeded random bytes (bench/run.py's "
        f"generator) backed up by restic into a fresh repository: {report.files} files, "
        f"{report.total / 1e6:.1f} MB; work folder under {report.where}",
        "drorch: in-process, through ArchiveWriter and VirtualDrive: open the drive, the "
        f"label, {report.archives} archives of at most {ARCHIVE // MiB} MiB (records of "
        f"{RECORD // 1024} KiB), the index, close (a {CAPACITY // MiB} MiB cartridge, "
        "created untimed; every filemark and the close fdatasync the cartridge file)",
        "dd: `dd if=REPOSITORY.tar of=FRESH bs=256K conv=fsync` of a GNU tar (pax, 256 KiB "
        "records) of the same files, made untimed. One untimed warm-up of each; rounds "
        "alternate the order; dirty pages are flushed before each timed step; no cache is "
        "dropped (the repository is in the page cache for both)",
        "throughput is the repository's bytes over the wall time, on both sides",
    ]
    rows = [
        f"| {n} | {order} | {dd.seconds:.3f} | {dd.cpu:.3f} | {report.rate(dd):.0f} | "
        f"{d.seconds:.3f} | {d.cpu:.3f} | {report.rate(d):.0f} | {report.ratio(dd, d):.3f} |"
        for n, (order, dd, d) in enumerate(report.rounds, start=1)
    ]
    return "\n".join(
        [
            f"### {PART}",
            "",
            "Written by `bench/tape.py` (`make bench` runs it after the compliance figures).",
            "",
            *(f"- {line}" for line in setup),
            "",
            "| round | order | dd s | dd CPU s | dd MB/s | drorch s | drorch CPU s | drorch MB/s "
            "| ratio |",
            "|---|---|---|---|---|---|---|---|---|",
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
    """The tape-out benchmark's options; bench/run.py adds them with prefix 'tape-'."""
    parser.add_argument(f"--{prefix}rounds", type=int, default=6, help="timed rounds (6)")
    parser.add_argument(
        f"--{prefix}size-mb", type=int, default=500, help="data backed up, in MiB (500)"
    )


def run_bench(args: argparse.Namespace, prefix: str = "") -> tuple[Report, bool]:
    """Run the tape-out benchmark with the parsed options; return the report and success."""
    rounds = getattr(args, f"{prefix}rounds".replace("-", "_"))
    size_mb = getattr(args, f"{prefix}size-mb".replace("-", "_"))
    restic, tar, dd = (shutil.which(name) for name in ("restic", "tar", "dd"))
    if restic is None or tar is None or dd is None:
        sys.exit("bench: restic, tar and dd are needed: run 'make install'")
    if rounds < 1:
        sys.exit(f"bench: --{prefix}rounds must be at least 1")
    report = Report(tree_bytes=size_mb * MiB, where=args.tmp)
    with work_folder(args, "tape") as work:
        tree = work / "tree"
        print(f"generating {size_mb} MiB under {tree}; restic init + backup; tar", flush=True)
        generate_tree(tree, total_bytes=report.tree_bytes, files=max(1, size_mb))
        setup = prepare(work, tree, restic, tar)
        shutil.rmtree(tree)
        report.files, report.total = len(setup.files), setup.total
        report.archives = len(setup.archives)
        report.load.append(os.getloadavg()[0])
        bench_tape(report, setup, work, rounds, dd)
        report.load.append(os.getloadavg()[0])
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
