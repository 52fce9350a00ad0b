"""Durations (`15m`, `1d`, `1h30m`), sizes (`200MiB`, `5GB`) and shares of a repository's
data (`5%`, `1/10`, `500MiB`), parsed strictly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(?:\d+[smhdw])+$")
_DURATION_PART = re.compile(r"(\d+)([smhdw])")

_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "K": 1000,
    "KB": 1000,
    "M": 1000**2,
    "MB": 1000**2,
    "G": 1000**3,
    "GB": 1000**3,
    "T": 1000**4,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$")


def parse_duration(text: object) -> timedelta:
    """`30s`, `15m`, `1h30m`, `1d`, `2w` -> timedelta. Raises ValueError with the reason."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError(f"a duration is written like 30s, 15m, 1h30m or 1d, not {text!r}")
    value = str(text).strip()
    if not _DURATION.match(value):
        raise ValueError(f"a duration is written like 30s, 15m, 1h30m or 1d, not {value!r}")
    seconds = sum(int(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(value))
    if seconds <= 0:
        raise ValueError(f"a duration must be longer than zero, not {value!r}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling: 90 s -> `1m30s`, 1 day -> `1d`."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_size(text: object) -> int:
    """`200MiB`, `5GB`, `1024` -> bytes. Raises ValueError with the reason."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError(f"a size is written like 500MiB or 2GB, not {text!r}")
    match = _SIZE.match(str(text).strip())
    unit = match.group(2).upper() if match else None
    if not match or unit not in _SIZE_UNITS:
        raise ValueError(f"a size is written like 500MiB or 2GB, not {text!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


_PART = re.compile(r"^(\d+)\s*/\s*(\d+)$")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")


@dataclass(frozen=True)
class DataSubset:
    """A share of a repository's pack data, as `read_data_subset` says it: part `n` of
    `parts` equal parts, `percent` per cent of it, or `size` bytes of it. One is set."""

    n: int = 0
    parts: int = 0
    percent: Fraction | None = None
    size: int | None = None


def parse_data_subset(text: object) -> DataSubset:
    """`1/10`, `5%`, `500MiB` -> DataSubset; a share that reads nothing or more than all of
    the data (`0%`, `150%`, `1/0`, `5/3`, `0MiB`) raises ValueError with the reason."""
    value = str(text).strip()
    if part := _PART.match(value):
        n, parts = int(part.group(1)), int(part.group(2))
        if not 1 <= n <= parts:
            raise ValueError(f"n/N is part n of N parts, 1 <= n <= N, not {value!r}")
        return DataSubset(n=n, parts=parts)
    if percent := _PERCENT.match(value):
        share = Fraction(percent.group(1))
        if not 0 < share <= 100:
            raise ValueError(f"a percentage is more than 0% and at most 100%, not {value!r}")
        return DataSubset(percent=share)
    try:
        size = parse_size(value) if re.search(r"[A-Za-z]", value) else None
    except ValueError:
        size = None
    if size is None:
        raise ValueError(
            f"read_data_subset is a percentage (5%), n/N (1/10) or a size, not {value!r}"
        )
    if size <= 0:
        raise ValueError(f"a size reads more than nothing, not {value!r}")
    return DataSubset(size=size)


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
