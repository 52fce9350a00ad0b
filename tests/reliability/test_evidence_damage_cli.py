"""`drorch evidence list` and `show` check the log as they read it: a record edited,
deleted or signed by another key in the catalog is marked where people look, named on
stderr, and the command exits 3."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from drorch.catalog import open_catalog
from drorch.config import load_config
from drorch.evidence.canonical import canonical_bytes
from tests.e2e.conftest import Cli, as_json
from tests.e2e.test_evidence_cli import START, fill
from tests.unit.evidence.conftest import write_key_pair


@pytest.fixture
def root(make_root) -> Path:  # type: ignore[no-untyped-def]
    root: Path = make_root()
    fill(root, 5)
    fill(root, 1, job="other", start=START + timedelta(days=30))
    return root


def sql(root: Path, statement: str, **params: object) -> None:
    """Change the real catalog by hand, as someone with write access to it would."""
    config = load_config(root, check_secrets=False)
    catalog = open_catalog(config.settings.catalog, config.state_dir)
    with catalog.engine.begin() as connection:
        connection.execute(text(statement), params)
    catalog.close()


def edit_body(root: Path, seq: int, change: dict[str, object]) -> None:
    config = load_config(root, check_secrets=False)
    catalog = open_catalog(config.settings.catalog, config.state_dir)
    with catalog.engine.begin() as connection:
        body = connection.execute(
            text("SELECT body FROM evidence_records WHERE seq = :seq"), {"seq": seq}
        ).scalar_one()
        edited = canonical_bytes({**json.loads(body), **change}).decode()
        assert edited != body, "not a change"
        connection.execute(
            text("UPDATE evidence_records SET body = :body WHERE seq = :seq"),
            {"body": edited, "seq": seq},
        )
    catalog.close()


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("drorch: warning: ")]


def test_an_intact_log_lists_and_shows_as_verified(cli: Cli, root: Path) -> None:
    table = cli("evidence", "list", root=root, check_rc=0)
    assert table.stdout.splitlines()[0].split()[-1] == "VERIFIED"
    assert [row.split()[-1] for row in table.stdout.splitlines()[1:]] == ["yes"] * 6
    assert table.stderr == ""
    listed = as_json(cli("evidence", "list", "--json", root=root, check_rc=0))
    assert {(r["verified"], r["problem"]) for r in listed} == {(True, None)}
    shown = cli("evidence", "show", "3", root=root, check_rc=0)
    assert shown.stdout.splitlines()[1] == "verified"


def test_an_edited_record_is_marked_in_list_and_show(cli: Cli, root: Path) -> None:
    edit_body(root, 2, {"result": "pass"})  # a failed restore test made to pass
    done = cli("evidence", "list", root=root, check_rc=3)
    rows = {row.split()[0]: row.split() for row in done.stdout.splitlines()[1:]}
    assert rows["2"][-1] == "NO" and rows["2"][5] == "pass"
    assert [seq for seq, row in rows.items() if row[-1] != "yes"] == ["2"]
    assert warnings(done.stderr) == [
        "drorch: warning: evidence record 2 does not verify: its content does not match "
        "its hash: changed"
    ]
    listed = as_json(cli("evidence", "list", "--json", root=root, check_rc=3))
    assert [(r["seq"], r["verified"], r["problem"]) for r in listed if not r["verified"]] == [
        (2, False, "its content does not match its hash: changed")
    ]
    shown = cli("evidence", "show", "2", root=root, check_rc=3)
    assert shown.stdout.splitlines()[1] == (
        "DOES NOT VERIFY: its content does not match its hash: changed"
    )
    assert "evidence record 2 does not verify" in shown.stderr
    # --json is the record as signed, the verdict is the exit code and stderr
    assert as_json(cli("evidence", "show", "2", "--json", root=root, check_rc=3))["seq"] == 2
    assert cli("evidence", "show", "3", root=root, check_rc=0).stderr == ""
    # a listing that leaves the record out exits 0 but does not hide that the log is damaged
    since = (START + timedelta(days=30)).date().isoformat()
    other = cli("evidence", "list", "--since", since, root=root, check_rc=0)
    assert [row.split()[0] for row in other.stdout.splitlines()[1:]] == ["6"]
    assert warnings(other.stderr) == [
        "drorch: warning: 1 record(s) not listed do not verify either (first: record 2: "
        "its content does not match its hash: changed)"
    ]


def test_a_record_resigned_without_the_key_is_named_by_its_signature(cli: Cli, root: Path) -> None:
    # the body changed and its hash recomputed: only the signature (and the next link) tell
    import hashlib

    config = load_config(root, check_secrets=False)
    catalog = open_catalog(config.settings.catalog, config.state_dir)
    with catalog.engine.connect() as connection:
        body = json.loads(
            connection.execute(text("SELECT body FROM evidence_records WHERE seq = 2")).scalar_one()
        )
    catalog.close()
    forged = {k: v for k, v in body.items() if k not in ("hash", "signature", "key_id")}
    forged["result"] = "pass"
    digest = hashlib.sha256(canonical_bytes(forged)).hexdigest()
    edit_body(root, 2, {**forged, "hash": digest, "signature": body["signature"]})
    sql(root, "UPDATE evidence_records SET hash = :h WHERE seq = 2", h=digest)
    shown = cli("evidence", "show", "2", root=root, check_rc=3)
    assert "its signature does not verify: changed after signing" in shown.stdout
    listed = as_json(cli("evidence", "list", "--json", root=root, check_rc=3))
    assert {r["seq"]: r["problem"] for r in listed if not r["verified"]} == {
        2: "its signature does not verify: changed after signing",
        3: "its prev does not match the hash of the record before it: the chain is broken",
    }


def test_a_deleted_record_is_named_and_its_successor_marked(cli: Cli, root: Path) -> None:
    sql(root, "DELETE FROM evidence_records WHERE seq = 3")
    done = cli("evidence", "list", "--json", root=root, check_rc=3)
    listed = as_json(done)
    assert [r["seq"] for r in listed] == [1, 2, 4, 5, 6]
    assert {r["seq"]: r["problem"] for r in listed if not r["verified"]} == {
        4: "record 3 before it is missing: deleted"
    }
    assert (
        "drorch: warning: evidence record 3: is missing (the next record is 4): deleted"
        in warnings(done.stderr)
    )
    gone = cli("evidence", "show", "3", root=root, check_rc=3)
    assert "evidence record 3: is missing (the next record is 4): deleted" in gone.stderr
    # the newest record deleted: nothing left to mark, still exit 3
    sql(root, "DELETE FROM evidence_records WHERE seq >= 4")
    tail = cli("evidence", "list", "--job", "app", root=root, check_rc=3)
    assert "checkpoint 6 covers records up to 6, the log ends at 2: deleted" in tail.stderr
    assert cli("evidence", "show", "9", root=root, check_rc=2).stderr.endswith(
        "no evidence record 9 (the log holds records 1–2)\n"
    )


def test_a_replaced_or_missing_key_marks_every_record(cli: Cli, root: Path, tmp_path: Path) -> None:
    key = load_config(root, check_secrets=False).settings.evidence_key
    original = key.read_bytes()
    key.write_bytes(write_key_pair(tmp_path / "new").private.read_bytes())
    listed = as_json(cli("evidence", "list", "--json", root=root, check_rc=3))
    assert all(not r["verified"] for r in listed)
    assert listed[0]["problem"].startswith("it is signed by another key (")
    assert "; checkpoint 1 is signed by another key (" in listed[0]["problem"]
    done = cli("evidence", "list", root=root, check_rc=3)
    assert len(warnings(done.stderr)) == 6
    key.unlink()
    unchecked = cli("evidence", "list", root=root, check_rc=3)
    assert warnings(unchecked.stderr) == [
        f"drorch: warning: no record listed could be checked: cannot read the evidence key "
        f"{key}: No such file or directory (`drorch keys init` creates it); evidence cannot "
        "be signed"
    ]
    assert (
        cli("evidence", "show", "1", root=root, check_rc=3)
        .stdout.splitlines()[1]
        .startswith("DOES NOT VERIFY: not checked: cannot read the evidence key")
    )
    key.write_bytes(original)
    cli("evidence", "list", root=root, check_rc=0)


def test_export_writes_the_bundle_and_exits_3_naming_the_damage(
    cli: Cli, root: Path, tmp_path: Path
) -> None:
    clean = cli("evidence", "export", "--out", tmp_path / "clean", root=root, check_rc=0)
    assert warnings(clean.stderr) == []
    edit_body(root, 2, {"result": "pass"})
    done = cli("evidence", "export", "--out", tmp_path / "bundle", root=root, check_rc=3)
    assert (tmp_path / "bundle" / "records.jsonl").is_file()  # nothing is hidden
    assert warnings(done.stderr)[0] == (
        "drorch: warning: evidence record 2: its content does not match its hash: changed"
    )
    key = tmp_path / "public.pem"
    key.write_text(cli("keys", "export-public", root=root, check_rc=0).stdout)
    cli("evidence", "verify", tmp_path / "bundle", "--key", key, root=root, check_rc=3)
