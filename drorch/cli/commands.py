"""Command handlers: thin, each opens what it needs, calls into drorch, and renders."""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from drorch.action_key import REPLICATE, ActionKey, replicate_key
from drorch.catalog import Catalog, RunRecord, RunStatus, utc_now
from drorch.cli.opening import open_command_catalog
from drorch.cli.render import duration, iso_utc, local, local_times, print_json, print_table
from drorch.config import Config, load_config, resolve_root
from drorch.config.units import format_size
from drorch.errors import EXIT_FAILED, ConfigError, UsageError


def _config(args: argparse.Namespace, *, check_secrets: bool = True) -> Config:
    return load_config(resolve_root(args.config), check_secrets=check_secrets)


def _catalog(config: Config) -> Catalog:
    return open_command_catalog(config)


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "job": run.job,
        "action": run.action,
        "target": run.target,
        "status": run.status.value,
        "started_at": iso_utc(run.started_at),
        "finished_at": iso_utc(run.finished_at),
        "error": run.error,
    }


# --- validate -------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    root = resolve_root(args.config)
    try:
        config = load_config(root, check_metrics=True)
    except ConfigError as exc:
        if not args.json:
            raise
        print_json(
            {
                "valid": False,
                "root": str(root),
                "errors": [
                    {"file": i.file, "line": i.line, "field": i.field, "message": i.message}
                    for i in exc.issues
                ],
            }
        )
        return exc.exit_code
    counts = {
        "jobs": len(config.jobs),
        "policies": len(config.policies),
        "runbooks": len(config.runbooks),
        "targets": len(config.targets),
    }
    if args.json:
        print_json({"valid": True, "root": str(root), "errors": [], **counts})
    else:
        print(f"{root}: valid ({', '.join(f'{n} {k}' for k, n in counts.items())})")
    return 0


# --- run ------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from drorch.actions import ACTIONS, RUNNABLE, execute, request_for

    if args.action not in RUNNABLE:
        raise UsageError(f"unknown action {args.action!r} (available: {', '.join(RUNNABLE)})")
    if args.to and args.action != REPLICATE:
        raise UsageError("--to goes with replicate")
    if (args.from_target or args.snapshot) and args.action != "restore-test":
        raise UsageError("--from and --snapshot go with restore-test")
    config = _config(args)
    job = config.job(args.job)
    keys = [args.action]
    if args.action == REPLICATE:
        destinations = [r.to for r in job.replicate]
        if args.to and args.to not in destinations:
            raise UsageError(
                f"job {args.job} does not replicate to {args.to!r} "
                f"(it replicates to: {', '.join(destinations) or 'nothing'})"
            )
        if not destinations:
            raise UsageError(f"job {args.job} has no replicate: entries")
        keys = [replicate_key(to) for to in ([args.to] if args.to else destinations)]
    options = None
    if args.action == "restore-test":
        from drorch.actions import RestoreTestOptions

        if args.from_target:
            config.target(args.from_target)
        options = RestoreTestOptions(from_target=args.from_target, snapshot=args.snapshot)
    catalog = _catalog(config)
    runs = []
    with _sigterm_cancels() as cancel:
        for key in keys:
            if cancel.is_set():
                break
            progress = _Progress() if sys.stderr.isatty() and not args.json else None
            request = request_for(
                args.job, key, on_progress=progress, options=options, cancel=cancel
            )
            runs.append(execute(config, catalog, request, ACTIONS))
            if progress is not None:
                progress.clear()
    if args.json and runs:
        shown = [_run_result_json(run) for run in runs]
        print_json(shown[0] if len(shown) == 1 else shown)
    codes = [_report_run(run, as_json=args.json) for run in runs]
    return _unless_terminated(cancel, max(codes, default=0))


# As a shell reports a process ended by SIGTERM; Ctrl-C (SIGINT) exits 130.
EXIT_TERMINATED = 128 + signal.SIGTERM


