"""Durations and sizes: strict parsing, helpful errors, round trips."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drorch.config.units import format_duration, format_size, parse_duration, parse_size

DURATION_HINT = "a duration is written like 30s, 15m, 1h30m or 1d, not "
SIZE_HINT = "a size is written like 500MiB or 2GB, not "


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("90s", timedelta(seconds=90)),
        ("1h0m", timedelta(hours=1)),
        (" 15m ", timedelta(minutes=15)),
    ],
)
def test_parse_duration_valid(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0s", "a duration must be longer than zero, not '0s'"),
        ("0h0m", "a duration must be longer than zero, not '0h0m'"),
        ("15", DURATION_HINT + "'15'"),
        (15, DURATION_HINT + "'15'"),
        ("1x", DURATION_HINT + "'1x'"),
        ("1.5h", DURATION_HINT + "'1.5h'"),
        ("-1m", DURATION_HINT + "'-1m'"),
        (-1, DURATION_HINT + "'-1'"),
        ("", DURATION_HINT + "''"),
        ("1 h", DURATION_HINT + "'1 h'"),
        ("15M", DURATION_HINT + "'15M'"),
        ("5 MiBs", DURATION_HINT + "'5 MiBs'"),
        (True, DURATION_HINT + "True"),
        (None, DURATION_HINT + "None"),
        (1.5, DURATION_HINT + "1.5"),
        (["15m"], DURATION_HINT + "['15m']"),
    ],
)
def test_parse_duration_invalid(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=30), "30s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=1), "1d"),
        (timedelta(weeks=2), "14d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


@pytest.mark.parametrize("text", ["30s", "15m", "1h30m", "1d", "2w", "1d2h3m4s", "59s", "61m"])
def test_duration_round_trip(text: str) -> None:
    delta = parse_duration(text)
    assert parse_duration(format_duration(delta)) == delta
    # The formatted spelling is the canonical one: formatting it again changes nothing.
    assert format_duration(parse_duration(format_duration(delta))) == format_duration(delta)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200MiB", 200 * 1024**2),
        ("5GB", 5 * 1000**3),
        ("1024", 1024),
        (1024, 1024),
        ("0", 0),
        ("10B", 10),
        ("1K", 1000),
        ("1KB", 1000),
        ("1KiB", 1024),
        ("2 GiB", 2 * 1024**3),
        ("1TiB", 1024**4),
        ("3TB", 3 * 1000**4),
        ("5mib", 5 * 1024**2),
        ("1.5KiB", 1536),
        (" 7MB ", 7 * 1000**2),
    ],
)
def test_parse_size_valid(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5 MiBs", SIZE_HINT + "'5 MiBs'"),
        ("5X", SIZE_HINT + "'5X'"),
        ("1e3", SIZE_HINT + "'1e3'"),
        ("", SIZE_HINT + "''"),
        ("MiB", SIZE_HINT + "'MiB'"),
        ("-1MiB", SIZE_HINT + "'-1MiB'"),
        (-1, SIZE_HINT + "-1"),
        (True, SIZE_HINT + "True"),
        (None, SIZE_HINT + "None"),
        (2.5, SIZE_HINT + "2.5"),
    ],
)
def test_parse_size_invalid(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_size(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (200 * 1024**2, "200.0 MiB"),
        (5 * 1000**3, "4.7 GiB"),
        (3 * 1024**4, "3.0 TiB"),
        (2048 * 1024**4, "2048.0 TiB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1536, 200 * 1024**2, 3 * 1024**3, 1024**4])
def test_size_round_trip_of_exact_binary_sizes(size: int) -> None:
    assert parse_size(format_size(size)) == size
