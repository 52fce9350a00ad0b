"""The restore test imports the evidence log's code while restic restores."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drorch.actions import restore_test


@pytest.fixture
def importable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("drorch_test_warm", "drorch_test_broken"):
        sys.modules.pop(name, None)


def test_the_module_is_imported_in_a_thread(importable: Path) -> None:
    (importable / "drorch_test_warm.py").write_text("LOADED = True\n", encoding="utf-8")
    assert "drorch_test_warm" not in sys.modules
    restore_test._import_in_background("drorch_test_warm").join()
    assert sys.modules["drorch_test_warm"].LOADED is True


def test_a_failing_import_is_left_for_the_next_importer(importable: Path) -> None:
    (importable / "drorch_test_broken.py").write_text("raise ValueError('broken')\n")
    restore_test._import_in_background("drorch_test_broken").join()  # raises nothing here
    with pytest.raises(ValueError, match="broken"):
        __import__("drorch_test_broken")


def test_it_warms_the_module_record_evidence_imports() -> None:
    import inspect

    from drorch.actions import evidence

    assert f"from {restore_test.EVIDENCE_CODE} import" in inspect.getsource(evidence)
