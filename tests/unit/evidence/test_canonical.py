from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from drorch.errors import EvidenceError
from drorch.evidence.canonical import canonical_bytes, is_canonical, parse_utc, utc_iso


def test_keys_sorted_no_whitespace_text_as_itself() -> None:
    value = {"b": [1, 2.5, None, True], "a": {"z": "é€😀", "y": "tab\there"}}
    assert canonical_bytes(value) == (
        '{"a":{"y":"tab\\there","z":"é€😀"},"b":[1,2.5,null,true]}'.encode()
    )


def test_integers_stay_integers_and_floats_are_kept_where_given() -> None:
    assert canonical_bytes({"n": 10**20, "f": 1.0}) == b'{"f":1.0,"n":100000000000000000000}'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinity_are_refused(bad: float) -> None:
    with pytest.raises(EvidenceError, match=r"cannot hold .* \(at \$\.rto\[1\]\)"):
        canonical_bytes({"rto": [1, bad]})


def test_non_text_keys_and_foreign_types_are_refused_with_their_path() -> None:
    with pytest.raises(EvidenceError, match=r"keys are text, not 1 \(at \$\.checks\)"):
        canonical_bytes({"checks": {1: "x"}})
    with pytest.raises(EvidenceError, match=r"not datetime \(at \$\.snapshot\.time\).*utc_iso"):
        canonical_bytes({"snapshot": {"time": datetime.now(UTC)}})
    with pytest.raises(EvidenceError, match="not valid Unicode"):
        canonical_bytes({"name": "\udcff"})


@pytest.mark.parametrize(
    "line",
    [
        b'{"a":1,"b":2}',
        b'{"a":"\xc3\xa9"}',
    ],
)
def test_canonical_lines_parse(line: bytes) -> None:
    assert is_canonical(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        b'{"b":2,"a":1}',  # unsorted
        b'{"a": 1}',  # whitespace
        b'{"a":"\\u00e9"}',  # an escape where the character itself belongs
        b'{"a":1,"a":1}',  # a duplicate key
        b'{"a":1.50}',
        b'{"a":1}\n',
        b'{"a":',
        b"\xff",
        b"null",
    ],
)
def test_anything_else_is_not_canonical(line: bytes) -> None:
    assert is_canonical(line) is None


def test_times_are_utc_with_microseconds_and_round_trip() -> None:
    local = datetime(2026, 11, 28, 16, 32, 35, 120, tzinfo=timezone(timedelta(hours=1)))
    text = utc_iso(local)
    assert text == "2026-11-28T15:32:35.000120Z"
    assert parse_utc(text) == local
    assert parse_utc("2026-11-28T15:32:35Z") == datetime(2026, 11, 28, 15, 32, 35, tzinfo=UTC)
    with pytest.raises(EvidenceError, match="naive datetime"):
        utc_iso(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="not a UTC time"):
        parse_utc("2026-11-28T15:32:35+01:00")
