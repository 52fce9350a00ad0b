"""Schedules: a 5-field cron expression or `every <duration>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from drorch.config.units import parse_duration

_CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_CRON_TOKEN = re.compile(r"^[0-9A-Za-z*/,\-?]+$")


@dataclass(frozen=True)
class Schedule:
    """Either `cron` (a 5-field expression) or `every` (an interval in seconds)."""

    text: str
    cron: str | None = None
    every_seconds: int | None = None

    def __str__(self) -> str:
        return self.text


def parse_schedule(text: object) -> Schedule:
    if not isinstance(text, str):
        raise ValueError(f"a schedule is a cron expression or 'every <duration>', not {text!r}")
    value = " ".join(text.split())
    if value.startswith("every "):
        seconds = int(parse_duration(value[len("every "):]).total_seconds())
        return Schedule(text=value, every_seconds=seconds)
    fields = value.split(" ")
    if len(fields) != 5:
        raise ValueError(
            f"a schedule is a 5-field cron expression (minute hour day month weekday) "
            f"or 'every <duration>' such as 'every 15m'; {value!r} has {len(fields)} fields"
        )
    for name, token in zip(_CRON_FIELDS, fields, strict=True):
        if not _CRON_TOKEN.match(token):
            raise ValueError(f"cron field {name} {token!r} is not valid in {value!r}")
    _check_with_apscheduler(value)
    return Schedule(text=value, cron=value)


def _check_with_apscheduler(value: str) -> None:
    # The scheduler is what will run it, so it is the judge of what is valid.
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"cron expression {value!r} is not valid: {exc}") from None


def next_fire(schedule: Schedule, *, after: datetime, last: datetime | None = None) -> datetime:
    """The next time the schedule fires after `after` (UTC). An interval counts from `last`."""
    if schedule.every_seconds is not None:
        if last is None:
            return after
        step = timedelta(seconds=schedule.every_seconds)
        candidate = last + step
        if candidate > after:
            return candidate
        missed = (after - last) // step
        return last + step * (missed + 1)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(schedule.cron, timezone="UTC")
    fire = trigger.get_next_fire_time(None, after)
    assert fire is not None
    return fire.astimezone(UTC)  # type: ignore[no-any-return]
