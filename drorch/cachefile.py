"""A small JSON file that remembers answers across processes (restic's version, parsed
config files), in a folder of the state dir.

A cache file is never trusted to exist or to be whole: a missing, unreadable or damaged
one reads as empty, and a write that fails only costs the work again later. A write goes
to a temporary file renamed over the old one, so a reader sees the old file or the new,
never half of one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def read_mapping(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; empty when there is none to read."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_mapping(path: Path, entries: dict[str, Any]) -> None:
    """Replace `path` with `entries` (its folder made 0700 if missing); a failure is
    logged at debug level and leaves no temporary file behind."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "w", encoding="utf-8") as handle:
            json.dump(entries, handle, separators=(",", ":"))
        os.replace(temporary, path)
    except OSError as exc:
        log.debug("cannot write the cache file %s: %s", path, exc)
        with contextlib.suppress(OSError):  # a read-only filesystem refuses even this
            temporary.unlink(missing_ok=True)
