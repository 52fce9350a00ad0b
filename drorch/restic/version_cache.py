"""restic's version, remembered across processes by the binary it came from.

Asking `restic version` costs a process per run (10-20 ms of a drorch run whose own budget
is a few tenths of a second). The answer is kept in a small JSON file in restic's cache
folder, keyed by the binary's path, inode, size and mtime: an upgrade replaces the file and
changes the key, so a version is never taken from another binary. The file is a cache: a
missing, unreadable or damaged one means asking restic again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from drorch.cachefile import read_mapping, write_mapping
from drorch.errors import ResticError
from drorch.restic.models import Version, parse_version

log = logging.getLogger(__name__)

FILE_NAME = "drorch-restic-version.json"
KEEP = 8


def binary_key(binary: str) -> str | None:
    """What identifies the binary's contents without reading them; None if it cannot be
    stat'ed (then nothing is cached)."""
    try:
        st = os.stat(binary)
    except OSError:
        return None
    return f"{binary}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def cached_version(binary: str, folder: Path | None, ask: Callable[[], Version]) -> Version:
    """The version of `binary`: from the cache file in `folder` when it names this very
    binary, otherwise from `ask()` (then remembered)."""
    key = binary_key(binary)
    if folder is None or key is None:
        return ask()
    path = folder / FILE_NAME
    known = _read(path)
    if key in known:
        try:
            return parse_version(f"restic {known[key]}")
        except ResticError:  # a damaged entry: ask again
            log.debug("ignoring the cached restic version %r in %s", known[key], path)
    version = ask()
    if binary_key(binary) == key:  # not replaced while we asked
        entries = {**known, key: str(version)}
        write_mapping(path, dict(list(entries.items())[-KEEP:]))  # the newest KEEP binaries
    return version


def _read(path: Path) -> dict[str, str]:
    return {k: v for k, v in read_mapping(path).items() if isinstance(v, str)}
