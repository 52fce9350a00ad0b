"""What runs when: the scheduled actions of a config root, as plain frozen entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from drorch.action_key import SEPARATOR, replicate_key, verb_of
from drorch.config import Config
from drorch.config.model import Job
from drorch.config.schedule import Schedule

# How late a slot may still start (a busy pool, a pause): per action, since a snapshot
# an hour late is better replaced by the next one, and a weekly check is not.
RUN_PREFIX = "run:"  # the scheduler's id of an entry: run:JOB:ACTION

MISFIRE_GRACE = {"prune": timedelta(hours=1), "check": timedelta(hours=6)}


@dataclass(frozen=True)
class Entry:
    job: str
    action: str
    schedule: Schedule
    misfire_grace: timedelta

    @property
    def key(self) -> str:
        return f"{RUN_PREFIX}{self.job}{SEPARATOR}{self.action}"


def job_and_action(key: str) -> tuple[str, str]:
    """The job and the spelled action key of an entry's scheduler id (Entry.key)."""
    job, _, action = key.removeprefix(RUN_PREFIX).partition(SEPARATOR)
    return job, action


def schedules_of(job: Job) -> dict[str, Schedule | None]:
    """Each action of a job and its schedule (None: run by hand only)."""
    return {
        "snapshot": job.snapshot.schedule,
        "prune": job.prune.schedule if job.prune else None,
        "check": job.check.schedule if job.check else None,
        "restore-test": job.restore_test.schedule if job.restore_test else None,
        "drill": job.drill.schedule if job.drill else None,
        **{replicate_key(r.to): r.schedule for r in job.replicate},
    }


def make_plan(
    config: Config, available: Callable[[str, str], bool]
) -> tuple[list[Entry], list[str]]:
    """The entries to schedule, and a note for each scheduled action drorch cannot run yet."""
    entries, notes = [], []
    for name in sorted(config.jobs):
        for action, schedule in schedules_of(config.jobs[name]).items():
            if schedule is None:
                continue
            if not available(name, action):
                notes.append(
                    f"job {name}: {action} is scheduled but not available in this "
                    "version of drorch; it is not scheduled"
                )
                continue
            grace = MISFIRE_GRACE.get(verb_of(action), config.settings.daemon.misfire_grace)
            entries.append(Entry(job=name, action=action, schedule=schedule, misfire_grace=grace))
    return entries, notes
