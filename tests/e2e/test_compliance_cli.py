"""`drorch compliance` on a config root with a real snapshot, as an operator runs it."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import POLICY_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json

NEED_A_RESTORE_TEST = {"verified_rpo", "rto"}


def test_compliance_ok_then_stale(make_root: RootFactory, cli: Cli, restic_bin: str) -> None:
    root: Path = make_root()
    cli("run", "app", root=root, check_rc=0)

    done = cli("compliance", "--json", root=root)
    [job] = as_json(done)
    assert job["job"] == "app"
    violated = {r["rule"] for r in job["rules"] if not r["ok"]}
    assert violated == NEED_A_RESTORE_TEST, job
    assert done.returncode == 3
    rpo = next(r for r in job["rules"] if r["rule"] == "rpo:primary")
    assert rpo["ok"] and rpo["limit"] == 3600 and rpo["since"] is None

    table = cli("compliance", "--job", "app", root=root, check_rc=3)
    assert "rpo:primary" in table.stdout and "VIOLATED" in table.stdout

    (root / "policies" / "standard.yaml").write_text(
        POLICY_YAML.replace("rpo: 1h", "rpo: 1s"), encoding="utf-8"
    )
    time.sleep(2)
    [job] = as_json(cli("compliance", "--json", root=root, check_rc=3))
    rpo = next(r for r in job["rules"] if r["rule"] == "rpo:primary")
    assert not rpo["ok"] and rpo["value"] >= 2 and rpo["limit"] == 1
    assert rpo["since"].endswith("Z")


def test_unknown_job_is_a_usage_error(make_root: RootFactory, cli: Cli) -> None:
    root: Path = make_root()
    done = cli("compliance", "--job", "nope", root=root)
    assert done.returncode == 2 and "nope" in done.stderr
