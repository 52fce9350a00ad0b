"""`drorch snapshots` and `drorch restore` with copies and PARTIAL snapshots, as an operator
runs them (issue 10, defects 12 and 2): each copy shows its own id, the id of its source
and its status, and a restore from a copy takes either id."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import POLICY_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json

JOB = """\
policy: standard
source: {paths: [%s]}
snapshot: {target: primary}
replicate: [{to: replica}]
"""
UNREADABLE = "/proc/self/mem"  # restic gets EIO reading it, as root too: exit 3


def restic_ids(root: Path, target: str) -> dict[str, str | None]:
    """The snapshots restic itself lists on a target: own id -> original id."""
    done = subprocess.run(
        ["restic", "--repo", str(root / "repos" / target), "snapshots", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(root / "keys" / f"{target}.pass")},
        check=True,
    )
    return {s["id"]: s.get("original") for s in json.loads(done.stdout)}


def test_a_copy_is_listed_and_restored_by_its_own_id_or_its_source_id(
    make_root: RootFactory, cli: Cli, tmp_path: Path, restic_bin: str
) -> None:
    root = make_root(jobs={"app": JOB % "data"})
    cli("run", "app", root=root, check_rc=0)
    cli("run", "app", "replicate", root=root, check_rc=0)
    [(copy_id, source_id)] = restic_ids(root, "replica").items()
    assert source_id is not None and copy_id != source_id

    [listed] = as_json(cli("snapshots", "--target", "replica", "--json", root=root, check_rc=0))
    assert set(listed) == {
        "id",
        "time",
        "job",
        "target",
        "size",
        "files",
        "original",
        "status",
        "targets",
    }
    assert (listed["id"], listed["original"], listed["status"]) == (
        copy_id,
        source_id,
        "COMPLETE",
    )
    assert listed["targets"] == ["primary", "replica"]

    table = cli("snapshots", "--target", "replica", root=root, check_rc=0).stdout.splitlines()
    assert table[0].split() == [
        "ID",
        "TIME",
        "JOB",
        "TARGET",
        "COPY",
        "OF",
        "STATUS",
        "FILES",
        "SIZE",
    ]
    [row] = table[1:]
    assert row.startswith(copy_id[:8] + "  ")
    assert f"replica  {source_id[:8]}  COMPLETE" in row

    for n, wanted in enumerate((copy_id[:8], source_id[:8], source_id)):
        done = cli(
            "restore",
            "app",
            "--from",
            "replica",
            "--to",
            tmp_path / f"r{n}",
            "--snapshot",
            wanted,
            "--json",
            root=root,
            check_rc=0,
        )
        assert as_json(done)["snapshot_id"] == copy_id, wanted
        blob = root / "data" / "sub" / "blob.bin"
        assert (tmp_path / f"r{n}" / blob.relative_to("/")).read_bytes() == blob.read_bytes()


def test_a_partial_snapshot_is_marked_never_good_and_never_latest(
    make_root: RootFactory, cli: Cli, tmp_path: Path, restic_bin: str
) -> None:
    root = make_root(
        jobs={"app": JOB % "data"}, policies={"standard": POLICY_YAML.replace("1h", "30d")}
    )
    cli("run", "app", root=root, check_rc=0)
    (root / "jobs" / "app.yaml").write_text(JOB % f"data, {UNREADABLE}", encoding="utf-8")
    partial = cli("run", "app", "--json", root=root)
    assert partial.returncode == 1 and as_json(partial)["status"] == "PARTIAL"
    run_id, partial_id = as_json(partial)["id"], as_json(partial)["snapshot_id"]
    cli("run", "app", "replicate", root=root, check_rc=0)

    listed = as_json(cli("snapshots", "--json", root=root, check_rc=0))
    status = {(s["target"], s["original"] or s["id"]): s["status"] for s in listed}
    [complete_id] = [s["id"] for s in listed if s["target"] == "primary" and s["id"] != partial_id]
    assert status == {
        ("primary", complete_id): "COMPLETE",
        ("replica", complete_id): "COMPLETE",
        ("primary", partial_id): "PARTIAL",
        ("replica", partial_id): "PARTIAL",  # a copy of a PARTIAL snapshot is PARTIAL
    }
    table = cli("snapshots", "--target", "primary", root=root, check_rc=0).stdout
    [line] = [row for row in table.splitlines() if row.startswith(partial_id[:8])]
    assert "PARTIAL" in line.split()

    [job] = as_json(cli("compliance", "--json", root=root, check_rc=3))
    rules = {r["rule"]: r for r in job["rules"]}
    assert rules["rpo:primary"]["detail"].endswith(f"; 1 newer snapshot is PARTIAL (run {run_id})")
    assert not rules["failed_runs"]["ok"]
    assert (
        rules["failed_runs"]["detail"] == f"snapshot: 1 PARTIAL (run {run_id}) since last success"
    )

    latest = as_json(
        cli("restore", "app", "--to", tmp_path / "latest", "--json", root=root, check_rc=0)
    )
    assert latest["snapshot_id"] == complete_id
    chosen = cli("restore", "app", "--to", tmp_path / "p", "--snapshot", partial_id[:8], root=root)
    assert chosen.returncode == 0, chosen.stderr
    assert "a PARTIAL snapshot lacks the files restic could not read" in chosen.stdout
