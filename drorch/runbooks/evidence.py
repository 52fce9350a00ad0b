"""The evidence record of a runbook run: who ran it, who approved, each step and how it
ended, and per job restored the achieved restore time against its policy's RTO."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from drorch import __version__
from drorch.catalog import Catalog, RunStatus
from drorch.catalog.models import StepStatus
from drorch.config import Config
from drorch.runbooks.views import RunView, _iso

KIND = "runbook"


def record_of(
    config: Config,
    run: RunView,
    status: RunStatus,
    error: str | None,
    *,
    finished_at: datetime,
) -> dict[str, Any]:
    """The record of `run` ending now (`finished_at`) with `status` and `error`. Title and
    drill come from what the run recorded when it started: a runbook changed or removed
    since does not change what this run was."""
    steps = [_step(s.as_dict()) for s in run.steps]
    started = run.run.started_at
    recovery = recovery_rows(config, run)
    jobs = sorted({r["job"] for r in recovery})
    failed = [s for s in steps if s["status"] in (StepStatus.FAILED, StepStatus.INTERRUPTED)]
    reasons = [f"step {s['name']}: {s['error']}" for s in failed if s.get("error")]
    if error and not reasons:
        reasons.append(error)
    return {
        "actor": run.run.actor,
        "job": jobs[0] if len(jobs) == 1 else None,
        "jobs": jobs,
        "runbook": {
            "name": run.runbook,
            "title": run.details.get("title"),
            "sha256": run.details.get("sha256"),
        },
        "run": run.id,
        "drill": bool(run.details.get("drill")),
        "params": run.params,
        "started_at": _iso(started),
        "finished_at": _iso(finished_at),
        "duration_s": (finished_at - started).total_seconds() if started else None,
        "status": status.value,
        "result": "pass" if status is RunStatus.SUCCEEDED else "fail",
        "reasons": reasons,
        "approvals": [
            {"step": s["name"], "by": s["approved_by"], "at": s["finished_at"]}
            for s in steps
            if s.get("approved_by")
        ],
        "steps": steps,
        "recovery": recovery,
        "versions": {"drorch": __version__},
    }


def sealed_before(catalog: Catalog, fields: dict[str, Any]) -> int | None:
    """The seq of a record already sealing this run with this very outcome (its process
    died between the record and the run's end: the next seal finds it, and does not
    write a second one), or None."""
    from drorch.catalog.evidence import records_of_kind

    outcome = _outcome(fields)
    for record in reversed(records_of_kind(catalog, KIND)):
        data = record.data
        if data.get("run") == fields["run"]:
            return record.seq if _outcome(data) == outcome else None
    return None


def _outcome(fields: dict[str, Any]) -> tuple[Any, ...]:
    return (
        fields.get("status"),
        tuple((s.get("name"), s.get("status"), s.get("attempts")) for s in fields.get("steps", [])),
    )


def recovery_rows(config: Config, run: RunView) -> list[dict[str, Any]]:
    """Per restore step done: how long the restore took (the step: staging from tape,
    listing and restic restore), and how long after the run started the job was back."""
    rows = []
    for step in run.steps:
        latest = step.latest
        if step.kind != "restore" or latest is None or not step.done or not latest.outputs:
            continue
        out = latest.outputs
        job = config.jobs.get(str(out.get("job")))
        rto_s = int(config.policy_of(job).rto.total_seconds()) if job else None
        restore_s = latest.duration
        started = run.run.started_at
        back_after = (
            (latest.finished_at - started).total_seconds()
            if started and latest.finished_at
            else None
        )
        rows.append(
            {
                "step": step.name,
                "job": out.get("job"),
                "policy": job.policy if job else None,
                "target": out.get("target"),
                "snapshot": out.get("snapshot"),
                "bytes": out.get("bytes"),
                "restore_s": round(restore_s, 3) if restore_s is not None else None,
                "recovered_after_s": round(back_after, 3) if back_after is not None else None,
                "rto_s": rto_s,
                "within": rto_s is not None and restore_s is not None and restore_s <= rto_s,
            }
        )
    return rows


def _step(step: dict[str, Any]) -> dict[str, Any]:
    """A step as evidence: the view's fields, its inputs, and the snapshot restored."""
    out = step.get("outputs") or {}
    kept = {k: v for k, v in step.items() if k != "outputs"}
    if out.get("snapshot"):
        kept["job"] = out.get("job")
        kept["target"] = out.get("target")
        kept["snapshot"] = {
            "id": out.get("snapshot"),
            "time": out.get("snapshot_time"),
            "status": out.get("snapshot_status"),
            "bytes": out.get("bytes"),
            "files": out.get("files"),
        }
    if out.get("checks"):
        kept["checks"] = out["checks"]
    return kept


def file_digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def append(config: Config, catalog: Catalog, fields: dict[str, Any]) -> int:
    from drorch.evidence.log import EvidenceLog

    return EvidenceLog(catalog, config.settings.evidence_key).append(KIND, fields).seq
