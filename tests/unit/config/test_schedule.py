"""Schedules: 5-field cron (judged by APScheduler, weekdays as crontab counts them) or
`every <duration>`, and when they fire next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from drorch.config.schedule import Schedule, next_fire, parse_schedule

FIELD_COUNT = (
    "a schedule is a 5-field cron expression (minute hour day month weekday) "
    "or 'every <duration>' such as 'every 15m'; "
)
MONDAY = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)  # 2024-03-04 is a Monday


@pytest.mark.parametrize(
    "text",
    [
        "*/15 * * * *",
        "0 3 * * *",
        "5 * * * *",
        "0 2 * * 0",
        "0 2 * * 7",
        "0 9 * * 1-5",
        "0 9 * * mon-fri",
        "0,30 8-18 1,15 1-12 *",
        "0 0 29 2 *",
        "59 23 31 12 6",
    ],
)
def test_cron_valid(text: str) -> None:
    assert parse_schedule(text) == Schedule(text=text, cron=text, every_seconds=None)


def test_cron_whitespace_is_normalised() -> None:
    schedule = parse_schedule("  */5   *  * * * ")
    assert schedule == Schedule(text="*/5 * * * *", cron="*/5 * * * *")
    assert str(schedule) == "*/5 * * * *"


@pytest.mark.parametrize(
    ("text", "count"),
    [("* * * *", 4), ("* * * * * *", 6), ("*", 1), ("every", 1), ("0 0 1 1 * 2024", 6)],
)
def test_cron_wrong_field_count(text: str, count: int) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    assert str(caught.value) == f"{FIELD_COUNT}{text!r} has {count} fields"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "61 * * * *",
            "cron expression '61 * * * *' is not valid: Error validating expression '61': "
            "the last value (61) is higher than the maximum value (59)",
        ),
        (
            "0 25 * * *",
            "cron expression '0 25 * * *' is not valid: Error validating expression '25': "
            "the last value (25) is higher than the maximum value (23)",
        ),
        (
            "0 0 ? * *",
            "cron expression '0 0 ? * *' is not valid: "
            'Unrecognized expression "?" for field "day"',
        ),
        ("* * * * $", "cron field day of week '$' is not valid in '* * * * $'"),
        ("x; * * * *", "cron field minute 'x;' is not valid in 'x; * * * *'"),
        (
            "0 0 * * 8",
            "cron expression '0 0 * * 8' is not valid: day of week '8' is not 0-7 or sun-sat",
        ),
        (
            "0 0 * * 5-1",
            "cron expression '0 0 * * 5-1' is not valid: day of week range '5-1' runs backwards",
        ),
        (
            "0 0 * * 1/0",
            "cron expression '0 0 * * 1/0' is not valid: "
            "day of week step '0' is not a positive number",
        ),
        ("0 0 31 2 *", "cron expression '0 0 31 2 *' never fires (no such date)"),
        ("0 0 31 4 *", "cron expression '0 0 31 4 *' never fires (no such date)"),
    ],
)
def test_cron_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("every 10s", 10),
        ("every 15m", 900),
        ("every 1h30m", 5400),
        ("every 1d", 86400),
        ("every 2w", 1209600),
    ],
)
def test_every_valid(text: str, seconds: int) -> None:
    assert parse_schedule(text) == Schedule(text=text, cron=None, every_seconds=seconds)


def test_every_whitespace_is_normalised() -> None:
    assert parse_schedule("  every   15m ") == Schedule(text="every 15m", every_seconds=900)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("every 0s", "a duration must be longer than zero, not '0s'"),
        ("every x", "a duration is written like 30s, 15m, 1h30m or 1d, not 'x'"),
        ("every 15", "a duration is written like 30s, 15m, 1h30m or 1d, not '15'"),
        ("every 1.5h", "a duration is written like 30s, 15m, 1h30m or 1d, not '1.5h'"),
    ],
)
def test_every_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("value", [None, 5, 15.0, ["every 15m"], {"every": "15m"}])
def test_schedule_must_be_text(value: object) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(value)
    assert str(caught.value) == (
        f"a schedule is a cron expression or 'every <duration>', not {value!r}"
    )


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        (
            "*/15 * * * *",
            datetime(2024, 3, 4, 10, 7, 30, tzinfo=UTC),
            datetime(2024, 3, 4, 10, 15, tzinfo=UTC),
        ),
        (
            "*/15 * * * *",
            datetime(2024, 12, 31, 23, 59, tzinfo=UTC),
            datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
        ),
        ("5 * * * *", MONDAY, datetime(2024, 3, 4, 10, 5, tzinfo=UTC)),
        ("0 3 * * *", MONDAY, datetime(2024, 3, 5, 3, 0, tzinfo=UTC)),
        # crontab counts weekdays from 0 = Sunday, and 7 is Sunday too
        ("0 2 * * 0", MONDAY, datetime(2024, 3, 10, 2, 0, tzinfo=UTC)),
        ("0 2 * * 7", MONDAY, datetime(2024, 3, 10, 2, 0, tzinfo=UTC)),
        ("0 2 * * sun", MONDAY, datetime(2024, 3, 10, 2, 0, tzinfo=UTC)),
        ("0 6 * * 1", MONDAY, datetime(2024, 3, 11, 6, 0, tzinfo=UTC)),
        ("0 6 * * 2", MONDAY, datetime(2024, 3, 5, 6, 0, tzinfo=UTC)),
        ("0 6 * * 6", MONDAY, datetime(2024, 3, 9, 6, 0, tzinfo=UTC)),
        ("0 6 * * 5-7", MONDAY, datetime(2024, 3, 8, 6, 0, tzinfo=UTC)),
        ("0 6 * * */3", MONDAY, datetime(2024, 3, 6, 6, 0, tzinfo=UTC)),  # sun, wed, sat
        (
            "0 9 * * 1-5",
            datetime(2024, 3, 8, 10, 0, tzinfo=UTC),  # a Friday, after 9
            datetime(2024, 3, 11, 9, 0, tzinfo=UTC),
        ),
        ("0 0 1 * *", datetime(2024, 1, 31, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)),
        ("0 0 29 2 *", datetime(2024, 3, 1, tzinfo=UTC), datetime(2028, 2, 29, tzinfo=UTC)),
        # `after` in another zone: the answer is in UTC
        (
            "0 9 * * *",
            datetime(2024, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=2))),
            datetime(2024, 3, 4, 9, 0, tzinfo=UTC),
        ),
    ],
)
def test_next_fire_cron(text: str, after: datetime, expected: datetime) -> None:
    fire = next_fire(parse_schedule(text), after=after)
    assert fire == expected
    assert fire.tzinfo == UTC


def test_next_fire_cron_ignores_last() -> None:
    schedule = parse_schedule("0 3 * * *")
    last = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)
    assert next_fire(schedule, after=MONDAY, last=last) == datetime(2024, 3, 5, 3, tzinfo=UTC)


def test_next_fire_cron_asked_in_any_order_after_any_time() -> None:
    """next_fire remembers an expression's last answer: times before, inside and after
    the remembered interval, whole seconds or not, each get APScheduler's own answer."""
    from drorch.config.schedule import cron_trigger

    schedule = parse_schedule("30 4 * * *")
    base = datetime(2024, 3, 4, 4, 30, tzinfo=UTC)
    offsets = [0, 1, -1, 3600, 0.5, -0.25, 86399, 86400, 86400.000001, -86400, 7, 86401, -3]
    for seconds in offsets:
        after = base + timedelta(seconds=seconds)
        expected = cron_trigger(schedule.cron).get_next_fire_time(None, after)
        assert next_fire(schedule, after=after) == expected, after