@contextlib.contextmanager
def _sigterm_cancels() -> Iterator[threading.Event]:
    """While a run goes on in the foreground, SIGTERM cancels it as the daemon's stop does:
    restic (or a before hook) gets SIGINT and removes its lock, the run ends CANCELED,
    after hooks still run; then the command exits EXIT_TERMINATED."""
    cancel = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: cancel.set())
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGTERM, previous)


def _unless_terminated(cancel: threading.Event, code: int) -> int:
    if not cancel.is_set():
        return code
    print("drorch: terminated by SIGTERM", file=sys.stderr)
    return EXIT_TERMINATED


def _run_result_json(run: RunRecord) -> dict[str, Any]:
    return {
        **_run_json(run),
        "snapshot_id": run.snapshot_id,
        "summary": (run.details or {}).get("summary"),
    }


def _report_run(run: RunRecord, *, as_json: bool) -> int:
    """Say how a run ended (unless the caller prints JSON); its exit code."""
    if not as_json:
        summary = (run.details or {}).get("summary") or ""
        print(
            f"run {run.id}: {run.action} of {run.job} {run.status.value} "
            f"in {duration(run.duration)}" + (f": {summary}" if summary else "")
        )
        if run.error:
            print(f"drorch: error: {run.error}", file=sys.stderr)
    return 0 if run.status is RunStatus.SUCCEEDED else EXIT_FAILED


class _Progress:
    """A one-line progress display on a terminal."""

    def __call__(self, progress: Any) -> None:
        sys.stderr.write(
            f"\r  {progress.percent_done * 100:5.1f}%  {progress.files_done}/"
            f"{progress.total_files} files  {format_size(progress.bytes_done)}/"
            f"{format_size(progress.total_bytes)}   "
        )
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r" + " " * 70 + "\r")


# --- runs, snapshots, status ------------------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    config = _config(args, check_secrets=False)
    if args.job:
        config.job(args.job)
    runs = _catalog(config).runs(job=args.job, limit=args.limit or None)
    if args.json:
        print_json([_run_json(run) for run in runs])
        return 0
    print_table(
        ["id", "job", "action", "target", "status", "started", "duration", "error"],
        [
            (
                r.id,
                r.job,
                r.action,
                r.target,
                r.status.value,
                local(r.started_at),
                duration(r.duration),
                _short(r.error),
            )
            for r in runs
        ],
        empty="no runs yet",
    )
    return 0


