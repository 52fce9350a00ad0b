from datetime import UTC, datetime, timedelta

from drorch.config.schedule import parse_schedule
from drorch.scheduler.timing import SLOT_LIMIT, next_slot, slots_between

T0 = datetime(2026, 11, 28, 12, 0, 30, tzinfo=UTC)


def test_cron_slots_in_an_open_closed_window() -> None:
    slots, count = slots_between(parse_schedule("*/15 * * * *"), T0, T0 + timedelta(hours=1))
    assert count == 4
    assert [s.strftime("%H:%M") for s in slots] == ["12:15", "12:30", "12:45", "13:00"]
    assert all(s.tzinfo is not None for s in slots)


def test_a_slot_at_the_window_start_is_not_missed() -> None:
    start = datetime(2026, 11, 28, 12, 15, tzinfo=UTC)
    slots, count = slots_between(
        parse_schedule("*/15 * * * *"), start, start + timedelta(minutes=14)
    )
    assert (slots, count) == ([], 0)


def test_crontab_sunday_is_sunday() -> None:
    wednesday = datetime(2026, 11, 25, tzinfo=UTC)
    slots, _ = slots_between(parse_schedule("0 2 * * 0"), wednesday, wednesday + timedelta(days=7))
    assert [s.strftime("%A %H:%M") for s in slots] == ["Sunday 02:00"]


def test_interval_slots_are_on_the_clocks_grid() -> None:
    """`every` slots are the same on every node and after every restart: counted from the
    Unix epoch, not from when a daemon started."""
    slots, count = slots_between(parse_schedule("every 10m"), T0, T0 + timedelta(minutes=35))
    assert count == 3
    assert [s.strftime("%H:%M:%S") for s in slots] == ["12:10:00", "12:20:00", "12:30:00"]
    on_a_slot = datetime(2026, 11, 28, 12, 10, tzinfo=UTC)
    assert slots_between(parse_schedule("every 10m"), on_a_slot, on_a_slot) == ([], 0)
    assert next_slot(parse_schedule("every 10m"), T0) == on_a_slot


def test_many_slots_are_counted_not_all_listed() -> None:
    slots, count = slots_between(parse_schedule("every 1m"), T0, T0 + timedelta(days=3))
    assert count == 3 * 24 * 60
    assert len(slots) == SLOT_LIMIT
    # the first ones (on the minute, from 12:01), then the newest: a catch-up runs for it
    first = T0 + timedelta(seconds=30)
    assert slots[-2] == first + timedelta(minutes=SLOT_LIMIT - 2)
    assert slots[-1] == first + timedelta(days=3, minutes=-1)


def test_many_cron_slots_end_with_the_newest() -> None:
    slots, count = slots_between(parse_schedule("* * * * *"), T0, T0 + timedelta(days=1))
    assert count == 24 * 60
    assert len(slots) == SLOT_LIMIT
    first = T0 + timedelta(seconds=30)
    assert slots[-2] == first + timedelta(minutes=SLOT_LIMIT - 2)
    assert slots[-1] == first + timedelta(days=1, minutes=-1)
