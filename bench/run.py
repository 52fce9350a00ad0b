"""drorch's performance benchmark (`make bench`): what drorch costs on top of restic.

1. Snapshot overhead: over several rounds, side by side and in alternating order,
   `drorch run JOB snapshot` against bare `restic init && restic backup --json` of
   the same generated tree (300 MB in 3,000 files by default) into fresh
   repositories with fresh caches. Target: median wall-time ratio drorch/bare <= 1.05.
2. Start-up: `drorch --help` (target 0.3 s, next to `python -c pass` as a floor)
   and `drorch status` on a catalog holding a few runs (target 1 s).
3. An incremental snapshot (bench/incremental.py, also runnable alone): nothing changed in
   20,000 small files, `drorch run JOB snapshot` within 1.10x bare `restic backup` of the
   same tree into the same repository.
4. A restore test (bench/restore.py, also runnable alone): `drorch run JOB restore-test`
   within 1.15x bare `restic restore --verify` plus hashing the restored tree in Python.
5. The daemon with 2,000 jobs (bench/daemon.py, also runnable alone): READY=1 within
   5 s, RSS within 250 MB, scheduled runs starting within 1 s of their slot at p99; with
   the catalog on SQLite, then on PostgreSQL (a schema of its own).
6. Compliance (bench/compliance.py, also runnable alone): evaluating 2,000 jobs over
   1,000,000 runs in the catalog within 2 s.
7. Tape-out (bench/tape.py, also runnable alone): writing a 500 MiB restic repository to
   the virtual library (label, archives, index) at >= 0.8x the throughput of
   `dd bs=256K conv=fsync` of the same bytes to one file on the same disk.
8. Takeover (bench/takeover.py, also runnable alone): two daemons on one PostgreSQL
   catalog, the leader SIGKILLed several times; the standby leads within 15 s (median).

Usage: .venv/bin/python bench/run.py [--rounds N] [--skip-daemon] [--skip-restore]
       [--skip-compliance] [--skip-tape] [--skip-incremental] [--skip-takeover]
       [--daemon-only | --restore-only | --compliance-only | --tape-only | --incremental-only
        | --takeover-only]
       [--write-results]
Only the standard library (and psutil for the daemon's memory); drorch itself runs as a
subprocess, as an operator runs it, except for the compliance figures, which time
drorch.policy.evaluate in-process, and the tape-out figures, which time drorch's tape
format and virtual drive in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
DRORCH = VENV_BIN / "drorch"
PYTHON = VENV_BIN / "python"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

TARGET_RATIO = 1.05
TARGET_HELP_S = 0.3
TARGET_STATUS_S = 1.0
JOB = "bench"
SEED = 20240601
MiB = 1024 * 1024

# drorch runs restic with these (drorch/restic/runner.py); bare restic gets the same,
# so the comparison measures drorch and not a different progress rate.
PROGRESS_FPS = "0.2"

DRORCH_YAML = """\
site: bench
jurisdiction: ML
state_dir: state
evidence_key: keys/evidence.ed25519
targets:
  primary: {kind: disk, path: repos/primary, password_file: keys/primary.pass,
            site: bench, jurisdiction: ML}
