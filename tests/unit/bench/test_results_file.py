"""bench/RESULTS.md: one section per date and machine, each bench writing only its part."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from bench import run


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "RESULTS.md"
    path.write_text(run.HEADER, encoding="utf-8")
    monkeypatch.setattr(run, "RESULTS", path)
    return path


def test_a_section_is_named_by_the_date_and_the_kernel_release_of_the_machine() -> None:
    name = run.section_name()
    date, release = name.split(", ", 1)
    assert len(date) == 10 and date[4] == "-" and date[7] == "-"
    assert release == os.uname().release


def test_a_second_machine_on_the_same_day_adds_its_own_section(results: Path) -> None:
    run.write_results("## 2026-12-01, vm-a\n\nsnapshot a\n", "2026-12-01, vm-a")
    run.write_results("### daemon\n\ndaemon a\n", "2026-12-01, vm-a", part="daemon")
    run.write_results("## 2026-12-01, vm-b\n\nsnapshot b\n", "2026-12-01, vm-b")

    text = results.read_text(encoding="utf-8")
    assert "snapshot a" in text and "daemon a" in text and "snapshot b" in text
    assert text.index("## 2026-12-01, vm-a") < text.index("## 2026-12-01, vm-b")


def test_the_same_machine_replaces_its_part_and_keeps_the_others(results: Path) -> None:
    run.write_results("## d, vm\n\nsnapshot 1\n", "d, vm")
    run.write_results("### daemon\n\ndaemon 1\n", "d, vm", part="daemon")
    run.write_results("### notes by hand\n\nkept\n", "d, vm", part="notes by hand")
    run.write_results("### daemon\n\ndaemon 2\n", "d, vm", part="daemon")
    run.write_results("## d, vm\n\nsnapshot 2\n", "d, vm")

    text = results.read_text(encoding="utf-8")
    assert "snapshot 1" not in text and "daemon 1" not in text
    assert "snapshot 2" in text and "daemon 2" in text and "kept" in text
    assert text.count("## d, vm\n") == 1


def test_a_missing_work_folder_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="missing is not an existing folder"):
        run.existing_folder(str(tmp_path / "missing"))
    assert run.existing_folder(str(tmp_path)) == str(tmp_path)
