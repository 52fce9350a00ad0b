"""`drorch metrics` on a config root with a real snapshot, parsed as Prometheus parses it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import POLICY_YAML, RootFactory
from tests.e2e.conftest import Cli


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


RPO_OK = ("drorch_compliance_rule_ok", (("drorch_job", "app"), ("rule", "rpo:primary")))
RPO_AGE = ("drorch_rpo_age_seconds", (("drorch_job", "app"), ("target", "primary")))
SNAPSHOT = (("action", "snapshot"), ("drorch_job", "app"))


def test_metrics_show_a_job_going_stale(
    make_root: RootFactory, cli: Cli, restic_bin: str, tmp_path: Path
) -> None:
    root: Path = make_root()
    cli("run", "app", root=root, check_rc=0)
    before = time.time()

    fresh = samples(cli("metrics", root=root, check_rc=0).stdout)
    assert fresh[RPO_OK] == 1
    assert 0 <= fresh[RPO_AGE] < 60
    assert fresh[("drorch_rpo_limit_seconds", (("drorch_job", "app"),))] == 3600
    finished = fresh[("drorch_last_success_timestamp_seconds", SNAPSHOT)]
    assert before - 60 < finished <= before
    assert fresh[("drorch_last_success_processed_bytes", SNAPSHOT)] > 200_000  # data/ itself
    assert fresh[("drorch_runs", (("action", "snapshot"), ("status", "SUCCEEDED")))] == 1
    assert fresh[("drorch_runs", (("action", "snapshot"), ("status", "FAILED")))] == 0

    (root / "policies" / "standard.yaml").write_text(
        POLICY_YAML.replace("rpo: 1h", "rpo: 1s"), encoding="utf-8"
    )
    time.sleep(2)
    textfile = tmp_path / "drorch.prom"
    done = cli("metrics", "--textfile", textfile, root=root, check_rc=0)
    assert done.stdout == ""
    assert textfile.stat().st_mode & 0o777 == 0o644
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    stale = samples(textfile.read_text(encoding="utf-8"))
    assert stale[RPO_OK] == 0
    assert stale[("drorch_job_compliant", (("drorch_job", "app"),))] == 0
    assert stale[RPO_AGE] >= 2
    assert stale[("drorch_rpo_limit_seconds", (("drorch_job", "app"),))] == 1


def test_an_unwritable_textfile_fails_naming_it(
    make_root: RootFactory, cli: Cli, tmp_path: Path
) -> None:
    root: Path = make_root()
    missing = tmp_path / "no-such-folder" / "drorch.prom"
    done = cli("metrics", "--textfile", missing, root=root)
    assert done.returncode == 1
    assert str(missing) in done.stderr and "No such file" in done.stderr
