"""One protection cycle through the command line on each catalog backend (SQLite and
PostgreSQL, the root's `catalog:`): snapshot, replication, restore test, compliance, status,
evidence export and offline verify, with a copy target whose name is as long as a name may
be, so that its action key is the longest the catalog must hold. And what a user reads when
the database itself fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from drorch.action_key import NAME_MAX, replicate_key
from drorch.catalog import open_catalog
from drorch.catalog.database import create_catalog_engine
from drorch.errors import CatalogError, CatalogUnreachable
from tests.conftest import DRORCH_YAML, POLICY_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json
from tests.pg import pg_schema_url

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


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


def test_a_database_error_is_told_without_its_sql(
    make_root: RootFactory, cli: Cli, pg_url: str, restic_bin: str
) -> None:
    """An error no layer expected (here a column narrowed by hand behind drorch's back) is
    one line naming the database's complaint: no traceback, no SQL, no parameters."""
    root = make_root(drorch=DRORCH_YAML + f'catalog: "{pg_url}"\n')
    cli("runs", root=root, check_rc=0)  # creates the catalog
    engine = create_catalog_engine(pg_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER latest_runs_note ON runs"))
        connection.execute(text("ALTER TABLE runs ALTER COLUMN action TYPE varchar(5)"))
    engine.dispose()
    done = cli("run", "app", "snapshot", root=root, check_rc=1)
    assert done.stderr == "drorch: error: catalog: value too long for type character varying(5)\n"


def test_an_unreachable_catalog_is_named_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://drorch:s3cret@127.0.0.1:1/catalog"
    with pytest.raises(CatalogError) as caught:
        open_catalog(url, tmp_path / "state")
    message = str(caught.value)
    assert isinstance(caught.value, CatalogUnreachable)  # the daemon waits for it
    assert message.startswith(
        "cannot reach the catalog postgresql+psycopg://drorch:***@127.0.0.1:1/catalog: "
        "connection failed: "
    )
    assert "s3cret" not in message and "SQL" not in message and "\n" not in message
