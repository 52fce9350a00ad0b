"""`drorch evidence list|show|export|verify|checkpoint` as a user and an auditor run them."""

from __future__ import annotations

import json
import shutil
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
    assert commands_listed(done.stdout) == ["list", "show", "export", "verify", "checkpoint"]
    for command, options in (
        ("list", {"--job", "--since", "--until", "--json"}),
        ("show", {"--json"}),
        ("export", {"--out", "--since", "--until", "--from-checkpoint"}),
        ("verify", {"--key", "--since-checkpoint", "--json"}),
        ("checkpoint", {"--json"}),
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
    assert ok.stdout.startswith("verified: records 1–5 (5) of checkpoint 5, signed by key ")
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
    assert ok.stdout.startswith("verified: records 4–7 (4) of checkpoint 7, signed by key ")
    assert "  records 1–3 of that tree are not in this bundle\n" in ok.stdout
    assert "  it extends checkpoint 3 (root " in ok.stdout
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["from_checkpoint"]["tree_size"] == 3


def test_export_of_an_empty_log_is_an_error(cli: Cli, root: Path, tmp_path: Path) -> None:
    done = cli("evidence", "export", "--out", tmp_path / "b", root=root, check_rc=1)
    assert "the evidence log is empty" in done.stderr


def test_a_kept_checkpoint_anchors_the_next_bundle_and_a_forged_one_is_refused(
    cli: Cli, root: Path, pubkey: Path, tmp_path: Path, make_root
) -> None:  # type: ignore[no-untyped-def]
    fill(root, 5)
    auditor = pubkey.parent
    done = cli("evidence", "checkpoint", root=root, check_rc=0)
    kept = auditor / "kept-checkpoint.jsonl"
    kept.write_text(done.stdout)
    line = json.loads(done.stdout)
    assert done.stdout == json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n"
    assert (line["format"], line["tree_size"]) == ("drorch-checkpoint/1", 5)
    assert "checkpoint 5 of the evidence log" in done.stderr and "keep the line" in done.stderr
    assert as_json(cli("evidence", "checkpoint", "--json", root=root, check_rc=0)) == line
    first = tmp_path / "first"
    cli("evidence", "export", "--out", first, root=root, check_rc=0)
    assert (first / "checkpoints.jsonl").read_text() == done.stdout  # the same line

    # A quarter later: more records; the operator exports from the auditor's checkpoint.
    fill(root, 3, start=START + timedelta(days=20))
    second = tmp_path / "second"
    cli("evidence", "export", "--out", second, "--from-checkpoint", kept, root=root, check_rc=0)
    newest = json.loads((second / "checkpoints.jsonl").read_text().splitlines()[-1])
    for anchor in (kept, first / "checkpoints.jsonl"):
        ok = cli(
            "evidence", "verify", second, "--key", pubkey, "--since-checkpoint", anchor,
            cwd=auditor, check_rc=0,
        )  # fmt: skip
        assert ok.stdout.endswith(
            f"  it extends the checkpoint you kept: 5 (root {line['root_hash']}) → 8 "
            f"(root {newest['root_hash']})\n"
        )
    report = as_json(
        cli(
            "evidence", "verify", second, "--key", pubkey, "--since-checkpoint", kept, "--json",
            check_rc=0,
        )
    )  # fmt: skip
    assert report["kept"] == {"tree_size": 5, "root_hash": line["root_hash"]}
    assert (report["from_size"], report["tree_size"], report["left_out"]) == (5, 8, [])

    # A bundle without a proof from the kept checkpoint proves nothing about it.
    plain = tmp_path / "plain"
    cli("evidence", "export", "--out", plain, root=root, check_rc=0)
    unproven = cli(
        "evidence", "verify", plain, "--key", pubkey, "--since-checkpoint", kept, check_rc=3
    )
    assert unproven.stdout.startswith(
        "NOT VERIFIED: bundle: unproven: the bundle holds no consistency proof from the "
        f"checkpoint you kept, checkpoint 5 (root {line['root_hash']}), to this bundle's "
        f"checkpoint 8 (root {newest['root_hash']})"
    )

    # The key holder rewrites history: another log of 8 records, signed with the same key,
    # with its own "checkpoint 5" and a bundle proving consistency from that one.
    forger = make_root()
    config = load_config(forger, check_secrets=False)
    shutil.copy(load_config(root, check_secrets=False).settings.evidence_key,
                config.settings.evidence_key)  # fmt: skip
    fill(forger, 5, job="forged")
    fake = tmp_path / "fake-checkpoint-5"
    fake.write_text(cli("evidence", "checkpoint", root=forger, check_rc=0).stdout)
    assert json.loads(fake.read_text())["tree_size"] == 5
    assert json.loads(fake.read_text())["root_hash"] != line["root_hash"]
    fill(forger, 3, job="forged", start=START + timedelta(days=20))
    forged = tmp_path / "forged"
    cli("evidence", "export", "--out", forged, "--from-checkpoint", fake, root=forger, check_rc=0)
    alone = cli("evidence", "verify", forged, "--key", pubkey, check_rc=0)
    assert "it extends checkpoint 5 (root " in alone.stdout  # on its own it holds together
    refused = cli(
        "evidence", "verify", forged, "--key", pubkey, "--since-checkpoint", kept, check_rc=3
    )
    assert refused.stdout.startswith("NOT VERIFIED: bundle: inconsistent: the bundle proves ")
    assert f"the checkpoint 5 you kept has root {line['root_hash']}" in refused.stdout
    assert (
        f"  the checkpoint you kept: 5 (root {line['root_hash']}); the bundle's: 8 (root "
        in refused.stdout
    )


def test_verify_since_checkpoint_refuses_what_is_not_a_kept_checkpoint(
    cli: Cli, root: Path, pubkey: Path, tmp_path: Path
) -> None:
    fill(root, 2)
    bundle = tmp_path / "bundle"
    cli("evidence", "export", "--out", bundle, root=root, check_rc=0)
    junk = tmp_path / "junk"
    junk.write_text("not a checkpoint\n")
    bad = cli("evidence", "verify", bundle, "--key", pubkey, "--since-checkpoint", junk, check_rc=2)
    assert "does not hold a drorch checkpoint line" in bad.stderr
    line = json.loads((bundle / "checkpoints.jsonl").read_text())
    edited = tmp_path / "edited"
    edited.write_text(json.dumps({**line, "tree_size": 1}) + "\n")
    bad = cli(
        "evidence", "verify", bundle, "--key", pubkey, "--since-checkpoint", edited, check_rc=2
    )
    assert "the signature of checkpoint 1 does not verify with the key you trust" in bad.stderr
    missing = cli(
        "evidence", "verify", bundle, "--key", pubkey, "--since-checkpoint", tmp_path / "no",
        check_rc=2,
    )  # fmt: skip
    assert "cannot read the checkpoint" in missing.stderr


def test_checkpoint_of_an_empty_log_is_an_error(cli: Cli, root: Path) -> None:
    done = cli("evidence", "checkpoint", root=root, check_rc=1)
    assert "there is no checkpoint to keep yet" in done.stderr