def test_next_fire_every_without_last_is_due_now() -> None:
    assert next_fire(parse_schedule("every 10m"), after=MONDAY) == MONDAY


def test_next_fire_every_counts_from_last() -> None:
    last = datetime(2024, 3, 4, 9, 55, tzinfo=UTC)
    fire = next_fire(parse_schedule("every 10m"), after=MONDAY, last=last)
    assert fire == datetime(2024, 3, 4, 10, 5, tzinfo=UTC)


def test_next_fire_every_seconds() -> None:
    last = datetime(2024, 3, 4, 9, 59, 55, tzinfo=UTC)
    fire = next_fire(parse_schedule("every 10s"), after=MONDAY, last=last)
    assert fire == datetime(2024, 3, 4, 10, 0, 5, tzinfo=UTC)


def test_next_fire_every_after_missed_slots_keeps_the_grid() -> None:
    # Last run at 10:00, now 10:35: the 10:10, 10:20 and 10:30 slots were missed.
    # The next one is on the same 10-minute grid, not 10:35 + 10m.
    last = MONDAY
    after = datetime(2024, 3, 4, 10, 35, tzinfo=UTC)
    fire = next_fire(parse_schedule("every 10m"), after=after, last=last)
    assert fire == datetime(2024, 3, 4, 10, 40, tzinfo=UTC)


def test_next_fire_every_after_days_down() -> None:
    last = datetime(2024, 3, 1, 0, 0, 7, tzinfo=UTC)
    after = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    fire = next_fire(parse_schedule("every 1h"), after=after, last=last)
    assert fire == datetime(2024, 3, 4, 10, 0, 7, tzinfo=UTC)
