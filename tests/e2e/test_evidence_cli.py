"""`drorch evidence list|show|export|verify` as a user and an auditor run them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drorch.catalog import open_catalog
from drorch.config import load_config
from drorch.evidence.log import EvidenceLog
from tests.e2e.conftest import Cli, as_json
from tests.e2e.help_text import commands_listed, options_listed

# Forty days ago at 09:00 UTC: the records are in the past whatever the machine's date.
START = (datetime.now(UTC) - timedelta(days=40)).replace(hour=9, minute=0, second=0, microsecond=0)
DAY2 = (START + timedelta(days=1)).date().isoformat()


def fill(root: Path, count: int, *, job: str = "app", start: datetime = START) -> None:
    """Append restore-test records a day apart, as the restore-test action would."""
    config = load_config(root, check_secrets=False)
    catalog = open_catalog(config.settings.catalog, config.state_dir)
    days = iter(range(10_000))
    log = EvidenceLog(
        catalog,
        config.settings.evidence_key,
        clock=lambda: start + timedelta(days=next(days) // 2),
    )
    for i in range(count):
        log.append(
            "restore-test",
            {
                "actor": "scheduler",
                "job": job,
                "result": "fail" if i == 1 else "pass",
                "checks": [{"name": "canary", "passed": i != 1, "detail": "x"}],
                "name": "Zürich",
            },
        )
    catalog.close()


@pytest.fixture
def root(make_root) -> Path:  # type: ignore[no-untyped-def]
    root: Path = make_root()
    return root


@pytest.fixture
def pubkey(cli: Cli, root: Path, tmp_path: Path) -> Path:
    path = tmp_path / "auditor" / "drorch.pub.pem"
    path.parent.mkdir()
    path.write_text(cli("keys", "export-public", root=root, check_rc=0).stdout)
    return path


def test_help_lists_the_evidence_commands_with_their_options(cli: Cli) -> None:
    assert "evidence" in commands_listed(cli("--help", check_rc=0).stdout)
    done = cli("evidence", "--help", check_rc=0)
    assert commands_listed(done.stdout) == ["list", "show", "export", "verify"]
    for command, options in (
        ("list", {"--job", "--since", "--until", "--json"}),
        ("show", {"--json"}),
        ("export", {"--out", "--since", "--until", "--from-checkpoint"}),
        ("verify", {"--key", "--json"}),
    ):
        help_text = cli("evidence", command, "--help", check_rc=0).stdout
        assert help_text.startswith(f"usage: drorch evidence {command} ")
        assert options <= options_listed(help_text)
    assert cli("evidence").returncode == 2


def test_list_and_show(cli: Cli, root: Path) -> None:
    assert cli("evidence", "list", root=root, check_rc=0).stdout == "(no evidence records)\n"
    fill(root, 3)
    fill(root, 1, job="other", start=START + timedelta(days=30))
    table = cli("evidence", "list", root=root, check_rc=0).stdout.splitlines()
    assert table[0].split() == ["SEQ", "AT", "KIND", "JOB", "RESULT", "ID", "VERIFIED"]
    assert [row.split()[0] for row in table[1:]] == ["1", "2", "3", "4"]
    assert table[2].split()[4:6] == ["app", "fail"]
    listed = as_json(cli("evidence", "list", "--json", "--job", "app", root=root, check_rc=0))
    assert [(r["seq"], r["result"]) for r in listed] == [(1, "pass"), (2, "fail"), (3, "pass")]
    assert listed[0]["at"] == START.strftime("%Y-%m-%dT09:00:00.000000Z")
    window = as_json(
        cli(
            "evidence",
            "list",
            "--json",
            "--since",
            DAY2,
            "--until",
            DAY2,
            root=root,
            check_rc=0,
        )
    )
    assert [r["seq"] for r in window] == [2]
    recent = as_json(cli("evidence", "list", "--json", "--since", "1d", root=root, check_rc=0))
    assert recent == []
    shown = as_json(cli("evidence", "show", "2", "--json", root=root, check_rc=0))
    assert shown["seq"] == 2 and shown["name"] == "Zürich" and shown["hash"] == listed[1]["hash"]
    text = cli("evidence", "show", "2", root=root, check_rc=0).stdout
    assert text.startswith("record 2: restore-test at ")
    assert '"name": "Zürich"' in text
    missing = cli("evidence", "show", "9", root=root, check_rc=2)
    assert "no evidence record 9 (the log holds records 1–4)" in missing.stderr
    bad = cli("evidence", "list", "--since", "yesterday", root=root, check_rc=2)
    assert "'yesterday' is not a time" in bad.stderr


def test_export_then_verify_offline_then_tamper(
    cli: Cli, root: Path, pubkey: Path, tmp_path: Path
) -> None:
    fill(root, 5)
    bundle = tmp_path / "bundle"
    done = cli("evidence", "export", "--out", bundle, root=root, check_rc=0)
    assert done.stdout.startswith(f"exported records 1–5 (5) to {bundle}\ncheckpoint 5: root ")
    assert sorted(p.name for p in bundle.iterdir()) >= [
        "checkpoints.jsonl",
        "manifest.json",
        "proofs.jsonl",
        "public_key.pem",
        "records.jsonl",
    ]
    again = cli("evidence", "export", "--out", bundle, root=root, check_rc=2)
    assert "is not empty" in again.stderr

    # The auditor needs no config root, only the bundle and the key.
    ok = cli("evidence", "verify", bundle, "--key", pubkey, cwd=tmp_path, check_rc=0)
    assert ok.stdout.startswith("verified: records 1–5 (5), signed by key ")
    report = as_json(cli("evidence", "verify", bundle, "--key", pubkey, "--json", check_rc=0))
    assert (report["ok"], report["records"], report["tree_size"], report["problem"]) == (
        True,
        5,
        5,
        None,
    )

    records = bundle / "records.jsonl"
    original = records.read_bytes()
    records.write_bytes(original.replace(b'"result":"fail"', b'"result":"pass"'))
    bad = cli("evidence", "verify", bundle, "--key", pubkey, check_rc=3)
    assert bad.stdout.startswith(
        "NOT VERIFIED: record 2: modified: its content does not match its hash "
        "(records.jsonl line 2)"
    )
    problem = as_json(cli("evidence", "verify", bundle, "--key", pubkey, "--json", check_rc=3))
    assert problem["ok"] is False
    assert {k: problem["problem"][k] for k in ("seq", "what", "file", "line")} == {
        "seq": 2,
        "what": "modified",
        "file": "records.jsonl",
        "line": 2,
    }
    rows = original.splitlines(keepends=True)
    records.write_bytes(b"".join(rows[:2] + rows[3:]))
    deleted = cli("evidence", "verify", bundle, "--key", pubkey, check_rc=3)
    assert deleted.stdout.startswith("NOT VERIFIED: record 3: deleted: it is missing")


def test_verify_with_another_key_and_bad_usage(
    cli: Cli, root: Path, pubkey: Path, tmp_path: Path, make_root
) -> None:  # type: ignore[no-untyped-def]
    fill(root, 2)
    bundle = tmp_path / "bundle"
    cli("evidence", "export", "--out", bundle, root=root, check_rc=0)
    stranger = make_root()
    other = tmp_path / "other.pem"
    other.write_text(cli("keys", "export-public", root=stranger, check_rc=0).stdout)
    wrong = cli("evidence", "verify", bundle, "--key", other, check_rc=3)
    assert "signed by another key" in wrong.stdout
    missing = cli("evidence", "verify", tmp_path / "nowhere", "--key", pubkey, check_rc=2)
    assert "is not a folder holding an evidence bundle" in missing.stderr
    nokey = cli("evidence", "verify", bundle, "--key", tmp_path / "none.pem", check_rc=2)
    assert "cannot read the public key" in nokey.stderr
    assert cli("evidence", "verify", bundle).returncode == 2  # --key is required


def test_export_from_an_accepted_checkpoint_and_a_window(
    cli: Cli, root: Path, pubkey: Path, tmp_path: Path
) -> None:
    fill(root, 3)
    first = tmp_path / "first"
    cli("evidence", "export", "--out", first, root=root, check_rc=0)
    accepted = tmp_path / "accepted.json"
    accepted.write_bytes((first / "checkpoints.jsonl").read_bytes().splitlines()[-1] + b"\n")
    fill(root, 4, start=START + timedelta(days=20))
    second = tmp_path / "second"
    done = cli(
        "evidence",
        "export",
        "--out",
        second,
        "--since",
        (START + timedelta(days=20)).date().isoformat(),
        "--from-checkpoint",
        accepted,
        root=root,
        check_rc=0,
    )
    assert "exported records 4–7 (4)" in done.stdout
    assert "with a consistency proof from checkpoint 3" in done.stdout
    ok = cli("evidence", "verify", second, "--key", pubkey, check_rc=0)
    assert ok.stdout.rstrip().endswith("; it extends checkpoint 3")
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["from_checkpoint"]["tree_size"] == 3


def test_export_of_an_empty_log_is_an_error(cli: Cli, root: Path, tmp_path: Path) -> None:
    done = cli("evidence", "export", "--out", tmp_path / "b", root=root, check_rc=1)
    assert "the evidence log is empty" in done.stderr