def _short(text: str | None, width: int = 70) -> str | None:
    if text is None:
        return None
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def cmd_snapshots(args: argparse.Namespace) -> int:
    """One row per snapshot on each target, with its own id there: a copy made by
    replication has an id of its own (restic's), shown beside the id of its source."""
    from drorch.catalog import SnapshotStatus
    from drorch.cli.render import RED

    config = _config(args, check_secrets=False)
    if args.job:
        config.job(args.job)
    if args.target:
        config.target(args.target)
    catalog = _catalog(config)
    snapshots = catalog.snapshots(job=args.job, target=args.target)
    holders = catalog.holders(job=args.job)  # keyed by the original snapshot's id
    if args.json:
        print_json(
            [
                {
                    "id": s.snapshot_id,  # its own id on `target`
                    "time": iso_utc(s.time),
                    "job": s.job,
                    "target": s.target,
                    "size": s.size,
                    "files": s.files,
                    "original": s.original_id,  # a copy's source id; null for an original
                    "status": s.status.value,
                    "targets": holders[s.original_id or s.snapshot_id],
                }
                for s in snapshots
            ]
        )
        return 0
    print_table(
        ["id", "time", "job", "target", "copy of", "status", "files", "size"],
        [
            (
                s.short_id,
                local(s.time),
                s.job,
                s.target,
                s.original_id[:8] if s.original_id else None,
                s.status.value,
                s.files,
                format_size(s.size) if s.size is not None else None,
            )
            for s in snapshots
        ],
        empty="no snapshots yet",
        colors={s.value: RED for s in SnapshotStatus if s is not SnapshotStatus.COMPLETE},
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from drorch.gcpause import paused_gc

    # 2,000 jobs' config, 10,000 runs and rows: no collection walks them all meanwhile.
    with paused_gc():
        return _status(args)


def _status(args: argparse.Namespace) -> int:
    from drorch.catalog.daemon import UP_WITHIN
    from drorch.catalog.facts import replication_lags
    from drorch.catalog.nodes import NodeStatus, overview
    from drorch.cli.node_commands import leader_line
    from drorch.scheduler.plan import schedules_of

    config = _config(args, check_secrets=False)
    catalog = _catalog(config)
    last = catalog.last_runs()
    running = catalog.runs(status=[RunStatus.RUNNING])
    seen = overview(catalog)
    nodes = [n for n in seen.nodes if n.status is NodeStatus.UP]
    now = utc_now()
    plans = {name: schedules_of(job) for name, job in sorted(config.jobs.items())}
    parse = functools.cache(ActionKey.parse)  # 10,000 actions, a few distinct keys
    routes = [
        (name, config.jobs[name].snapshot.target, key.target)
        for name, actions in plans.items()
        for key in map(parse, actions)
        if key.verb == REPLICATE and key.target
    ]
    lags = replication_lags(catalog, routes, now)
    upcoming = _next_fires(now)
    rows = []  # (job, action, schedule, last run, next time, replication lag in seconds)
    for name, actions in plans.items():
        for action, schedule in actions.items():
            run = last.get((name, action))
            if schedule is None and run is None:
                continue
            start = run.started_at if run else None
            key = parse(action)
            lag = lags.get((name, key.target)) if key.verb == REPLICATE and key.target else None
            seconds = None if lag is None else lag.total_seconds()
            rows.append((name, action, schedule, run, upcoming(schedule, start), seconds))
    if args.json:
        print_json(
            {
                "root": str(config.root),
                "daemon": {
                    "up": bool(nodes),
                    "epoch": seen.epoch,
                    "leader": seen.leader,
                    "nodes": [
                        {
                            "name": n.name,
                            "role": "leader" if n.leader else "standby",
                            "draining": n.draining,
                            "host": n.host,
                            "pid": n.pid,
                            "started_at": iso_utc(n.started_at),
                            "heartbeat_at": iso_utc(n.heartbeat_at),
                            "version": n.version,
                        }
                        for n in nodes
                    ],
                },
                "jobs": [
                    {
                        "job": name,
                        "action": action,
                        "schedule": str(schedule) if schedule else None,
                        "last_run": _run_json(run) if run else None,
                        "last_duration_s": run.duration if run else None,
                        "next_at": iso_utc(next_at),
                        "replication_lag_s": lag,
                    }
                    for name, action, schedule, run, next_at, lag in rows
                ],
                "running": [
                    {
                        "id": r.id,
                        "job": r.job,
                        "action": r.action,
                        "pid": r.pid,
                        "host": r.host,
                        "started_at": iso_utc(r.started_at),
                    }
                    for r in running
                ],
            }
        )
        return 0
    print(f"config root: {config.root}")
    for n in nodes:
        role = "leader" if n.leader else "standby"
        print(
            f"daemon: up on {n.host} as node {n.name}, {role}"
            + (", drained" if n.draining else "")
            + f" (pid {n.pid}, drorch {n.version}), since {local(n.started_at)}"
        )
    if not nodes:
        print(f"daemon: not running (no heartbeat in the last {int(UP_WITHIN.total_seconds())}s)")
    elif len(seen.nodes) > 1 or seen.leader is None:
        print(leader_line(seen))
    shown = functools.cache(local)  # a few hundred next times, shared by 10,000 rows
    when = local_times()  # 10,000 last times, a few hundred minutes
    print_table(
        ["job", "action", "schedule", "last", "when", "duration", "next", "lag"],
        [
            (
                name,
                action,
                schedule,
                run.status.value if run else "never",
                when(run.started_at) if run else None,
                duration(run.duration if run else None),
                shown(next_at) if next_at else None,
                duration(lag) if lag is not None else None,
            )
            for name, action, schedule, run, next_at, lag in rows
        ],
        empty="no jobs",
    )
    print()
    print_table(
        ["run", "job", "action", "pid", "host", "since"],
        [(r.id, r.job, r.action, r.pid, r.host, local(r.started_at)) for r in running],
        empty="nothing running",
    )
    return 0


def _next_fires(now: Any) -> Callable[[Any, Any], Any]:
    """next_fire(schedule, after=now, last=...) (a Schedule or None, a datetime or None), a
    cron expression's computed once for all the jobs sharing it (it does not depend on the
    last run; an interval does)."""
    from drorch.config.schedule import next_fire

    crons: dict[str, Any] = {}

    def upcoming(schedule: Any, last: Any) -> Any:
        if schedule is None:
            return None
        if schedule.cron is None:
            return next_fire(schedule, after=now, last=last)
        if schedule.cron not in crons:
            crons[schedule.cron] = next_fire(schedule, after=now)
        return crons[schedule.cron]

    return upcoming


# --- restore --------------------------------------------------------------------------------


def cmd_restore(args: argparse.Namespace) -> int:
    from drorch.actions import ACTIONS, Request, RestoreOptions, execute
    from drorch.actions.restore import check_destination, find_snapshot
    from drorch.cli.progress import ProgressView

    config = _config(args)
    job = config.job(args.job)
    source = args.from_target or job.snapshot.target
    config.target(source)
    # Bad input is refused before anything is recorded.
    check_destination(Path(args.to), force=args.force)
    catalog = _catalog(config)
    snapshot = find_snapshot(catalog, args.job, source, args.snapshot)
    view = ProgressView(sys.stderr)  # stderr: stdout may be --json
    label = f"restoring {snapshot.short_id} of {args.job}"
    options = RestoreOptions(
        to=Path(args.to),
        snapshot=snapshot.snapshot_id,
        from_target=source,
        includes=tuple(args.include),
        force=args.force,
        verify=args.verify,
        on_progress=lambda progress: view.update(label, progress),
    )
    with _sigterm_cancels() as cancel:
        request = Request(job=args.job, action="restore", options=options, cancel=cancel)
        try:
            run = execute(config, catalog, request, ACTIONS)
        finally:
            view.finish()
    if args.json:
        print_json(_run_result_json(run))
    return _unless_terminated(cancel, _report_run(run, as_json=args.json))


# --- keys -----------------------------------------------------------------------------------


def cmd_keys_init(args: argparse.Namespace) -> int:
    from drorch.keys import init_keys

    config = _config(args, check_secrets=False)
    signed_by = None if config.settings.evidence_key.exists() else _log_key_id(config)
    created = init_keys(config.settings, log_signed_by=signed_by)
    for path in created:
        print(f"created {path}")
    if not created:
        print("all password files and the evidence key exist; nothing created")
    return 0


def _log_key_id(config: Config) -> str | None:
    """The key the catalog's evidence log is signed with; None when it holds no records,
    or when there is no catalog yet (a first `keys init` creates none)."""
    from drorch.catalog.database import default_url, sqlite_file
    from drorch.evidence.log import log_key_id
    from drorch.state import open_config_catalog

    database = sqlite_file(config.settings.catalog or default_url(config.state_dir))
    if database is not None and not database.exists():
        return None
    catalog = open_config_catalog(config)
    try:
        return log_key_id(catalog)
    finally:
        catalog.close()


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from drorch.keys import rotate_evidence_key

    config = _config(args)
    catalog = _catalog(config)
    done = rotate_evidence_key(config.settings.evidence_key, catalog, args.reason)
    if args.json:
        print_json(
            {
                "old_key_id": done.old_key_id,
                "new_key_id": done.new_key_id,
                "rotation_seq": done.seq,
                "retired_key_file": str(done.retired),
            }
        )
        return 0
    print(f"evidence key rotated: {done.old_key_id} -> {done.new_key_id}")
    print(f"record {done.seq} (key-rotation), signed by {done.old_key_id}, names the new key;")
    print(f"records after it are signed by {done.new_key_id}.")
    print(f"the old key file is kept at {done.retired}; keep it offline, it signs nothing more.")
    print("give auditors the new public key: drorch keys export-public")
    print("a running daemon takes the new key at its next record.")
    return 0


def cmd_keys_export_public(args: argparse.Namespace) -> int:
    from drorch.keys import public_key_pem

    sys.stdout.write(public_key_pem(_config(args, check_secrets=False).settings))
    return 0


# --- demo, daemon ---------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from drorch.demo import run_demo

    return run_demo(Path(args.dir))


def cmd_daemon(args: argparse.Namespace) -> int:
    from drorch.service.daemon import run_daemon

    return run_daemon(resolve_root(args.config))


def cmd_cli_server(args: argparse.Namespace) -> int:
    from drorch import logs
    from drorch.cli.served import socket_path
    from drorch.cli.server import serve

    path = args.socket or socket_path()
    if not path:
        raise UsageError("cli-server: no socket (--socket PATH, or DRORCH_CLI_SOCKET)")
    logs.configure(max(args.verbose, 1))
    return serve(path)


# --- handlers in their own modules, imported when used: a command loads only what it needs
# (`drorch run` does not load the evidence, policy, tape or runbook code) -----------------


def _imported_when_used(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(module), name)(args))

    return handler


