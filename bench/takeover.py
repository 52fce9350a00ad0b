"""drorch's takeover benchmark (part of `make bench`): two daemons on one PostgreSQL catalog,
the leader SIGKILLed, the time until the standby leads.

Target (issue 15): the standby takes over within 15 s of the leader's SIGKILL, median of
several kills.

What it does:
1. Creates a schema of its own on the PostgreSQL server at $DRORCH_BENCH_PG_URL, else
   $DRORCH_TEST_PG_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/test (dropped at
   the end), and two config roots, node-1 and node-2, alike but for `daemon: {node: ...}`
   and their state dirs: one disk target shared by both, the same keys (`drorch keys init`
   once, copied), one job whose snapshot is scheduled once a year (nothing runs: the
   takeover itself is measured), and `catalog:` pointing both at that schema.
2. Starts both daemons as systemd would (`python service.py --config ROOT`, Type=notify, a
   datagram socket of its own as $NOTIFY_SOCKET each), waits for READY=1 from both and for
   the leadership row to name one of them.
3. K times (5): SIGKILLs the leader's process (the pid of the node row the leadership row
   names), and polls the leadership row every 20 ms until its epoch is raised: that moment
   minus the kill is the takeover time. The killed node's daemon is started again and must
   send READY=1 (as a standby) before the next kill.
4. Stops both with SIGTERM (each must exit 0) and reports the median and the worst takeover.

The daemons run with the defaults a user gets (DRORCH_LEADERSHIP_EVERY unset): a standby
tries for leadership every few seconds, so the figure is about that period plus what a new
leader does before it leads (recovery, catch-up, the plan).

Usage: .venv/bin/python bench/takeover.py [--kills K] [--write-results]
The standard library, psutil and psycopg (drorch's own dependencies); drorch runs as
subprocesses.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from daemon import NotifySocket
from run import (
    DRORCH,
    PYTHON,
    REPO_ROOT,
    base_env,
    conclude,
    libpq,
    machine,
    schema_on,
    server_url,
    standalone_main,
    verdict,
    work_folder,
)
from run import run as run_command

TARGET_S = 15.0
PART = "takeover"
SERVICE = REPO_ROOT / "service.py"
POLL_S = 0.02
READY_WITHIN_S = 60.0

DRORCH_YAML = """\
site: bench
jurisdiction: ML
state_dir: state
evidence_key: keys/evidence.ed25519
catalog: {catalog}
daemon: {{node: {node}}}
targets:
  primary: {{kind: disk, path: {repo}, password_file: keys/primary.pass,
            site: bench, jurisdiction: ML, min_free: 1MiB}}
