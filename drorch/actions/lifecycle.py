"""Run one action of one job: the run row, its folder, and its final status.

The CLI and the daemon both come through `execute`; the action itself only
says what it did (an ActionResult) or raises a DrorchError.
"""

from __future__ import annotations

import logging
import os
import pwd
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drorch import logs
from drorch.action_key import ActionKey, verb_of
from drorch.actions.context import ActionResult, Deadline, RunContext
from drorch.catalog import Catalog, RunRecord, RunStatus, utc_now
from drorch.catalog.locks import Held
from drorch.catalog.outage import PATIENCE
from drorch.config import Config
from drorch.errors import DrorchError, Interrupted, ResticNotFound
from drorch.locks import job_lock_name, lock_for_run, release, stop_renewing, this_process
from drorch.restic import ArtifactDir
from drorch.restic.models import BackupProgress
from drorch.targets import restic_for

log = logging.getLogger(__name__)

Action = Callable[[RunContext], ActionResult]


@dataclass(frozen=True)
class Request:
    """What to run: which action of which job, and how."""

    job: str
    action: str
    options: Any = None
    actor: str = ""
    cancel: threading.Event | None = None
    on_progress: Callable[[BackupProgress], None] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # added to the run's details
    on_start: Callable[[RunRecord], None] | None = None  # once the run is recorded
    slot: datetime | None = None  # the scheduled slot it runs for, claimed with the run


def default_actor() -> str:
    """The login user, by the process's uid: never by LOGNAME or USER, which anybody can
    set (four eyes, and the evidence's actor, rest on it)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid:{os.getuid()}"


def execute(
    config: Config, catalog: Catalog, request: Request, actions: Mapping[str, Action]
) -> RunRecord:
    """Record a run, call the action, and finish the run with the status it earned.

    The job's action is locked in the catalog first: a second run of the same job and
    action, from any process, raises LockBusy naming the holder, and nothing is recorded.
    A run costs two commits: the lock taken with the run's row (and its artifacts
    folder, its slot claim, the daemon's fence check and a read of the planned target's
    repository row), and the run's end with the snapshots it wrote and the lock's release.
    """
    config.job(request.job)
    target = _planned_target(config, request)
    held, run = lock_for_run(
        catalog,
        job_lock_name(request.job, request.action),
        purpose=f"{request.action} of {request.job}",
        # its row read with the lock: opening the repository costs no session of its own
        repositories=() if target is None else (target,),
        run={
            "job": request.job,
            "action": request.action,
            "target": target,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "process": this_process().process,  # the lock's holder, read once per process
            "actor": request.actor or default_actor(),
            "artifacts_root": config.state_dir / "runs",
            "slot": request.slot,
        },
    )
    finish = _Finish(catalog, run, held)
    try:
        if request.on_start is not None:
            request.on_start(run)
        # "replicate:replica" is the replicate action towards replica: one lock, one history
        action = actions[verb_of(request.action)]
        known = catalog.knowing(held.repositories)
        return _perform(config, known, request, action, run, finish)
    finally:
        if not finish.done:  # the run's end did not release it
            release(catalog, held)


@dataclass
class _Finish:
    """The run's final transition, which releases its lock in the same transaction. Tried
    again while the catalog's server is away (restarted, crashed): a run whose end could
    not be written would stay RUNNING, its lock held, while its process lives."""

    catalog: Catalog
    run: RunRecord
    held: Held
    done: bool = False  # the transition was committed, and the lock with it

    def __call__(self, to: RunStatus, **fields: Any) -> RunRecord:
        stop_renewing(self.held)
        ended = self.catalog.transition(
            self.run.id, to, lock=(self.held.name, self.held.token), patience=PATIENCE, **fields
        )
        self.done = True
        return ended


def _perform(
    config: Config,
    catalog: Catalog,
    request: Request,
    action: Action,
    run: RunRecord,
    finish: _Finish,
) -> RunRecord:
    run_dir = config.state_dir / "runs" / str(run.id)
    own = config.job(request.job).timeout_of(request.action)
    limit = own or config.settings.restic.timeout
    deadline = Deadline.after(
        limit,
        f"{request.action} timeout of job {request.job}"
        if own
        else f"restic.timeout; job {request.job} sets no {request.action} timeout",
    )
    restic = restic_for(
        config,
        timeout=limit.total_seconds(),
        deadline=deadline.at,
        deadline_source=str(deadline),
        cancel=request.cancel,
        artifacts=ArtifactDir(run_dir),
    )
    ctx = RunContext(
        config=config,
        catalog=catalog,
        job_name=request.job,
        job=config.job(request.job),
        run_id=run.id,
        restic=restic,
        run_dir=run_dir,
        actor=run.actor,
        clock=utc_now,
        options=request.options,
        cancel=request.cancel,
        on_progress=request.on_progress,
        deadline=deadline,
    )
    with logs.context(job=request.job, run=run.id):
        log.info("%s started", request.action)
        try:
            result = action(ctx)
        except Interrupted as exc:  # the canceller may say why (a daemon deposed)
            why = getattr(request.cancel, "reason", None)
            return finish(RunStatus.CANCELED, error=why or str(exc))
        except KeyboardInterrupt:
            finish(RunStatus.CANCELED, error="canceled by the operator")
            raise
        except ResticNotFound as exc:  # the binary and where it is configured: what to fix
            finish(RunStatus.FAILED, error=str(exc))
            raise
        except DrorchError as exc:
            # The caller reports the outcome (the CLI renders it, the daemon logs it).
            log.info("%s failed: %s", request.action, exc)
            return finish(RunStatus.FAILED, error=str(exc))
        except Exception as exc:
            log.exception("%s failed with an internal error", request.action)
            return finish(RunStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}")
        log.info("%s %s: %s", request.action, result.status.value.lower(), result.summary)
        return finish(
            result.status,
            snapshots=result.snapshots,
            target=result.target,
            error=result.error,
            snapshot_id=result.snapshot_id,
            bytes_processed=result.bytes_processed,
            bytes_added=result.bytes_added,
            files=result.files,
            details={"summary": result.summary, **result.details, **request.details},
        )


def _planned_target(config: Config, request: Request) -> str | None:
    job = config.job(request.job)
    key = ActionKey.parse(request.action)
    if key.verb == "snapshot":
        return job.snapshot.target
    if key.target:
        return key.target
    from_target = getattr(request.options, "from_target", None)
    return from_target or job.snapshot.target
