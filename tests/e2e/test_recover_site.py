"""The shipped recover-site runbook over the demo's jobs, through the CLI: declared with
--yes, approved by a second person, resumed, every job of the lost site restored from the
replica shortest RTO first, verified, and the recovery time of each against its RTO."""

from __future__ import annotations

from pathlib import Path

from drorch import demo
from drorch.config import load_config
from drorch.keys import init_keys
from tests.e2e.conftest import Cli, as_json


def test_recover_site_over_the_demo_jobs(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "drorch.yaml").write_text(demo.DRORCH_YAML)
    demo.copy_examples(root)
    demo.write_sample_data(root / "data")
    init_keys(load_config(root, check_secrets=False).settings)
    for job in ("payroll", "registry"):
        cli("run", job, root=root, check_rc=0)
        cli("run", job, "replicate", "--to", "replica", root=root, check_rc=0)
    destination = root / "var" / "restore" / "site"
    started = cli(
        "runbook", "run", "recover-site", "--param", f"destination={destination}",
        "--yes", "--as", "alice", "--json", root=root, check_rc=0,
    )  # fmt: skip
    run = as_json(started)
    assert (run["status"], run["current_step"]) == ("WAITING", "approve")
    assert [s["name"] for s in run["steps"]][2:6] == [
        "restore[payroll]",  # critical: RTO 1h
        "verify[payroll]",
        "restore[registry]",  # standard: RTO 8h
        "verify[registry]",
    ]
    assert not destination.exists()  # nothing restored before the approval
    cli("runbook", "approve", run["run"], "approve", "--as", "bob", root=root, check_rc=0)
    done = cli("runbook", "resume", run["run"], "--yes", "--as", "alice", root=root, check_rc=0)
    lines = done.stdout.splitlines()
    summary = [line.strip() for line in lines[lines.index("recovery time against RTO:") + 1 :]]
    assert summary[0].startswith("payroll: restored in ") and "RTO 1h: within" in summary[0]
    assert summary[1].startswith("registry: restored in ") and "RTO 8h: within" in summary[1]
    for job in ("payroll", "registry"):
        restored = destination / job / (root / "data" / job).relative_to("/")
        assert restored.is_dir() and any(restored.iterdir())
    status = as_json(cli("runbook", "status", run["run"], "--json", root=root, check_rc=0))
    assert status["status"] == "SUCCEEDED"
    approved = next(s for s in status["steps"] if s["name"] == "approve")
    assert approved["approved_by"] == "bob (given with --as by root)"
    evidence = as_json(cli("evidence", "show", status["evidence_seq"], "--json", root=root))
    assert [r["job"] for r in evidence["recovery"]] == ["payroll", "registry"]
    assert all(r["within"] for r in evidence["recovery"])
