"""Turn results into tables or JSON. The only place that prints, with cli/__init__."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO


def iso_utc(value: datetime | None) -> str | None:
    """UTC inside and in JSON: 2026-11-28T15:32:35Z."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def local(value: datetime | None) -> str:
    """Local time on display only."""
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def local_times() -> Callable[[datetime | None], str]:
    """`local` for many times at once (a listing of thousands of runs): the local UTC
    offset is looked up once a minute of UTC, where it is the same at the minute's first
    and last microsecond, instead of once a time (astimezone, 12 us). Each call makes a
    new one, so that it never outlives a change of TZ."""
    offsets: dict[datetime, timedelta | None] = {}
    last = timedelta(seconds=59, microseconds=999_999)

    def offset(minute: datetime) -> timedelta | None:
        first, end = minute.astimezone().utcoffset(), (minute + last).astimezone().utcoffset()
        return first if first == end else None

    def shown(value: datetime | None) -> str:
        if value is None or value.utcoffset() != timedelta(0):
            return local(value)
        minute = value.replace(second=0, microsecond=0)
        found = offsets[minute] if minute in offsets else offsets.setdefault(minute, offset(minute))
        if found is None:
            return local(value)
        return (value + found).strftime("%Y-%m-%d %H:%M:%S")

    return shown


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def print_json(data: Any, out: TextIO = sys.stdout) -> None:
    json.dump(data, out, indent=2, sort_keys=False, ensure_ascii=False)
    out.write("\n")


RED, GREEN = "31", "32"


def colors_on(out: TextIO) -> bool:
    """Colour for a terminal only, and never when NO_COLOR is set (no-color.org)."""
    return out.isatty() and not os.environ.get("NO_COLOR")


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    out: TextIO = sys.stdout,
    empty: str = "nothing to show",
    colors: Mapping[str, str] | None = None,
) -> None:
    """Aligned columns; a cell whose whole text is a key of `colors` is painted with that
    SGR code (RED, GREEN) on a terminal."""
    if not rows:
        out.write(f"({empty})\n")
        return
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    paint = colors if colors and colors_on(out) else {}

    def cell(text: str, width: int) -> str:
        padded = text.ljust(width)
        code = paint.get(text)
        return f"\033[{code}m{text}\033[0m{padded[len(text) :]}" if code else padded

    out.write("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    out.write("\n")
    if paint:
        lines = ["  ".join(cell(c, w) for c, w in zip(row, widths, strict=True)) for row in cells]
    else:  # no colour: a format of fixed widths, one call a row (10,000 rows of `status`)
        pattern = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [pattern.format(*row) for row in cells]
    out.write("".join(line.rstrip() + "\n" for line in lines))
