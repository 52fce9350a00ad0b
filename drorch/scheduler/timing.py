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
    """Fire times in (after, until], and how many in all. Beyond SLOT_LIMIT of them, the
    first SLOT_LIMIT - 1 and the newest: a catch-up runs for the newest slot, the last
    listed (a clock stepped forward a day skips 43,200 slots of `every 2s`)."""
    if schedule.every_seconds is not None:
        step = timedelta(seconds=schedule.every_seconds)
        first = GRID + step * ((after - GRID) // step + 1)  # the first grid slot after `after`
        count = 0 if first > until else (until - first) // step + 1
        if count > SLOT_LIMIT:
            return [first + step * k for k in range(SLOT_LIMIT - 1)] + [
                first + step * (count - 1)
            ], count
        return [first + step * k for k in range(count)], count
    trigger = cron_trigger(schedule.cron or "")
    slots: list[datetime] = []
    count = 0
    newest = None
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while fire is not None and fire <= until:
        count += 1
        newest = fire.astimezone(UTC)
        if len(slots) < SLOT_LIMIT - 1:
            slots.append(newest)
        elif count > 100 * SLOT_LIMIT:
            break  # a very old last run: enough to say how long protection was missing
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    if newest is not None and len(slots) < count:
        slots.append(newest)  # the newest walked to
    return slots, count


def next_slot(schedule: Schedule, after: datetime) -> datetime | None:
    """The first slot at or after `after` (None: the schedule never fires again)."""
    fire: datetime | None = trigger_for(schedule).get_next_fire_time(None, after)
    return None if fire is None else fire.astimezone(UTC)
