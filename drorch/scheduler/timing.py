"""Triggers from schedules, and the slots that passed between two times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from drorch.config.schedule import Schedule, cron_trigger

SLOT_LIMIT = 1000  # more missed slots than this are counted, not listed


def trigger_for(schedule: Schedule, *, start: datetime | None = None) -> Any:
    if schedule.every_seconds is not None:
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=schedule.every_seconds, start_date=start, timezone=UTC)
    assert schedule.cron is not None
    return cron_trigger(schedule.cron)


def slots_between(
    schedule: Schedule, after: datetime, until: datetime
) -> tuple[list[datetime], int]:
    """Fire times in (after, until]: the first SLOT_LIMIT of them, and how many in all."""
    if schedule.every_seconds is not None:
        step = timedelta(seconds=schedule.every_seconds)
        count = int((until - after) / step)
        return [after + step * k for k in range(1, min(count, SLOT_LIMIT) + 1)], count
    trigger = cron_trigger(schedule.cron or "")
    slots: list[datetime] = []
    count = 0
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while fire is not None and fire <= until:
        count += 1
        if len(slots) < SLOT_LIMIT:
            slots.append(fire.astimezone(UTC))
        elif count > 100 * SLOT_LIMIT:
            break  # a very old last run: enough to say how long protection was missing
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return slots, count
