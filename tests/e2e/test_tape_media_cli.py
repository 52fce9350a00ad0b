"""`drorch tape label|list|export|import` and the catalog beside `tape inventory`, on a
real virtual library, as an operator runs them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from drorch.targets.tape.format.label import Label, read_label, write_label
from drorch.targets.tape.virtual import VirtualLibrary
from tests.conftest import DRORCH_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json
from tests.e2e.help_text import commands_listed

TAPE = """\
  vault: {kind: tape, virtual: {path: vtl, slots: 4, capacity: 4MiB}, pool: weekly,
          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}
"""
RECORD = 256 * 1024


def _root(make_root: RootFactory) -> Path:
    root: Path = make_root(drorch=DRORCH_YAML + TAPE)
    return root


def _library(root: Path, cli: Cli) -> VirtualLibrary:
    cli("tape", "inventory", root=root, check_rc=0)  # creates it
    return VirtualLibrary.open(root / "vtl")


def _label_of(library: VirtualLibrary, slot: int) -> Label | None:
    library.changer().load(slot, 0)
    try:
        with library.drive(0, record_size=RECORD) as drive:
            found = read_label(drive)
            drive.unload()
    finally:
        library.changer().unload(0, slot)
    return found


def _write(library: VirtualLibrary, slot: int, label: Label | None, raw: bytes = b"") -> None:
    library.changer().load(slot, 0)
    with library.drive(0, record_size=RECORD) as drive:
        if label is not None:
            write_label(drive, label)
        else:
            drive.write_record(raw)
            drive.weof()
        drive.unload()
    library.changer().unload(0, slot)


def test_label_writes_a_scratch_label_and_the_catalog_knows_it(
    make_root: RootFactory, cli: Cli
) -> None:
    root = _root(make_root)
    library = _library(root, cli)
    done = as_json(cli("tape", "label", "DRO001L8", "DRO002L8", "--json", root=root, check_rc=0))
    assert [c["outcome"] for c in done["cartridges"]] == ["labelled", "labelled"]
    assert done["cartridges"][0]["found"] == "blank"
    label = _label_of(library, 1)
    assert label is not None and label.pool == "weekly" and label.barcode == "DRO001L8"
    assert label.media_set == uuid.UUID(int=0)
    shown = as_json(cli("tape", "inventory", "--json", root=root, check_rc=0))
    slot1 = next(s for s in shown["slots"] if s["slot"] == 1)
    assert slot1["barcode"] == "DRO001L8"  # unloaded back to its slot
    assert slot1["catalog"] == {"pool": "weekly", "media_set": None, "sequence": None,
                                "state": "BLANK"}  # fmt: skip
    assert next(s for s in shown["slots"] if s["slot"] == 3)["catalog"] is None
    assert not shown["drives"][0]["full"]
    again = as_json(cli("tape", "label", "vault", "DRO001L8", "--json", root=root, check_rc=0))
    assert again["cartridges"][0]["outcome"] == "already labelled"
    listed = as_json(cli("tape", "list", "--json", root=root, check_rc=0))
    assert listed["media_sets"] == []
    assert [c["barcode"] for c in listed["cartridges_without_media_set"]] == [
        "DRO001L8",
        "DRO002L8",
    ]
    table = cli("tape", "list", root=root, check_rc=0).stdout
    assert "DRO002L8" in table and "blank" in table


def test_label_refuses_a_foreign_tape_or_another_label_without_force(
    make_root: RootFactory, cli: Cli
) -> None:
    root = _root(make_root)
    library = _library(root, cli)
    _write(library, 1, None, raw=b"VOL1" + bytes(76))  # another program's tape
    other = Label("DRO002L8", "monthly", uuid.uuid4(), 2, datetime(2026, 1, 1, tzinfo=UTC), RECORD)
    _write(library, 2, other)  # another catalog's media set
    done = cli("tape", "label", "DRO001L8", "DRO002L8", "DRO003L8", root=root, check_rc=1)
    assert "refused" in done.stdout and "drorch did not write" in done.stdout
    assert str(other.media_set) in done.stdout
    assert _label_of(library, 2) == other  # untouched
    label3 = _label_of(library, 3)
    assert label3 is not None and label3.pool == "weekly"  # the blank one was labelled
    forced = as_json(cli("tape", "label", "DRO002L8", "--force", "--json", root=root, check_rc=0))
    assert forced["cartridges"][0]["outcome"] == "labelled"
    relabelled = _label_of(library, 2)
    assert relabelled is not None and relabelled.media_set == uuid.UUID(int=0)


def test_label_bad_input_writes_nothing(make_root: RootFactory, cli: Cli) -> None:
    root = _root(make_root)
    library = _library(root, cli)
    done = cli("tape", "label", "DRO001L8", "NOPE01L8", root=root, check_rc=2)
    assert "NOPE01L8" in done.stderr
    assert _label_of(library, 1) is None  # the good one was not written either
    cli("tape", "label", root=root, check_rc=2)
    library.set_write_protect("DRO004L8")
    done = as_json(cli("tape", "label", "--all-blank", "--json", root=root, check_rc=0))
    outcomes = {c["barcode"]: c["outcome"] for c in done["cartridges"]}
    assert outcomes == {"DRO001L8": "labelled", "DRO002L8": "labelled",
                        "DRO003L8": "labelled", "DRO004L8": "skipped"}  # fmt: skip
    assert _label_of(library, 4) is None


def test_export_then_import_moves_and_marks(make_root: RootFactory, cli: Cli) -> None:
    root = _root(make_root)
    library = _library(root, cli)
    cli("tape", "label", "DRO001L8", root=root, check_rc=0)
    done = as_json(cli("tape", "export", "DRO001L8", "--json", root=root, check_rc=0))
    assert done["moved"] == [{"barcode": "DRO001L8", "from": "slot 1", "to_slot": 5}]
    shown = as_json(cli("tape", "inventory", "--json", root=root, check_rc=0))
    mail = next(s for s in shown["slots"] if s["import_export"])
    assert mail["barcode"] == "DRO001L8" and mail["catalog"]["state"] == "EXPORTED"
    done = cli("tape", "export", "DRO002L8", root=root, check_rc=1)
    assert "import/export slots" in done.stderr  # the only mail slot is taken
    assert "DRO002L8" in library.changer().inventory().barcodes()
    assert library.changer().inventory().slot(2).barcode == "DRO002L8"
    cli("tape", "export", "NOPE01L8", root=root, check_rc=2)
    assert library.remove(5) == "DRO001L8"  # the operator takes it to the vault
    listed = as_json(cli("tape", "list", "--json", root=root, check_rc=0))
    out = listed["cartridges_without_media_set"][0]
    assert out["state"] == "EXPORTED" and out["location"] == "EXPORTED"
    library.insert("DRO001L8", 5)  # and brings it back
    moved = as_json(cli("tape", "import", "--json", root=root, check_rc=0))
    assert moved["moved"] == [{"barcode": "DRO001L8", "from": "import/export slot 5", "to_slot": 1}]
    listed = as_json(cli("tape", "list", "--json", root=root, check_rc=0))
    back = listed["cartridges_without_media_set"][0]
    assert back["state"] != "EXPORTED" and back["location"] == "SLOT"
    cli("tape", "import", "--slot", "2", root=root, check_rc=1)


def test_export_takes_a_loaded_cartridge_out_of_its_drive(make_root: RootFactory, cli: Cli) -> None:
    root = _root(make_root)
    library = _library(root, cli)
    library.changer().load(3, 0)
    done = as_json(cli("tape", "export", "vault", "DRO003L8", "--json", root=root, check_rc=0))
    assert done["moved"][0]["from"] == "drive 0"
    inventory = library.changer().inventory()
    assert not inventory.drive(0).full and inventory.slot(5).barcode == "DRO003L8"


def test_help_lists_the_operator_commands(cli: Cli) -> None:
    listed = commands_listed(cli("tape", "--help", check_rc=0).stdout)
    assert {"label", "list", "export", "import", "scan"} <= set(listed)
    assert "--force" in cli("tape", "label", "--help", check_rc=0).stdout


def test_scan_reports_what_each_cartridge_holds(make_root: RootFactory, cli: Cli) -> None:
    root = _root(make_root)
    library = _library(root, cli)
    _write(library, 2, None, raw=b"VOL1" + bytes(76))
    cli("tape", "label", "DRO001L8", root=root, check_rc=0)
    done = as_json(cli("tape", "scan", "--json", root=root, check_rc=0))
    found = {c["barcode"]: c["found"] for c in done["cartridges"]}
    assert found["DRO001L8"] == "a scratch label of pool weekly"
    assert found["DRO002L8"].startswith("not drorch's")
    assert found["DRO003L8"] == "blank"
    shown = as_json(cli("tape", "inventory", "--json", root=root, check_rc=0))
    states = {s["barcode"]: s["catalog"]["state"] for s in shown["slots"] if s["barcode"]}
    assert states == {"DRO001L8": "BLANK", "DRO002L8": "FOREIGN", "DRO003L8": "BLANK",
                      "DRO004L8": "BLANK"}  # fmt: skip
