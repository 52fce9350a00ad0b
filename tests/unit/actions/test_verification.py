"""The checks on a restored folder, as a restore test and a runbook's verify step run
them: real files, real processes (the listing check needs restic: tests/integration)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drorch.actions.verification import canary_check, command_check, verify_restored
from drorch.catalog import SnapshotRecord
from drorch.config.model import CommandCheck

CANARY = "/srv/app/.drorch-canary"


def snapshot(canary_sha256: str | None) -> SnapshotRecord:
    return SnapshotRecord(
        job="app",
        target="primary",
        snapshot_id="a" * 64,
        time=datetime(2026, 11, 29, tzinfo=UTC),
        tree=None,
        hostname="h",
        paths=("/srv/app",),
        tags=(),
        size=10,
        files=1,
        original_id=None,
        run_id=1,
        canary_path=CANARY if canary_sha256 else None,
        canary_sha256=canary_sha256,
    )


def restored(folder: Path, content: bytes) -> Path:
    canary = folder / CANARY.lstrip("/")
    canary.parent.mkdir(parents=True)
    canary.write_bytes(content)
    return folder


def test_the_canary_back_byte_for_byte_passes(tmp_path: Path) -> None:
    folder = restored(tmp_path, b"canary 1")
    check = canary_check(snapshot(hashlib.sha256(b"canary 1").hexdigest()), folder)
    assert check.passed and check.name == "canary"


def test_a_changed_missing_or_unknown_canary_fails(tmp_path: Path) -> None:
    folder = restored(tmp_path / "changed", b"canary 2")
    expected = hashlib.sha256(b"canary 1").hexdigest()
    changed = canary_check(snapshot(expected), folder)
    assert not changed.passed and "canary differs" in changed.detail
    missing = canary_check(snapshot(expected), tmp_path / "empty")
    assert not missing.passed and "missing from the restore" in missing.detail
    unknown = canary_check(snapshot(None), folder)
    assert not unknown.passed and "no canary for this snapshot" in unknown.detail


def test_a_command_check_runs_in_the_restored_folder_without_a_shell(tmp_path: Path) -> None:
    folder = restored(tmp_path, b"x")
    found = command_check(CommandCheck(command=("test", "-f", "{restore_dir}" + CANARY)), folder)
    assert found.passed and found.name == "command test"
    absent = command_check(CommandCheck(command=("test", "-f", "{restore_dir}/nope")), folder)
    assert not absent.passed and absent.detail.startswith("exit 1")
    literal = command_check(CommandCheck(command=("test", "-f", "*")), folder)
    assert not literal.passed  # no shell: the * is not expanded
    slow = command_check(CommandCheck(command=("sleep", "5"), timeout=timedelta(seconds=1)), folder)
    assert not slow.passed and slow.detail == "timed out after 1s"
    nowhere = command_check(CommandCheck(command=("/nonexistent/tool",)), folder)
    assert not nowhere.passed and "could not start" in nowhere.detail


def test_only_the_checks_asked_for_run_in_order(tmp_path: Path) -> None:
    folder = restored(tmp_path, b"canary 1")
    record = snapshot(hashlib.sha256(b"canary 1").hexdigest())
    wanted = ("restic", CommandCheck(command=("true",)), "canary")
    checks = verify_restored(None, None, record, folder, wanted)  # type: ignore[arg-type]
    assert [c.name for c in checks] == ["command true", "canary"]
    assert all(c.passed for c in checks)
