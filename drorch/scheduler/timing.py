"""Triggers from schedules, and the slots that passed between two times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from drorch.config.schedule import Schedule, cron_trigger

SLOT_LIMIT = 1000  # more missed slots than this are counted, not listed
# `every` slots are counted from here, so that every node (and every restart) agrees on
# them: `every 15m` fires at :00, :15, :30 and :45, and a slot is claimed once.
GRID = datetime(1970, 1, 1, tzinfo=UTC)


def trigger_for(schedule: Schedule) -> Any:
    if schedule.every_seconds is not None:
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=schedule.every_seconds, start_date=GRID, timezone=UTC)
    assert schedule.cron is not None
    return cron_trigger(schedule.cron)


def slots_between(
    schedule: Schedule, after: datetime, until: datetime
) -> tuple[list[datetime], int]:
    """Fire times in (after, until]: the first SLOT_LIMIT of them, and how many in all."""
    if schedule.every_seconds is not None:
        step = timedelta(seconds=schedule.every_seconds)
        first = GRID + step * ((after - GRID) // step + 1)  # the first grid slot after `after`
        count = 0 if first > until else (until - first) // step + 1
        return [first + step * k for k in range(min(count, SLOT_LIMIT))], count
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


def next_slot(schedule: Schedule, after: datetime) -> datetime | None:
    """The first slot at or after `after` (None: the schedule never fires again)."""
    fire: datetime | None = trigger_for(schedule).get_next_fire_time(None, after)
    return None if fire is None else fire.astimezone(UTC)
