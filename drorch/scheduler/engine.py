"""The APScheduler BackgroundScheduler, set up explicitly, holding only the plan."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from drorch.scheduler import calls
from drorch.scheduler.plan import RUN_PREFIX, Entry, job_and_action
from drorch.scheduler.timing import trigger_for

log = logging.getLogger(__name__)

# How far the wall clock may move against the monotonic one between two looks of the
# scheduler (at least every LOOK_EVERY) before it counts as a step: NTP slews far less.
STEP_TOLERANCE = 2.0  # seconds
LOOK_EVERY = 1.0  # seconds: the longest the scheduler's thread sleeps
CATCH_UP_PREFIX = "catchup:"
ASSIGNED_PREFIX = "assigned:"  # a slot the leader gave this node: not dropped by unload


class _Fired:
    """A job as APScheduler's run_job sees it, its call told the slot it fires for."""

    def __init__(self, job: Any, slot: datetime) -> None:
        self._job = job
        self.kwargs = {**job.kwargs, "slot": slot}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class _SlotExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # untyped APScheduler
    """The runs' pool. APScheduler does not tell a call which fire time it is for; a run
    needs it to claim its slot (the same on every node: cron and `every` slots are both on
    the clock's grid). Coalesced, a call is for the newest of its run times."""

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        if "slot" not in job.kwargs:
            job = _Fired(job, run_times[-1])
        super()._do_submit_job(job, run_times)


OnStep = Callable[[timedelta, dict[str, datetime]], None]


def _wall_offset() -> float:
    """The wall clock less the monotonic one: it moves only when the wall clock steps."""
    return time.time() - time.monotonic()


class _StepAware(BackgroundScheduler):  # type: ignore[misc]  # untyped APScheduler
    """APScheduler computes next run times on the wall clock: stepped back an hour, every
    job (the watchdog's too) would wait an hour; stepped forward, the slots in between
    would be dropped without a word. This one notices a step before it looks for due
    jobs, and hands it to `on_step` first."""

    def __init__(self, on_step: Callable[[timedelta], None], **options: Any) -> None:
        super().__init__(**options)
        self._on_step = on_step
        self._offset = _wall_offset()

    def _process_jobs(self) -> float | None:
        """Look for a step, then let APScheduler look for due jobs; sleep at most
        LOOK_EVERY. A step that falls between this look and APScheduler's reading of the
        clock makes every job look an hour away (stepped back an hour): without the bound
        the thread would sleep that hour, watchdog and runs with it, and never notice."""
        offset = _wall_offset()
        step, self._offset = offset - self._offset, offset
        if abs(step) > STEP_TOLERANCE:
            try:
                self._on_step(timedelta(seconds=round(step)))
            except Exception:  # the scheduler's thread must go on
                log.exception("could not follow the clock's step")
        wait: float | None = super()._process_jobs()
        return LOOK_EVERY if wait is None else min(wait, LOOK_EVERY)


