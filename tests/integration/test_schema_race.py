"""Processes that open one new catalog at the same moment (two daemons started together, a
command beside them) create its schema once, on each backend: none of them fails, and the
catalog has one schema at HEAD and one identity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from drorch.catalog.database import HEAD, create_catalog_engine

PROCESSES = 4

# Imports first, says it is ready, waits for the word, then opens: the openings overlap.
OPEN = """
import sys
from pathlib import Path
from drorch.catalog import open_catalog
print("ready", flush=True)
sys.stdin.readline()
open_catalog(sys.argv[1], Path(sys.argv[2])).close()
"""


@pytest.mark.parametrize("round_", range(3))
def test_processes_opening_a_new_catalog_at_once_create_it_once(
    catalog_url: str, tmp_path: Path, round_: int
) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, catalog_url, str(tmp_path / f"state{i}")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [0] * PROCESSES, results
    identities = {(tmp_path / f"state{i}" / "catalog.id").read_text() for i in range(PROCESSES)}
    engine = create_catalog_engine(catalog_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert versions.scalars().all() == [HEAD]
            rows = connection.execute(text("SELECT id FROM catalog_identity")).scalars().all()
    finally:
        engine.dispose()
    assert len(rows) == 1 and identities == {rows[0] + "\n"}