"""

JOB_YAML = """\
policy: standard
source: {{paths: [{source}]}}
snapshot: {{target: primary, schedule: "0 0 1 1 *"}}
"""

POLICY_YAML = """\
rpo: 400d
rto: 4h
residency: [ML]
"""


def make_roots(work: Path, catalog: str) -> list[Path]:
    source, repo = work / "data", work / "repos" / "primary"
    source.mkdir(parents=True)
    (source / "file").write_text("takeover\n")
    roots = []
    for number in (1, 2):
        root = work / f"node-{number}"
        (root / "jobs").mkdir(parents=True)
        (root / "policies").mkdir()
        (root / "drorch.yaml").write_text(
            DRORCH_YAML.format(catalog=catalog, node=f"node-{number}", repo=repo)
        )
        (root / "jobs" / "bench.yaml").write_text(JOB_YAML.format(source=source))
        (root / "policies" / "standard.yaml").write_text(POLICY_YAML)
        roots.append(root)
    run_command([DRORCH, "--config", roots[0], "keys", "init"], what="drorch keys init")
    shutil.copytree(roots[0] / "keys", roots[1] / "keys")
    return roots


@dataclass
class Daemon:
    root: Path
    work: Path
    process: subprocess.Popen[bytes] | None = None
    socket: NotifySocket | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        path = self.work / f"{self.root.name}-{self.starts}.notify"
        self.socket = NotifySocket(path)
        log = open(self.work / f"{self.root.name}-{self.starts}.log", "wb")  # noqa: SIM115
        env = {**base_env(), "NOTIFY_SOCKET": str(path)}
        self.process = subprocess.Popen(
            [str(PYTHON), str(SERVICE), "--config", str(self.root)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def wait_ready(self) -> None:
        assert self.socket is not None and self.process is not None
        deadline = time.monotonic() + READY_WITHIN_S
        while self.socket.first("READY=1") is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"bench: the daemon of {self.root.name} did not send READY=1: {self.log}")
            time.sleep(0.05)

    @property
    def log(self) -> Path:
        return self.work / f"{self.root.name}-{self.starts}.log"

    def stop(self, how: signal.Signals) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(how)
        code = self.process.wait(timeout=120)
        self.process = None
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        return code


def leader(connection: psycopg.Connection[Any]) -> tuple[int, int | None]:
    """(epoch, pid of the leading daemon) from the catalog."""
    row = connection.execute(
        "SELECT l.epoch, n.pid FROM leadership l LEFT JOIN nodes n ON n.id = l.node_id "
        "WHERE l.id = 1"
    ).fetchone()
    assert row is not None, "the catalog has no leadership row"
    return int(row[0]), row[1]


@dataclass
class Report:
    kills: int
    takeovers: list[float] = field(default_factory=list)
    leaders: list[str] = field(default_factory=list)
    stopped_cleanly: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.takeovers) if self.takeovers else float("inf")

    def passed(self) -> bool:
        return len(self.takeovers) == self.kills and self.median <= TARGET_S


def bench_kills(report: Report, daemons: list[Daemon], url: str) -> None:
    with psycopg.connect(libpq(url), autocommit=True) as connection:
        deadline = time.monotonic() + READY_WITHIN_S
        epoch, pid = leader(connection)
        while pid is None or epoch < 1:
            if time.monotonic() > deadline:
                sys.exit("bench: no daemon became leader")
            time.sleep(POLL_S)
            epoch, pid = leader(connection)
        for kill in range(1, report.kills + 1):
            epoch, pid = leader(connection)
            [victim] = [d for d in daemons if d.process is not None and d.process.pid == pid]
            victim.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
            killed = time.monotonic()
            deadline = killed + 10 * TARGET_S
            new_epoch, new_pid = epoch, pid
            while new_epoch == epoch:
                if time.monotonic() > deadline:
                    print(f"kill {kill}: no takeover within {10 * TARGET_S:.0f} s")
                    return
                time.sleep(POLL_S)
                new_epoch, new_pid = leader(connection)
            took = time.monotonic() - killed
            heir = next(d.root.name for d in daemons if d.process and d.process.pid == new_pid)
            report.takeovers.append(took)
            report.leaders.append(heir)
            print(
                f"kill {kill}: {victim.root.name} killed, {heir} leads (epoch {new_epoch}) "
                f"after {took:.2f} s",
                flush=True,
            )
            victim.stop(signal.SIGKILL)
            victim.start()
            victim.wait_ready()


def summary_line(report: Report) -> str:
    if not report.takeovers:
        return (
            f"takeover after SIGKILL of the leader: none measured (target <= {TARGET_S:.0f} s) FAIL"
        )
    return (
        f"takeover after SIGKILL of the leader: median {report.median:.2f} s over "
        f"{len(report.takeovers)} of {report.kills} kills (worst {max(report.takeovers):.2f} s; "
        f"target <= {TARGET_S:.0f} s) {verdict(report.passed())}"
    )


def results_part(report: Report) -> str:
    info = machine()
    figures = ", ".join(f"{t:.2f}" for t in report.takeovers) or "none"
    return "\n".join(
        [
            f"### {PART}",
            "",
            "Written by `bench/takeover.py` (`make bench` runs it after the daemon figures).",
            "",
            f"- machine: `{info['uname']}`; nproc: {info['nproc']}; python {info['python']}; "
            f"drorch: commit {info['code']}",
            "- two daemons (service.py, Type=notify) on one PostgreSQL catalog (a schema of "
            "their own), defaults as shipped; the leader SIGKILLed "
            f"{report.kills} times, the killed daemon started again as a standby each time",
            "",
            "| row | figure | target | |",
            "|---|---|---|---|",
            f"| takeover (kill to the raised epoch), median | {report.median:.2f} s | "
            f"<= {TARGET_S:.0f} s | {verdict(report.passed())} |",
            f"| each kill, s | {figures} | | |",
            f"| both daemons stopped by SIGTERM with exit 0 | {report.stopped_cleanly} | | |",
            "",
        ]
    )


def add_arguments(parser: Any, prefix: str = "") -> None:
    """The takeover benchmark's options; bench/run.py adds them with prefix 'takeover-'."""
    parser.add_argument(f"--{prefix}kills", type=int, default=5, help="leader kills (5)")


def run_bench(args: argparse.Namespace, prefix: str = "") -> tuple[Report, bool]:
    """Run the takeover benchmark with the parsed options; return the report and success."""
    kills = getattr(args, f"{prefix}kills".replace("-", "_"))  # argparse's dest
    if kills < 1:
        sys.exit(f"bench: --{prefix}kills must be at least 1")
    report = Report(kills=kills)
    url = server_url()
    with ExitStack() as stack:
        catalog = stack.enter_context(schema_on(url, PART))
        work = stack.enter_context(work_folder(args, PART))
        daemons = [Daemon(root, work) for root in make_roots(work, catalog)]
        for daemon in daemons:
            stack.callback(daemon.stop, signal.SIGKILL)  # whatever happens
            daemon.start()
        for daemon in daemons:
            daemon.wait_ready()
        print("two daemons ready; killing the leader", flush=True)
        bench_kills(report, daemons, catalog)
        report.stopped_cleanly = all(d.stop(signal.SIGTERM) == 0 for d in daemons)
    conclude(args, PART, [summary_line(report)], lambda: results_part(report))
    return report, report.passed()


def main(argv: Sequence[str] | None = None) -> int:
    return standalone_main(
        argv, doc=__doc__ or "", part=PART, add_arguments=add_arguments, run_bench=run_bench
    )


if __name__ == "__main__":
    sys.exit(main())
