"""`drorch demo` end to end: it must always run, and its repository must pass restic check."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.e2e.conftest import Cli, as_json


def test_demo_runs_end_to_end_and_restic_accepts_its_repository(cli: Cli, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    done = cli("demo", "--dir", demo, check_rc=0)
    assert "demo complete" in done.stdout
    assert "13 files identical, 0 different" in done.stdout
    assert cli("validate", root=demo, check_rc=0).stdout.startswith(f"{demo}: valid")
    snapshots = as_json(cli("snapshots", "--json", root=demo, check_rc=0))
    primaries = [s for s in snapshots if s["target"] == "primary"]
    assert sorted(s["job"] for s in primaries) == ["payroll", "payroll", "registry"]
    # every snapshot is on both disk targets, each copy mapped to its original
    assert all(s["targets"] == ["primary", "replica"] for s in snapshots)
    assert sorted(s["original"] for s in snapshots if s["target"] == "replica") == sorted(
        s["id"] for s in primaries
    )
    assert (
        "target 'paris' is in jurisdiction FR, outside policy 'critical' residency" in done.stdout
    )
    # restore tests became evidence; the exported bundle verifies offline, a tampered copy not
    public = demo / "var" / "evidence" / "evidence-public.pem"
    bundle = demo / "var" / "evidence" / "bundle"
    verified = cli("evidence", "verify", bundle, "--key", public, check_rc=0)
    assert "verified: records 1–5 (5)" in verified.stdout
    tampered = cli(
        "evidence", "verify", demo / "var" / "evidence" / "tampered", "--key", public, check_rc=3
    )
    assert "record 1: modified" in tampered.stdout + tampered.stderr
    assert (bundle / "report.html").is_file()
    # compliance: every rule of every job; registry made stale turns red, once per rule
    assert "   registry: 9 of 9 rules ok - compliant" in done.stdout
    assert "VIOLATED copies: short of min, media, offline" in done.stdout
    assert "webhook received: policy-violation rpo:primary of registry" in done.stdout
    assert 'drorch_compliance_rule_ok{drorch_job="registry",rule="rpo:primary"} 0.0' in done.stdout
    report = as_json(cli("compliance", "--json", root=demo, check_rc=3))
    assert {j["job"]: j["ok"] for j in report} == {"payroll": False, "registry": True}
    primary = demo / "var" / "repos" / "primary"
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(demo / "keys" / "primary.pass")}
    check = subprocess.run(
        ["restic", "--repo", str(primary), "check", "--read-data"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    listed = subprocess.run(
        ["restic", "--repo", str(primary), "snapshots", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert sorted(s["id"] for s in primaries) == sorted(
        s["id"] for s in __import__("json").loads(listed)
    )
    # a second demo in the same folder rebuilds it
    assert "demo complete" in cli("demo", "--dir", demo, check_rc=0).stdout


def test_demo_refuses_a_folder_it_did_not_make(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("mine")
    done = cli("demo", "--dir", tmp_path, check_rc=2)
    assert "is not empty and was not made by drorch demo" in done.stderr
    assert (tmp_path / "precious.txt").read_text() == "mine"
