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
        assert after["run:other:snapshot"] != before["run:other:snapshot"]
        engine.load([entry("every 1h")])
        assert [key for key, _ in engine.next_runs()] == ["run:app:snapshot"]
    finally:
        engine.shutdown(wait=False)
