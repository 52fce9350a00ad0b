"""What restic tells us, parsed from its JSON into frozen objects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drorch.errors import ResticError


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


_VERSION = re.compile(r"restic (\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> Version:
    match = _VERSION.search(text)
    if not match:
        raise ResticError(f"cannot read the restic version from {text.strip()[:80]!r}")
    return Version(*(int(part) for part in match.groups()))


_INIT_TEXT = re.compile(r"created restic repository ([0-9a-f]+) at")


def parse_init_output(text: str) -> str:
    """The repository id from `restic init`: JSON in newer restic, a sentence in 0.14."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict) and item.get("id"):
                return str(item["id"])
        match = _INIT_TEXT.search(line)
        if match:
            return match.group(1)
    raise ResticError(f"cannot read the repository id from restic init: {text.strip()[:200]!r}")


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    short_id: str
    time: datetime
    tree: str
    paths: tuple[str, ...]
    hostname: str
    tags: tuple[str, ...]
    original: str | None = None
    parent: str | None = None


def parse_time(text: str) -> datetime:
    """restic writes RFC 3339 times with nanoseconds and an offset; return UTC."""
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        raise ResticError(f"cannot read a restic time {text!r}")
    base, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    parsed = datetime.fromisoformat(f"{base}.{micro}{'+00:00' if zone == 'Z' else zone}")
    return parsed.astimezone(UTC)


def parse_snapshots(text: str) -> list[SnapshotInfo]:
    try:
        items = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise ResticError(f"restic snapshots printed something that is not JSON: {exc}") from exc
    return [_snapshot(item) for item in items or []]


def _snapshot(item: dict[str, Any]) -> SnapshotInfo:
    return SnapshotInfo(
        id=item["id"],
        short_id=item.get("short_id", item["id"][:8]),
        time=parse_time(item["time"]),
        tree=item["tree"],
        paths=tuple(item.get("paths") or ()),
        hostname=item.get("hostname", ""),
        tags=tuple(item.get("tags") or ()),
        original=item.get("original"),
        parent=item.get("parent"),
    )


@dataclass(frozen=True)
class BackupSummary:
    snapshot_id: str | None
    files_new: int
    files_changed: int
    files_unmodified: int
    data_added: int
    total_files_processed: int
    total_bytes_processed: int
    total_duration: float

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> BackupSummary:
        return cls(
            snapshot_id=item.get("snapshot_id"),
            files_new=int(item.get("files_new", 0)),
            files_changed=int(item.get("files_changed", 0)),
            files_unmodified=int(item.get("files_unmodified", 0)),
            data_added=int(item.get("data_added", 0)),
            total_files_processed=int(item.get("total_files_processed", 0)),
            total_bytes_processed=int(item.get("total_bytes_processed", 0)),
            total_duration=float(item.get("total_duration", 0.0)),
        )


@dataclass(frozen=True)
class BackupProgress:
    percent_done: float
    files_done: int
    total_files: int
    bytes_done: int
    total_bytes: int


@dataclass(frozen=True)
class ForgetGroup:
    """One group of `restic forget --json`: the snapshots it keeps and the ones it removes."""

    keep: tuple[SnapshotInfo, ...]
    remove: tuple[SnapshotInfo, ...]


def parse_forget(text: str) -> list[ForgetGroup]:
    """restic prints one JSON list of groups, each with `keep` and `remove` lists.

    restic 0.14 writes `null` for an empty list and prints nothing at all when no snapshot
    matches; any other line on stdout (newer restic may print a note) is skipped.
    """
    text = text.strip()
    if not text:
        return []
    try:
        found: Any = json.loads(text)
    except json.JSONDecodeError:
        lists = [line for line in text.splitlines() if line.lstrip().startswith("[")]
        try:
            found = json.loads(lists[-1]) if lists else None
        except json.JSONDecodeError as exc:
            raise ResticError(f"restic forget printed something that is not JSON: {exc}") from exc
    if not isinstance(found, list):
        raise ResticError("restic forget printed JSON that is not a list of groups")
    return [
        ForgetGroup(
            keep=tuple(_snapshot(item) for item in group.get("keep") or ()),
            remove=tuple(_snapshot(item) for item in group.get("remove") or ()),
        )
        for group in found or ()
    ]


@dataclass(frozen=True)
class LockFile:
    """A restic lock, as `restic cat lock ID` shows it."""

    time: datetime
    exclusive: bool
    hostname: str
    pid: int


def parse_lock(text: str) -> LockFile:
    try:
        item = json.loads(text)
        return LockFile(
            time=parse_time(item["time"]),
            exclusive=bool(item.get("exclusive", False)),
            hostname=str(item["hostname"]),
            pid=int(item["pid"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ResticError(f"cannot read a restic lock: {exc}") from exc


@dataclass
class Listing:
    """What `restic ls --json` says a snapshot holds: regular files and their bytes."""

    files: int = 0
    bytes: int = 0

    def add_line(self, line: str) -> None:
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            return
        if (
            isinstance(item, dict)
            and item.get("struct_type", "node") == "node"
            and item.get("type") == "file"
        ):
            self.files += 1
            self.bytes += int(item.get("size") or 0)
