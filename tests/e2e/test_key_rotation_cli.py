"""Key rotation through the CLI, as an operator and an auditor would do it: the auditor
keeps the public key and a checkpoint from before `drorch keys rotate`; the next quarter's
bundle, signed by the new key, verifies with the old key and extends the kept checkpoint."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.e2e.conftest import Cli, as_json
from tests.e2e.test_evidence_cli import START, fill


def test_a_rotated_log_verifies_from_the_key_the_auditor_kept(
    cli: Cli,
    make_root,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    root: Path = make_root()
    fill(root, 3)
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    old_key = auditor / "drorch-2026.pem"
    old_key.write_text(cli("keys", "export-public", root=root, check_rc=0).stdout)
    kept = auditor / "kept.jsonl"
    kept.write_text(cli("evidence", "checkpoint", root=root, check_rc=0).stdout)

    rotated = as_json(cli("keys", "rotate", "--reason", "yearly", "--json", root=root, check_rc=0))
    assert rotated["rotation_seq"] == 4
    assert Path(rotated["retired_key_file"]).is_file()
    fill(root, 2, start=START + timedelta(days=30))  # signed by the new key
    listed = as_json(cli("evidence", "list", "--json", root=root, check_rc=0))
    assert [r["kind"] for r in listed][3] == "key-rotation"
    assert all(r["verified"] for r in listed)

    bundle = tmp_path / "bundle-q2"
    cli("evidence", "export", "--out", bundle, "--from-checkpoint", kept, root=root, check_rc=0)
    done = cli(
        "evidence", "verify", bundle, "--key", old_key, "--since-checkpoint", kept,
        "--json", root=root, check_rc=0,
    )  # fmt: skip
    result = as_json(done)
    old, new = rotated["old_key_id"], rotated["new_key_id"]
    assert result["ok"] and result["key_id"] == new
    assert result["keys"] == f"keys: {old} (trusted) → {new} at record 4"
    assert (result["kept"]["tree_size"], result["tree_size"]) == (3, 6)

    stranger = tmp_path / "stranger.pem"
    (tmp_path / "other").mkdir()
    other = make_root()
    stranger.write_text(cli("keys", "export-public", root=other, check_rc=0).stdout)
    refused = cli("evidence", "verify", bundle, "--key", stranger, root=root, check_rc=3)
    assert "no rotation in it leads from your key" in refused.stdout + refused.stderr