_EVIDENCE = "drorch.cli.evidence_commands"
cmd_evidence_list = _imported_when_used(_EVIDENCE, "cmd_evidence_list")
cmd_evidence_show = _imported_when_used(_EVIDENCE, "cmd_evidence_show")
cmd_evidence_export = _imported_when_used(_EVIDENCE, "cmd_evidence_export")
cmd_evidence_verify = _imported_when_used(_EVIDENCE, "cmd_evidence_verify")
cmd_evidence_checkpoint = _imported_when_used(_EVIDENCE, "cmd_evidence_checkpoint")
cmd_catalog_rebuild = _imported_when_used("drorch.cli.catalog_commands", "cmd_catalog_rebuild")
cmd_compliance = _imported_when_used("drorch.cli.compliance_commands", "cmd_compliance")
cmd_metrics = _imported_when_used("drorch.cli.metrics_commands", "cmd_metrics")
_NODE = "drorch.cli.node_commands"
cmd_node_list = _imported_when_used(_NODE, "cmd_node_list")
cmd_node_drain = _imported_when_used(_NODE, "cmd_node_drain")
cmd_node_resume = _imported_when_used(_NODE, "cmd_node_resume")

_TAPE, _TAPE_MEDIA = "drorch.cli.tape_commands", "drorch.cli.tape_media_commands"
cmd_tape_inventory = _imported_when_used(_TAPE, "cmd_tape_inventory")
cmd_tape_status = _imported_when_used(_TAPE, "cmd_tape_status")
cmd_tape_list = _imported_when_used(_TAPE, "cmd_tape_list")
cmd_tape_label = _imported_when_used(_TAPE_MEDIA, "cmd_tape_label")
cmd_tape_export = _imported_when_used(_TAPE_MEDIA, "cmd_tape_export")
cmd_tape_import = _imported_when_used(_TAPE_MEDIA, "cmd_tape_import")
cmd_tape_scan = _imported_when_used(_TAPE_MEDIA, "cmd_tape_scan")

# --- runbook (handlers in runbook_commands, imported when used) -------------------------------

_RUNBOOK = "drorch.cli.runbook_commands"
cmd_runbook_list = _imported_when_used(_RUNBOOK, "cmd_runbook_list")
cmd_runbook_show = _imported_when_used(_RUNBOOK, "cmd_runbook_show")
cmd_runbook_run = _imported_when_used(_RUNBOOK, "cmd_runbook_run")
cmd_runbook_resume = _imported_when_used(_RUNBOOK, "cmd_runbook_resume")
cmd_runbook_approve = _imported_when_used(_RUNBOOK, "cmd_runbook_approve")
cmd_runbook_abort = _imported_when_used(_RUNBOOK, "cmd_runbook_abort")
cmd_runbook_history = _imported_when_used(_RUNBOOK, "cmd_runbook_history")
cmd_runbook_status = _imported_when_used(_RUNBOOK, "cmd_runbook_status")
