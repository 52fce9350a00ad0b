"""One protection cycle through the command line on each catalog backend (SQLite and
PostgreSQL, the root's `catalog:`): snapshot, replication, restore test, compliance, status,
evidence export and offline verify, with a copy target whose name is as long as a name may
be, so that its action key is the longest the catalog must hold."""

from __future__ import annotations

from pathlib import Path

from drorch.action_key import NAME_MAX, replicate_key
from tests.conftest import DRORCH_YAML, POLICY_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json

LONG = "far-site-" + "x" * (NAME_MAX - len("far-site-"))
LONG_TARGET = f"""\
  {LONG}: {{kind: disk, path: repos/far, password_file: keys/far.pass,
      site: dc2, jurisdiction: ML, min_free: 1MiB}}
"""
JOB = f"""\
policy: standard
source: {{paths: [data]}}
snapshot: {{target: primary, schedule: "every 15m"}}
replicate: [{{to: {LONG}, schedule: "every 1h"}}]
restore_test: {{schedule: "every 1d", from: [{LONG}]}}
"""


def test_a_cycle_with_the_longest_target_name_on_each_backend(
    make_root: RootFactory, cli: Cli, catalog_url: str, restic_bin: str, tmp_path: Path
) -> None:
    assert len(LONG) == NAME_MAX
    key = replicate_key(LONG)
    root = make_root(
        drorch=DRORCH_YAML + LONG_TARGET + f'catalog: "{catalog_url}"\n',
        jobs={"app": JOB},
        policies={"standard": POLICY_YAML},
    )
    cli("run", "app", "snapshot", root=root, check_rc=0)
    cli("run", "app", "replicate", root=root, check_rc=0)
    cli("run", "app", "restore-test", root=root, check_rc=0)

    runs = as_json(cli("runs", "--json", root=root, check_rc=0))
    assert sorted((r["action"], r["target"], r["status"]) for r in runs) == [
        (key, LONG, "SUCCEEDED"),
        ("restore-test", LONG, "SUCCEEDED"),
        ("snapshot", "primary", "SUCCEEDED"),
    ]
    status = as_json(cli("status", "--json", root=root, check_rc=0))
    rows = {r["action"]: r for r in status["jobs"]}
    assert rows[key]["last_run"]["status"] == "SUCCEEDED"
    assert rows[key]["replication_lag_s"] is None  # the snapshot has its copy
    [job] = as_json(cli("compliance", "--json", root=root, check_rc=0))
    rules = {r["rule"]: r["ok"] for r in job["rules"]}
    assert rules[f"rpo:{LONG}"] is True and all(rules.values()), job

    bundle = tmp_path / "bundle"
    cli("evidence", "export", "--out", bundle, root=root, check_rc=0)
    public = tmp_path / "drorch.pub.pem"
    public.write_text(cli("keys", "export-public", root=root, check_rc=0).stdout)
    report = as_json(cli("evidence", "verify", bundle, "--key", public, "--json", check_rc=0))
    assert report["ok"] is True and report["records"] >= 2  # the copy and the restore test
