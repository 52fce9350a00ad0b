from datetime import UTC, datetime, timedelta

from drorch.config.schedule import parse_schedule
from drorch.scheduler.timing import SLOT_LIMIT, slots_between

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


def test_interval_slots() -> None:
    slots, count = slots_between(parse_schedule("every 10m"), T0, T0 + timedelta(minutes=35))
    assert count == 3
    assert slots == [T0 + timedelta(minutes=10 * k) for k in (1, 2, 3)]


def test_many_slots_are_counted_not_all_listed() -> None:
    slots, count = slots_between(parse_schedule("every 1m"), T0, T0 + timedelta(days=3))
    assert count == 3 * 24 * 60
    assert len(slots) == SLOT_LIMIT
