"""restic's summary names a snapshot; drorch records it only once the repository holds it.

A fake restic runs the real one and, for `backup`, rewrites the id in its JSON summary to
one that does not exist (exit 0, or exit 3 like a partial snapshot): a fault the real
restic cannot be made to show.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from drorch.catalog import RunStatus
from tests.conftest import DRORCH_YAML
from tests.integration.conftest import Env

FAKE_RESTIC = """\
#!{python}
# The real restic, except that `backup` reports a snapshot id that does not exist.
import json, subprocess, sys
if "backup" not in sys.argv:
    sys.exit(subprocess.run([{real!r}, *sys.argv[1:]]).returncode)
done = subprocess.run([{real!r}, *sys.argv[1:]], stdout=subprocess.PIPE, text=True)
for line in done.stdout.splitlines():
    if '"summary"' in line:
        summary = json.loads(line)
        summary["snapshot_id"] = {made_up!r}
        line = json.dumps(summary)
    print(line)
if {partial!r} and done.returncode == 0:
    print("error: open /srv/app/locked.db: permission denied", file=sys.stderr)
    sys.exit(3)
sys.exit(done.returncode)
"""

FULL_ID = "deadbeef" * 8  # restic 0.17 and later print the full id
SHORT_ID = "deadbeef"  # restic 0.14 prints 8 hex digits


def env_with_fake(
    make_env: Callable[..., Env], tmp_path: Path, restic_bin: str, made_up: str, partial: bool
) -> Env:
    fake = tmp_path / "fake-restic"
    fake.write_text(
        FAKE_RESTIC.format(python=sys.executable, real=restic_bin, made_up=made_up, partial=partial)
    )
    fake.chmod(0o755)
    return make_env(drorch=DRORCH_YAML + f"restic: {{binary: {fake}}}\n")


@pytest.mark.parametrize(
    ("made_up", "partial"),
    [(FULL_ID, False), (SHORT_ID, False), (FULL_ID, True)],
    ids=["full-id", "short-id", "full-id-exit-3"],
)
def test_a_summary_naming_a_snapshot_that_does_not_exist_fails_the_run(  # type: ignore[no-untyped-def]
    make_env, tmp_path: Path, restic_bin: str, made_up: str, partial: bool
) -> None:
    env = env_with_fake(make_env, tmp_path, restic_bin, made_up, partial)

    run = env.run()

    assert run.status is RunStatus.FAILED
    assert run.error == (
        f"snapshot of job app to target primary: restic reported snapshot {made_up} as "
        "written, but target 'primary' holds no such snapshot; nothing was recorded"
    )
    assert run.snapshot_id is None
    assert env.catalog.snapshots() == []
    # Confirmed from the repository's folder, without another restic call (~0.6 s each).
    called = sorted(path.name.split("-", 1)[1] for path in Path(run.artifacts or "").iterdir())
    assert "snapshots.json" not in called, called