"""

POLICY_YAML = """\
rpo: 1h
rto: 4h
residency: [ML]
"""


def job_yaml(source: Path) -> str:
    return (
        f"policy: standard\nsource: {{paths: [{json.dumps(str(source))}]}}\n"
        'snapshot: {target: primary, schedule: "every 15m"}\n'
    )


# --- helpers ----------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    """The caller's environment without anything that would steer restic or drorch; drorch
    runs its commands in its own process (no `drorch cli-server`)."""
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("RESTIC_") and k not in ("DRORCH_CONFIG", BENCH_SOCKET_ENV)
        },
        CLI_SOCKET_ENV: "",
    }


# --- drorch cli-server ------------------------------------------------------------------------

CLI_SOCKET_ENV = "DRORCH_CLI_SOCKET"
# Where this benchmark run's server listens, while it runs: in the environment, since the
# parts import this file as `run` while `python bench/run.py` runs it as __main__ (two
# module objects, one global each).
BENCH_SOCKET_ENV = "DRORCH_BENCH_CLI_SOCKET"


@contextlib.contextmanager
def cli_server(folder: Path) -> Iterator[Path]:
    """`drorch cli-server` on a socket of its own, for the drorch side's figures "served": a
    site with contrib/systemd/drorch-cli.socket runs it so. Started untimed, as the socket
    unit starts it on a site's first command; its log is checked at the end (every served
    command logged, no refusal)."""
    folder.mkdir(parents=True, exist_ok=True)
    socket_path, log_path = folder / "cli.sock", folder / "cli-server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(DRORCH), "cli-server", "--socket", str(socket_path)],
            env=base_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while not socket_path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"bench: drorch cli-server did not start:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.05)
    os.environ[BENCH_SOCKET_ENV] = str(socket_path)
    try:
        yield socket_path
    finally:
        del os.environ[BENCH_SOCKET_ENV]
        proc.terminate()
        code = proc.wait(timeout=120)
        refused = [line for line in log_path.read_text().splitlines() if "not serving" in line]
        if code != 0 or refused:
            sys.exit(f"bench: drorch cli-server exited {code}; refusals: {refused[:3]}")


@contextlib.contextmanager
def cli_server_in(tmp: str) -> Iterator[Path]:
    """cli_server() in a folder of its own under `tmp`, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="drorch-bench-cli-server-", dir=tmp))
    try:
        with cli_server(folder) as socket_path:
            yield socket_path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def served_env() -> dict[str, str]:
    """base_env(), with drorch's commands handed to this run's `drorch cli-server`."""
    found = os.environ.get(BENCH_SOCKET_ENV)
    if not found:
        raise RuntimeError("bench: no drorch cli-server is running (use cli_server())")
    return {**base_env(), CLI_SOCKET_ENV: found}


# How drorch's side runs: "served" by the cli-server (the verdict), "direct" in its own
# process (shown beside it).
DRORCH_SIDES = ("served", "direct")


SIDES_LINE = (
    'drorch "served": its command handed to a `drorch cli-server` started untimed before the '
    "rounds (what contrib/systemd/drorch-cli.socket gives a site), the verdict; "
    '"direct": the same command with no server (DRORCH_CLI_SOCKET= empty), shown beside it'
)


def drorch_env(side: str) -> dict[str, str]:
    return served_env() if side == "served" else base_env()


