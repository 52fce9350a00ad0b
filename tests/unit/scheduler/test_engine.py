import time
from datetime import timedelta

from drorch.config.schedule import parse_schedule
from drorch.scheduler.engine import Engine
from drorch.scheduler.plan import Entry


def entry(schedule: str, job: str = "app") -> Entry:
    return Entry(
        job=job,
        action="snapshot",
        schedule=parse_schedule(schedule),
        misfire_grace=timedelta(minutes=10),
    )


def test_reload_keeps_unchanged_entries_and_replaces_changed_ones() -> None:
    engine = Engine(workers=1, misfire_grace=600, on_missed=lambda *a: None)
    engine.start()
    try:
        engine.load([entry("every 1h"), entry("every 1h", job="other")])
        before = dict(engine.next_runs())
        time.sleep(1.1)
        engine.load([entry("every 1h"), entry("every 2h", job="other")])
        after = dict(engine.next_runs())
        assert after["run:app:snapshot"] == before["run:app:snapshot"]
        # (`every` slots are on the clock's grid: an hour's and two hours' may coincide)
        other = engine._scheduler.get_job("run:other:snapshot")
        assert other.trigger.interval == timedelta(hours=2)
        engine.load([entry("every 1h")])
        assert [key for key, _ in engine.next_runs()] == ["run:app:snapshot"]
    finally:
        engine.shutdown(wait=False)


def test_between_slots_falls_mid_minute_after_the_first_call() -> None:
    import threading

    called = threading.Event()
    engine = Engine(workers=1, misfire_grace=600, on_missed=lambda *a: None)
    engine.every(called.set, 60, "internal:compliance", between_slots=True)
    engine.start()
    try:
        assert called.wait(5)  # the first call is at once
        job = engine._scheduler.get_job("internal:compliance")
        deadline = time.monotonic() + 5
        while job.next_run_time is None or job.next_run_time.timestamp() < time.time():
            assert time.monotonic() < deadline
            time.sleep(0.05)
            job = engine._scheduler.get_job("internal:compliance")
        assert job.next_run_time.second == 30 and job.next_run_time.microsecond == 0
    finally:
        engine.shutdown(wait=False)


def test_jobs_sharing_a_cron_expression_share_one_trigger() -> None:
    """2,000 jobs on a few expressions build a few triggers, not one per job and use (the
    config's validation and the scheduler both ask for them), however each job spells it."""
    from drorch.config.schedule import cron_trigger

    cron_trigger.cache_clear()
    entries = [entry("7-59/20 * * * *", job=f"a{number}") for number in range(50)] + [
        entry(" 0  3 1  6 * ", job=f"b{number}") for number in range(50)
    ]
    engine = Engine(workers=1, misfire_grace=600, on_missed=lambda *a: None)
    engine.load(entries)
    engine.start()
    try:
        jobs = engine._scheduler.get_jobs()
        assert len(jobs) == 100
        assert len({id(job.trigger) for job in jobs}) == 2
        assert cron_trigger.cache_info().currsize == 2
    finally:
        engine.shutdown(wait=False)


def test_a_slot_falling_while_its_previous_run_still_runs_is_reported_missed() -> None:
    """APScheduler skips a fire of an entry whose previous run still goes on (one instance
    at a time); the engine reports that slot missed instead of dropping it silently."""
    import threading
    from datetime import datetime

    from drorch.scheduler import calls

    class Slow:
        def __init__(self) -> None:
            self.slots: list[datetime | None] = []

        def run_action(self, job: str, action: str, details: object, slot: object) -> None:
            self.slots.append(slot)  # type: ignore[arg-type]
            time.sleep(2.5)

    missed: list[tuple[str, str, datetime]] = []
    done = threading.Event()

    def on_missed(job: str, action: str, slot: datetime) -> None:
        missed.append((job, action, slot))
        done.set()

    runtime = Slow()
    calls.bind(runtime)  # type: ignore[arg-type]
    engine = Engine(workers=2, misfire_grace=600, on_missed=on_missed)
    engine.load([entry("every 1s")])
    engine.start()
    try:
        assert done.wait(10), "no slot was reported missed"
    finally:
        engine.shutdown(wait=False)
        calls.bind(None)
    job, action, slot = missed[0]
    assert (job, action) == ("app", "snapshot")
    assert runtime.slots and slot > runtime.slots[0]  # a later slot than the one running


def test_a_clock_step_reschedules_from_the_clock_it_now_reads(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Stepped back, a job's next time (an hour ahead) comes back to the clock's next slot,
    the internal ones' to now; stepped forward, the run whose slots were skipped is named
    with the first of them. The step is noticed before APScheduler looks for due jobs."""
    from datetime import UTC, datetime

    from drorch.scheduler import engine as module

    heard: list[tuple[timedelta, dict[str, datetime]]] = []
    engine = Engine(
        workers=1, misfire_grace=600, on_missed=lambda *a: None, on_step=lambda *a: heard.append(a)
    )
    engine._scheduler.start(paused=True)
    try:
        engine.load([entry("every 10s")])
        engine.every(lambda: None, 5, "internal:watchdog")
        run = engine._scheduler.get_job("run:app:snapshot")
        watchdog = engine._scheduler.get_job("internal:watchdog")
        now = datetime.now(UTC)
        run.modify(next_run_time=now + timedelta(hours=1))  # as the clock stepped back
        watchdog.modify(next_run_time=now + timedelta(hours=1))
        offset = module._wall_offset()
        monkeypatch.setattr(module, "_wall_offset", lambda: offset - 3600)
        engine._scheduler._process_jobs()
        assert [step for step, _ in heard] == [timedelta(hours=-1)]
        assert heard[0][1] == {}
        run = engine._scheduler.get_job("run:app:snapshot")
        assert now <= run.next_run_time <= now + timedelta(seconds=11)
        assert engine._scheduler.get_job("internal:watchdog").next_run_time <= now + timedelta(
            seconds=6
        )
        skipped = datetime.now(UTC) - timedelta(days=1)  # as the clock stepped forward
        run.modify(next_run_time=skipped)
        engine._stepped(timedelta(days=1))
        assert heard[1] == (timedelta(days=1), {"run:app:snapshot": skipped})
        assert engine._scheduler.get_job("run:app:snapshot").next_run_time >= now
    finally:
        engine.shutdown(wait=False)


def test_the_scheduler_sleeps_at_most_a_second_whatever_its_next_job(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A step back that falls between the step check and APScheduler's reading of the clock
    makes the next job look an hour away: the scheduler's thread must still look again
    within a second (it then sees the step), not sleep that hour without a watchdog ping
    (test_clock_step[postgresql] hung that way under load)."""
    from datetime import UTC, datetime

    from drorch.scheduler.engine import LOOK_EVERY

    engine = Engine(workers=1, misfire_grace=600, on_missed=lambda *a: None)
    engine._scheduler.start()
    try:
        assert engine._scheduler._process_jobs() == LOOK_EVERY  # no job at all
        engine.every(lambda: None, 5, "internal:watchdog")
        far = datetime.now(UTC) + timedelta(hours=1)
        for job in engine._scheduler.get_jobs():
            job.modify(next_run_time=far)
        assert [job.next_run_time for job in engine._scheduler.get_jobs()] == [far]
        assert engine._scheduler._process_jobs() == LOOK_EVERY
    finally:
        engine.shutdown(wait=False)