class Engine:
    def __init__(
        self,
        *,
        workers: int,
        misfire_grace: float,
        on_missed: Callable[[str, str, datetime], None],
        on_step: OnStep | None = None,
    ) -> None:
        self._on_missed = on_missed
        self._on_clock_step = on_step
        self._scheduler = _StepAware(
            self._stepped,
            executors={
                "default": _SlotExecutor(workers),  # runs: bounded
                # watchdog, heartbeat and compliance: never starved by runs
                "internal": ThreadPoolExecutor(3),
            },
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(misfire_grace),
            },
            timezone=UTC,
        )
        self._scheduler.add_listener(self._missed, EVENT_JOB_MISSED)
        self._scheduler.add_listener(self._still_running, EVENT_JOB_MAX_INSTANCES)
        self._loaded: dict[str, Entry] = {}

    def load(self, entries: Sequence[Entry]) -> None:
        """Make the scheduled runs these entries (internal jobs stay).

        An entry that did not change keeps its job, so a reload does not restart an
        `every` interval (frequent reloads would otherwise keep pushing it back).
        """
        wanted = {entry.key: entry for entry in entries}
        for job in self._scheduler.get_jobs():
            if job.id.startswith(RUN_PREFIX) and self._loaded.get(job.id) != wanted.get(job.id):
                job.remove()
                self._loaded.pop(job.id, None)
        for entry in entries:
            if self._loaded.get(entry.key) == entry:
                continue
            self._loaded[entry.key] = entry
            self._scheduler.add_job(
                calls.run_scheduled,
                trigger_for(entry.schedule),
                args=(entry.job, entry.action),
                id=entry.key,
                misfire_grace_time=int(entry.misfire_grace.total_seconds()),
                name=entry.key,
                replace_existing=True,
            )
        log.info("scheduled %d actions", len(entries))

    def run_now(self, entry: Entry, details: dict[str, Any], *, slot: datetime) -> None:
        """Run an entry once now, for `slot` (the last slot it missed, or the slot of a run
        interrupted with its node); one such run per entry waits at a time."""
        self._scheduler.add_job(
            calls.run_scheduled,
            "date",
            run_date=datetime.now(UTC),
            args=(entry.job, entry.action, details),
            kwargs={"slot": slot},
            id=f"{CATCH_UP_PREFIX}{entry.job}:{entry.action}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def run_assigned(
        self, claim_id: int, job: str, action: str, slot: datetime, epoch: int | None
    ) -> None:
        """Run now, in the runs' pool, a slot the leader assigned to this node."""
        self._scheduler.add_job(
            calls.run_assigned,
            "date",
            run_date=datetime.now(UTC),
            args=(job, action),
            kwargs={"slot": slot, "epoch": epoch},  # its own slot: _SlotExecutor keeps it
            id=f"{ASSIGNED_PREFIX}{claim_id}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def unload(self) -> None:
        """Drop every scheduled and caught-up run (a daemon that stops leading); internal
        jobs stay."""
        for job in self._scheduler.get_jobs():
            if job.id.startswith((RUN_PREFIX, CATCH_UP_PREFIX)):
                job.remove()
        self._loaded.clear()

    def remove(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)

    def every(
        self, func: Callable[[], None], seconds: float, job_id: str, *, between_slots: bool = False
    ) -> None:
        """Call `func` now, then every `seconds`. With `between_slots`, the calls after the
        first fall half a period off the clock's (mid-minute for 60 s), away from the
        bursts of runs that cron slots start on the minute."""
        now = datetime.now(UTC)
        if not between_slots:
            self._internal(func, IntervalTrigger(seconds=seconds, timezone=UTC), job_id, now)
            return
        # APScheduler counts an interval from the previous call: the first call, now, is a
        # job of its own, so the interval keeps its phase.
        self._internal(func, DateTrigger(now, timezone=UTC), f"{job_id}:first", now)
        offset = (now.timestamp() // seconds) * seconds + seconds / 2
        start = datetime.fromtimestamp(offset, UTC)
        trigger = IntervalTrigger(seconds=seconds, start_date=start, timezone=UTC)
        self._internal(func, trigger, job_id, None)

    def _internal(
        self, func: Callable[[], None], trigger: Any, job_id: str, first: datetime | None
    ) -> None:
        options: dict[str, Any] = {"next_run_time": first} if first is not None else {}
        self._scheduler.add_job(
            func, trigger, id=job_id, executor="internal", replace_existing=True, **options
        )

    def _stepped(self, step: timedelta) -> None:
        """The wall clock stepped by `step`: every job's next time is taken again from the
        clock it now reads (the internal ones run at once: systemd's watchdog must not wait
        out a step back). `on_step` hears the step with, for each scheduled run that a
        forward step carried past its next slot, that slot: the first the step skipped."""
        now = datetime.now(UTC)
        skipped: dict[str, datetime] = {}
        for job in self._scheduler.get_jobs():
            if job.next_run_time is None or isinstance(job.trigger, DateTrigger):
                continue  # paused, or a one-off run due now anyway
            if not job.id.startswith(RUN_PREFIX):
                job.modify(next_run_time=now)
                continue
            if job.next_run_time <= now:
                skipped[job.id] = job.next_run_time
            job.modify(next_run_time=job.trigger.get_next_fire_time(None, now))
        if self._on_clock_step is not None:
            self._on_clock_step(step, skipped)

    def next_runs(self) -> list[tuple[str, datetime | None]]:
        return [
            (job.id, job.next_run_time)
            for job in self._scheduler.get_jobs()
            if job.id.startswith(RUN_PREFIX)
        ]

    def start(self) -> None:
        self._scheduler.start()

    def pause(self) -> None:
        self._scheduler.pause()

    def shutdown(self, *, wait: bool) -> None:
        self._scheduler.shutdown(wait=wait)

    def _still_running(self, event: JobSubmissionEvent) -> None:
        """A slot that fell while the run of its previous slot still runs (or waits for
        its turn): APScheduler skips it; it is recorded as missed, never silent."""
        if not event.job_id.startswith(RUN_PREFIX):
            return
        job, action = job_and_action(event.job_id)
        for slot in event.scheduled_run_times:
            log.warning(
                "the %s slot of %s at %s fell while its previous run still runs", action, job, slot
            )
            self._on_missed(job, action, slot)

    def _missed(self, event: JobExecutionEvent) -> None:
        if not event.job_id.startswith(RUN_PREFIX):
            return
        job, action = job_and_action(event.job_id)
        log.warning("missed the %s slot of %s at %s", action, job, event.scheduled_run_time)
        self._on_missed(job, action, event.scheduled_run_time)