def run(
    argv: Sequence[str | Path], *, env: dict[str, str] | None = None, what: str
) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(a) for a in argv],
        env=env if env is not None else base_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        sys.exit(
            f"bench: {what} failed with exit code {completed.returncode}:\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    return completed


def timed(
    argv: Sequence[str | Path], *, env: dict[str, str] | None = None, what: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    completed = run(argv, env=env, what=what)
    return time.perf_counter() - started, completed


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def settle() -> None:
    """Flush dirty pages of the previous run so its writeback is not billed to the next."""
    os.sync()
    time.sleep(0.5)


# --- the data ---------------------------------------------------------------------------------


def generate_tree(root: Path, *, total_bytes: int, files: int, folders: int = 10) -> None:
    """Seeded, incompressible files of varied size summing exactly to total_bytes."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible test data, not a secret
    average = total_bytes / files
    sizes = [rng.randint(int(average / 4), int(average * 7 / 4)) for _ in range(files)]
    scale = total_bytes / sum(sizes)
    sizes = [max(1, int(size * scale)) for size in sizes]
    sizes[-1] += total_bytes - sum(sizes)
    for number, size in enumerate(sizes):
        folder = root / f"dir{number % folders:02d}" / f"sub{number % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{number:05d}.bin").write_bytes(rng.randbytes(size))


# --- bare restic ------------------------------------------------------------------------------


@dataclass
class BareResult:
    init: float
    backup: float

    @property
    def total(self) -> float:
        return self.init + self.backup


def bare_restic(restic: str, workdir: Path, tree: Path) -> BareResult:
    """`restic init && restic backup --json TREE` into a fresh repository and fresh cache."""
    workdir.mkdir(parents=True)
    password = workdir / "repo.pass"
    fd = os.open(password, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    env = {
        **base_env(),
        "RESTIC_PASSWORD_FILE": str(password),
        "RESTIC_CACHE_DIR": str(workdir / "cache"),
        "RESTIC_PROGRESS_FPS": PROGRESS_FPS,
    }
    repo = str(workdir / "repo")
    settle()
    init, _ = timed([restic, "--repo", repo, "init"], env=env, what="restic init")
    backup, completed = timed(
        [restic, "--repo", repo, "backup", "--json", "--", str(tree)], env=env, what="restic backup"
    )
    if '"message_type":"summary"' not in completed.stdout.replace(" ", ""):
        sys.exit("bench: restic backup printed no summary")
    return BareResult(init=init, backup=backup)


# --- drorch -----------------------------------------------------------------------------------


@dataclass
class DrorchResult:
    total: float
    restic_calls: dict[str, float] = field(default_factory=dict)  # name -> seconds
    processes: int = 0  # restic processes drorch spawned

    @property
    def restic_total(self) -> float:
        return sum(self.restic_calls.values())

    @property
    def outside_restic(self) -> float:
        return self.total - self.restic_total


def make_root(root: Path, source: Path) -> Path:
    """A config root with one disk target (repository not created yet) and one job."""
    (root / "jobs").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "drorch.yaml").write_text(DRORCH_YAML, encoding="utf-8")
    (root / "jobs" / f"{JOB}.yaml").write_text(job_yaml(source), encoding="utf-8")
    (root / "policies" / "standard.yaml").write_text(POLICY_YAML, encoding="utf-8")
    run([DRORCH, "--config", root, "keys", "init"], what="drorch keys init")
    return root


def restic_calls(root: Path) -> tuple[dict[str, float], int]:
    """The restic calls of the newest run, from the artifacts drorch leaves per call.

    Empty when drorch left none where expected (state/runs/ID/NN-NAME.json): the
    breakdown is then missing, the timings themselves are not affected.
    """
    folder = root / "state" / "runs"
    runs = sorted((p for p in folder.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    calls: dict[str, float] = {}
    count = 0
    for artifact in sorted(runs[-1].glob("*-*.json")) if runs else []:
        try:
            seconds = float(json.loads(artifact.read_text(encoding="utf-8"))["duration_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        name = artifact.stem.split("-", 1)[1]
        calls[name] = calls.get(name, 0.0) + seconds
        count += 1
    return calls, count


def drorch_snapshot(workdir: Path, tree: Path, side: str = "served") -> DrorchResult:
    root = make_root(workdir / "root", tree)
    settle()
    total, _ = timed(
        [DRORCH, "--config", root, "run", JOB, "snapshot"],
        env=drorch_env(side),
        what=f"drorch run snapshot ({side})",
    )
    calls, processes = restic_calls(root)
    return DrorchResult(total=total, restic_calls=calls, processes=processes)


# --- the benchmark ----------------------------------------------------------------------------


@dataclass
class Report:
    rounds: list[tuple[str, BareResult, DrorchResult]] = field(default_factory=list)  # served
    direct: list[DrorchResult] = field(default_factory=list)  # the same rounds, direct
    help_runs: list[float] = field(default_factory=list)
    python_runs: list[float] = field(default_factory=list)
    status_runs: list[float] = field(default_factory=list)  # served
    status_direct: list[float] = field(default_factory=list)
    tree_bytes: int = 0
    tree_files: int = 0

    @property
    def bare_median(self) -> float:
        return median([b.total for _, b, _ in self.rounds])

    @property
    def drorch_median(self) -> float:
        return median([d.total for _, _, d in self.rounds])

    @property
    def ratio_median(self) -> float:
        return median([d.total / b.total for _, b, d in self.rounds])

    @property
    def direct_ratio_median(self) -> float:
        return median(
            [d.total / b.total for (_, b, _), d in zip(self.rounds, self.direct, strict=True)]
        )

    @property
    def extra_median(self) -> float:
        """drorch's time beyond the two restic commands bare restic runs too."""
        return median(
            [
                d.total - d.restic_calls.get("init", 0.0) - d.restic_calls.get("backup", 0.0)
                for *_, d in self.rounds
            ]
        )

    def verdicts(self) -> dict[str, bool]:
        return {
            "snapshot": self.ratio_median <= TARGET_RATIO,
            "help": median(self.help_runs) <= TARGET_HELP_S,
            "status": median(self.status_runs) <= TARGET_STATUS_S,
        }


def bench_snapshots(report: Report, restic: str, work: Path, tree: Path, rounds: int) -> None:
    print("warm-up (untimed): one bare backup and one drorch snapshot of the tree", flush=True)
    bare_restic(restic, work / "warmup-bare", tree)
    drorch_snapshot(work / "warmup-drorch", tree)
    shutil.rmtree(work / "warmup-bare")
    shutil.rmtree(work / "warmup-drorch")
    drorch_snapshot(work / "warmup-direct", tree, "direct")
    shutil.rmtree(work / "warmup-direct")
    print(
        f"{'round':>5}  {'order':<20}  {'bare s':>7}  {'(init':>6}  {'backup)':>7}  "
        f"{'served s':>8}  {'ratio':>6}  {'direct s':>8}  {'ratio':>6}"
    )
    for number in range(1, rounds + 1):
        order = round_order(number)
        folder = work / f"round{number}"
        steps: dict[str, Callable[[], object]] = {
            "bare": lambda f=folder: bare_restic(restic, f / "bare", tree),
            **{
                side: lambda f=folder, side=side: drorch_snapshot(f / side, tree, side)
                for side in DRORCH_SIDES
            },
        }
        results = {name: steps[name]() for name in order.split(",")}
        bare, drorch, direct = results["bare"], results["served"], results["direct"]
        assert isinstance(bare, BareResult)
        assert isinstance(drorch, DrorchResult) and isinstance(direct, DrorchResult)
        report.rounds.append((order, bare, drorch))
        report.direct.append(direct)
        print(
            f"{number:>5}  {order:<20}  {bare.total:7.3f}  {bare.init:6.3f}  "
            f"{bare.backup:7.3f}  {drorch.total:8.3f}  {drorch.total / bare.total:6.3f}  "
            f"{direct.total:8.3f}  {direct.total / bare.total:6.3f}",
            flush=True,
        )
        shutil.rmtree(folder)


def round_order(number: int) -> str:
    """Odd rounds bare first, even rounds bare last, drorch served always between: each side
    meets the machine in both states (caches, writeback) as often. Only over an even number
    of rounds: the median of an odd number comes from the order that had one round more,
    and the order moves the ratio (2026-12-01, fc-v857: 1.05-1.08 with bare first, 0.93
    with bare last, and a median of 5 rounds that took 3 of them bare first)."""
    return "bare,served,direct" if number % 2 else "direct,served,bare"


def bench_startup(report: Report, work: Path, help_runs: int, status_runs: int) -> None:
    for _ in range(2):  # warm the page cache and the .pyc files
        run([DRORCH, "--help"], what="drorch --help")
        run([PYTHON, "-c", "pass"], what="python -c pass")
    for _ in range(help_runs):
        report.python_runs.append(timed([PYTHON, "-c", "pass"], what="python -c pass")[0])
        report.help_runs.append(timed([DRORCH, "--help"], what="drorch --help")[0])
    # A small root whose catalog holds a few runs.
    data = work / "status-data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("drorch bench\n", encoding="utf-8")
    (data / "sub" / "b.bin").write_bytes(os.urandom(100_000))
    root = make_root(work / "status-root", data)
    for _ in range(3):
        run([DRORCH, "--config", root, "run", JOB, "snapshot"], what="drorch run (status setup)")
    for side in DRORCH_SIDES:
        run([DRORCH, "--config", root, "status"], env=drorch_env(side), what="drorch status")
    for _ in range(status_runs):
        for side, found in (("served", report.status_runs), ("direct", report.status_direct)):
            status = [DRORCH, "--config", root, "status"]
            found.append(timed(status, env=drorch_env(side), what=f"drorch status ({side})")[0])


# --- output -----------------------------------------------------------------------------------


def breakdown_lines(report: Report) -> list[str]:
    """Where drorch's time goes, medians over the rounds."""
    names: list[str] = []
    for _, _, d in report.rounds:
        names += [n for n in d.restic_calls if n not in names]
    lines = [f"drorch run, median per part over {len(report.rounds)} rounds:"]
    for name in names:
        value = median([d.restic_calls.get(name, 0.0) for _, _, d in report.rounds])
        lines.append(f"  restic {name:<10} {value:7.3f} s")
    in_restic = median([d.restic_total for *_, d in report.rounds])
    processes = median([d.processes for *_, d in report.rounds])
    lines.append(
        f"  restic, all calls {in_restic:7.3f} s ({processes:.0f} restic processes per run)"
    )
    lines.append(
        f"  drorch outside restic (python start-up, imports, config, catalog) "
        f"{median([d.outside_restic for *_, d in report.rounds]):7.3f} s"
    )
    lines.append(
        f"bare restic, median: init {median([b.init for _, b, _ in report.rounds]):.3f} s,"
        f" backup {median([b.backup for _, b, _ in report.rounds]):.3f} s"
    )
    overhead = report.drorch_median - report.bare_median
    lines.append(f"overhead drorch - bare (medians): {overhead:+.3f} s")
    extra = report.extra_median
    lines.append(
        f"drorch's own cost (its run minus its own restic init and backup, which bare restic "
        f"also runs): {extra:.3f} s, i.e. a ratio of {1 + extra / report.bare_median:.3f} "
        "without restic's run-to-run noise"
    )
    direct = median(
        [
            d.total - d.restic_calls.get("init", 0.0) - d.restic_calls.get("backup", 0.0)
            for d in report.direct
        ]
    )
    lines.append(
        f"the same run direct (no cli-server: python start-up and imports in the run): median "
        f"{median([d.total for d in report.direct]):.3f} s, ratio {report.direct_ratio_median:.3f}"
        f", own cost {direct:.3f} s"
    )
    return lines


def summary_lines(report: Report) -> list[str]:
    ok = report.verdicts()
    size = f"{report.tree_bytes / MiB:.0f} MiB in {report.tree_files} files"
    ratios = [d.total / b.total for _, b, d in report.rounds] or [float("nan")]
    return [
        f"snapshot ({size}, {len(report.rounds)} rounds): bare median "
        f"{report.bare_median:.3f} s, drorch (served) median {report.drorch_median:.3f} s, "
        f"median ratio {report.ratio_median:.3f} (per round {min(ratios):.2f}-{max(ratios):.2f}; "
        f"target <= {TARGET_RATIO}) {verdict(ok['snapshot'])}",
        f"drorch --help: median {median(report.help_runs):.3f} s over {len(report.help_runs)} "
        f"runs (python -c pass: {median(report.python_runs):.3f} s; target <= {TARGET_HELP_S} s)"
        f" {verdict(ok['help'])}",
        f"drorch status (served): median {median(report.status_runs):.3f} s over "
        f"{len(report.status_runs)} runs (direct: {median(report.status_direct):.3f} s; "
        f"target <= {TARGET_STATUS_S} s) {verdict(ok['status'])}",
    ]


def machine() -> dict[str, str]:
    def output(*argv: str) -> str:
        completed = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
        return completed.stdout.strip() or "?"

    dirty = output("git", "status", "--porcelain", "--", "drorch") != "?"
    return {
        "uname": output("uname", "-a"),
        "nproc": output("nproc"),
        "restic": output("restic", "version"),
        "python": sys.version.split()[0],
        "code": output("git", "rev-parse", "--short", "HEAD")
        + (" + uncommitted changes in drorch/" if dirty else ""),
    }


def results_section(report: Report, today: str, where: str) -> str:
    info = machine()
    rows = "\n".join(
        f"| {n} | {order} | {b.init:.3f} | {b.backup:.3f} | {b.total:.3f} | {d.total:.3f} | "
        f"{d.total / b.total:.3f} | {x.total:.3f} | {x.total / b.total:.3f} |"
        for n, ((order, b, d), x) in enumerate(
            zip(report.rounds, report.direct, strict=True), start=1
        )
    )
    return textwrap.dedent("""\
        ## {today}

        - machine: `{uname}`
        - nproc: {nproc}; restic: {restic}; python {python}
        - drorch: commit {code}
        - data: {size:.0f} MiB in {files} files of seeded random bytes, under {where}

        - {sides}

        | round | order | bare init s | bare backup s | bare s | {columns} |
        |---|---|---|---|---|---|---|---|---|
        {rows}

        Verdicts:

        {summary}

        Breakdown:

        ```
        {breakdown}
        ```
        """).format(
        today=today,
        size=report.tree_bytes / MiB,
        files=report.tree_files,
        where=where,
        rows=rows,
        summary="\n".join(f"- {line}" for line in summary_lines(report)),
        breakdown="\n".join(breakdown_lines(report)),
        sides=SIDES_LINE,
        columns="drorch served s | ratio | drorch direct s | ratio",
        **info,
    )


HEADER = (
    "# drorch benchmark results\n\n"
    "Written by `make bench` / `.venv/bin/python bench/run.py --write-results`; "
    "one section per date, newest last.\n\n"
    "How to read the snapshot figures: the verdict is the median over the rounds of the "
    "per-round ratio drorch/bare, as the issue asks. `restic init` alone varies by "
    "+-0.5 s from run to run (it calibrates its key derivation on every init), which moves "
    "single-round ratios by +-10 % on a 5 s run; the breakdown therefore also gives "
    "drorch's own cost (its wall time minus the restic init and backup it spawns, which "
    "bare restic runs too), a fixed cost in seconds that does not carry that noise.\n"
)


def _split_parts(day: str) -> tuple[str, list[str]]:
    """A date section: bench/run.py's own text, then the `### NAME` parts of other benches."""
    starts = [match.start() for match in re.finditer(r"(?m)^### ", day)]
    if not starts:
        return day, []
    bounds = [*starts, len(day)]
    return day[: starts[0]], [day[bounds[i] : bounds[i + 1]] for i in range(len(starts))]


def section_name() -> str:
    """Today's date and this machine's kernel release (which names the VM): a section of
    RESULTS.md holds one machine's figures, since rows measured on two machines of the
    same day are not comparable, and one machine's run must not overwrite the other's."""
    return f"{datetime.now().astimezone():%Y-%m-%d}, {os.uname().release}"


def write_results(section: str, today: str, *, part: str | None = None) -> None:
    """Replace today's section (with `part`: only its `### part` subsection), or add it.

    bench/run.py writes the section's own text; bench/daemon.py writes its `### daemon`
    part. Each keeps what the other wrote the same day.
    """
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    marker = f"\n## {today}\n"
    start = text.find(marker)
    if start < 0:
        before, day, after = text, f"## {today}\n", ""
    else:
        end = text.find("\n## ", start + len(marker))
        end = len(text) if end < 0 else end
        before, day, after = text[: start + 1], text[start + 1 : end], text[end:]
    head, parts = _split_parts(day)
    if part is None:
        head = section
    else:
        heading = f"### {part}"
        mine = [
            number
            for number, chunk in enumerate(parts)
            if chunk.split("\n", 1)[0] == heading or chunk.startswith(heading + " ")
        ]
        if mine:
            parts[mine[0]] = section
        else:
            parts.append(section)
    day = "\n".join(chunk.strip("\n") + "\n" for chunk in [head, *parts])
    RESULTS.write_text(before.rstrip("\n") + "\n\n" + day + after, encoding="utf-8")
    print(f"wrote {RESULTS}" + (f" ({part} part)" if part else ""))


DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The PostgreSQL server the benchmarks on PostgreSQL use: $DRORCH_BENCH_PG_URL, else
    $DRORCH_TEST_PG_URL, else the local server every machine of this project has."""
    return os.environ.get("DRORCH_BENCH_PG_URL") or os.environ.get(
        "DRORCH_TEST_PG_URL", DEFAULT_PG_URL
    )


def libpq(url: str) -> str:
    """psycopg's spelling of a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.contextmanager
def schema_on(url: str, name: str) -> Iterator[str]:
    """A fresh schema on the server (dropped at the end); the catalog URL whose
    connections live in it. Exits with the reason when the server cannot be reached."""
    import psycopg  # a drorch dependency; only the PostgreSQL benchmarks need it

    schema = f"bench_{name}_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(libpq(url), autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        sys.exit(f"bench: no PostgreSQL at {url}: {str(exc).strip()}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(libpq(url), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextlib.contextmanager
def work_folder(args: argparse.Namespace, name: str) -> Iterator[Path]:
    """A fresh work folder under --tmp for one benchmark, removed at the end unless --keep."""
    work = Path(tempfile.mkdtemp(prefix=f"drorch-bench-{name}-", dir=args.tmp))
    try:
        yield work
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def conclude(
    args: argparse.Namespace, part: str, blocks: Sequence[str], results: Callable[[], str]
) -> None:
    """Print a benchmark's breakdown and verdicts (blocks, a blank line between), and with
    --write-results put its part into today's section of RESULTS.md."""
    for block in blocks:
        print()
        print(block)
    if args.write_results:
        today = section_name()
        write_results(results(), today, part=part)


# --- main -------------------------------------------------------------------------------------


def existing_folder(value: str) -> str:
    """--tmp: a folder that exists (the bench makes its work folder in it)."""
    if not Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"{value} is not an existing folder")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds", type=int, default=6, help="timed rounds (default 6; even: see round_order)"
    )
    parser.add_argument("--size-mb", type=int, default=300, help="tree size in MiB (default 300)")
    parser.add_argument("--files", type=int, default=3000, help="files in the tree (default 3000)")
    parser.add_argument("--help-runs", type=int, default=15, help="drorch --help runs (15)")
    parser.add_argument("--status-runs", type=int, default=10, help="drorch status runs (10)")
    parser.add_argument(
        "--tmp",
        type=existing_folder,
        default=tempfile.gettempdir(),
        help="where the work folder goes (default: the system temp dir)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--write-results",
        action="store_true",
        help=f"replace today's section in {RESULTS.relative_to(REPO_ROOT)}",
    )
    parser.add_argument("--skip-daemon", action="store_true", help="not the daemon figures")
    parser.add_argument("--skip-restore", action="store_true", help="not the restore-test figures")
    parser.add_argument("--skip-compliance", action="store_true", help="not the compliance figures")
    parser.add_argument("--skip-tape", action="store_true", help="not the tape-out figures")
    parser.add_argument(
        "--skip-incremental", action="store_true", help="not the incremental-snapshot figures"
    )
    parser.add_argument(
        "--skip-takeover", action="store_true", help="not the takeover figures (PostgreSQL)"
    )
    parser.add_argument(
        "--skip-daemon-postgresql",
        action="store_true",
        help="the daemon figures on SQLite only (make bench runs them on both backends)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--daemon-only", action="store_true", help="only the daemon figures (bench/daemon.py)"
    )
    which.add_argument(
        "--restore-only",
        action="store_true",
        help="only the restore-test figures (bench/restore.py)",
    )
    which.add_argument(
        "--compliance-only",
        action="store_true",
        help="only the compliance figures (bench/compliance.py)",
    )
    which.add_argument(
        "--tape-only", action="store_true", help="only the tape-out figures (bench/tape.py)"
    )
    which.add_argument(
        "--incremental-only",
        action="store_true",
        help="only the incremental-snapshot figures (bench/incremental.py)",
    )
    which.add_argument(
        "--takeover-only", action="store_true", help="only the takeover figures (bench/takeover.py)"
    )
    # bench/daemon.py, bench/restore.py, bench/compliance.py and bench/tape.py, beside this
    # file; they import this module's helpers
    import compliance
    import daemon
    import incremental
    import restore
    import takeover
    import tape

    daemon.add_arguments(parser.add_argument_group("daemon benchmark"), prefix="daemon-")
    restore.add_arguments(parser.add_argument_group("restore-test benchmark"), prefix="restore-")
    compliance.add_arguments(
        parser.add_argument_group("compliance benchmark"), prefix="compliance-"
    )
    tape.add_arguments(parser.add_argument_group("tape-out benchmark"), prefix="tape-")
    incremental.add_arguments(
        parser.add_argument_group("incremental-snapshot benchmark"), prefix="incremental-"
    )
    takeover.add_arguments(parser.add_argument_group("takeover benchmark"), prefix="takeover-")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not DRORCH.exists():
        sys.exit(f"bench: {DRORCH} is missing: run 'make install'")
    only = (
        args.daemon_only
        or args.restore_only
        or args.compliance_only
        or args.tape_only
        or args.incremental_only
        or args.takeover_only
    )
    with cli_server_in(args.tmp):
        return 0 if run_parts(args, only) else 1


def run_parts(args: argparse.Namespace, only: bool) -> bool:
    ok = True
    if not only:
        ok = bench_main(args)
    if not args.skip_incremental and (not only or args.incremental_only):
        import incremental

        print(flush=True)
        ok = incremental.run_bench(args, prefix="incremental-")[1] and ok
    if not args.skip_restore and (not only or args.restore_only):
        import restore

        print(flush=True)
        ok = restore.run_bench(args, prefix="restore-")[1] and ok
    if not args.skip_daemon and (not only or args.daemon_only):
        import daemon

        for backend in ("sqlite", "postgresql")[: 1 if args.skip_daemon_postgresql else 2]:
            args.daemon_catalog = backend  # the same benchmark on each catalog backend
            print(flush=True)
            ok = daemon.run_bench(args, prefix="daemon-")[1] and ok
    if not args.skip_takeover and (not only or args.takeover_only):
        import takeover

        print(flush=True)
        ok = takeover.run_bench(args, prefix="takeover-")[1] and ok
    if not args.skip_compliance and (not only or args.compliance_only):
        import compliance

        print(flush=True)
        ok = compliance.run_bench(args, prefix="compliance-")[1] and ok
    if not args.skip_tape and (not only or args.tape_only):
        import tape

        print(flush=True)
        ok = tape.run_bench(args, prefix="tape-")[1] and ok
    return ok


def bench_main(args: argparse.Namespace) -> bool:
    """The snapshot and start-up figures."""
    restic = shutil.which("restic")
    if restic is None:
        sys.exit("bench: restic is not installed: run 'make install'")
    work = Path(tempfile.mkdtemp(prefix="drorch-bench-", dir=args.tmp))
    report = Report(tree_bytes=args.size_mb * MiB, tree_files=args.files)
    try:
        tree = work / "tree"
        print(f"generating {args.size_mb} MiB in {args.files} files under {tree}", flush=True)
        generate_tree(tree, total_bytes=report.tree_bytes, files=args.files)
        bench_snapshots(report, restic, work, tree, args.rounds)
        bench_startup(report, work, args.help_runs, args.status_runs)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("\n".join(breakdown_lines(report)))
    print()
    print("\n".join(summary_lines(report)))
    if args.write_results:
        today = section_name()
        write_results(results_section(report, today, args.tmp), today)
    return all(report.verdicts().values())


def standalone_main(
    argv: Sequence[str] | None,
    *,
    doc: str,
    part: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run_bench: Callable[[argparse.Namespace], tuple[Any, bool]],
) -> int:
    """`python bench/PART.py`: the part's own options, the common ones, one run."""
    parser = argparse.ArgumentParser(
        description=doc.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument(
        "--tmp",
        type=existing_folder,
        default=tempfile.gettempdir(),
        help="where the work folder goes (default: the system temp dir)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--write-results",
        action="store_true",
        help=f"replace the {part} part of today's section in {RESULTS.relative_to(REPO_ROOT)}",
    )
    args = parser.parse_args(argv)
    if not DRORCH.exists():
        sys.exit(f"bench: {DRORCH} is missing: run 'make install'")
    with cli_server_in(args.tmp):
        _, ok = run_bench(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
