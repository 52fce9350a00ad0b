"""`drorch tape inventory` and `tape status` on a real virtual library, as a user runs them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import DRORCH_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json
from tests.e2e.help_text import commands_listed

TAPE = """\
  vault: {kind: tape, virtual: {path: vtl, slots: 3, capacity: 4MiB}, pool: weekly,
          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}
"""


def _root(make_root: RootFactory, *tape: str) -> Path:
    return make_root(drorch=DRORCH_YAML + "".join(tape))


def test_inventory_lists_drives_slots_and_mail_slot(make_root: RootFactory, cli: Cli) -> None:
    root = _root(make_root, TAPE)
    shown = as_json(cli("tape", "inventory", "--json", root=root, check_rc=0))
    assert shown["target"] == "vault"
    assert [d["full"] for d in shown["drives"]] == [False]
    storage = [s for s in shown["slots"] if not s["import_export"]]
    assert [s["barcode"] for s in storage] == ["DRO001L8", "DRO002L8", "DRO003L8"]
    assert [s["slot"] for s in storage] == [1, 2, 3]  # mtx's numbering: slots from 1
    assert any(s["import_export"] and not s["full"] for s in shown["slots"])
    table = cli("tape", "inventory", root=root, check_rc=0).stdout
    assert "DRO002L8" in table and "import/export" in table


def test_inventory_sees_a_cartridge_moved_by_another_process(
    make_root: RootFactory, cli: Cli
) -> None:
    root = _root(make_root, TAPE)
    cli("tape", "inventory", root=root, check_rc=0)  # creates the library
    from drorch.targets.tape.virtual import VirtualLibrary

    VirtualLibrary.open(root / "vtl").changer().load(2, 0)
    shown = as_json(cli("tape", "inventory", "--json", root=root, check_rc=0))
    assert shown["drives"][0]["barcode"] == "DRO002L8"
    assert not next(s for s in shown["slots"] if s["slot"] == 2)["full"]
    status = as_json(cli("tape", "status", "--json", root=root, check_rc=0))
    assert status["drives"][0]["barcode"] == "DRO002L8"
    assert status["drives"][0]["loaded"] is True
    assert "bot" in status["drives"][0]["flags"]


def test_status_of_an_empty_drive(make_root: RootFactory, cli: Cli) -> None:
    root = _root(make_root, TAPE)
    shown = as_json(cli("tape", "status", "--json", root=root, check_rc=0))
    assert shown["drives"][0]["loaded"] is False
    assert shown["drives"][0]["flags"] == []


def test_target_must_be_named_among_several(make_root: RootFactory, cli: Cli) -> None:
    second = TAPE.replace("vault:", "vault2:").replace("path: vtl", "path: vtl2")
    root = _root(make_root, TAPE, second)
    done = cli("tape", "inventory", root=root, check_rc=2)
    assert "vault, vault2" in done.stderr
    cli("tape", "inventory", "vault2", root=root, check_rc=0)
    assert (root / "vtl2" / "library.json").is_file()
    assert not (root / "vtl").exists()


def test_a_disk_target_or_unknown_name_is_refused(make_root: RootFactory, cli: Cli) -> None:
    root = _root(make_root, TAPE)
    done = cli("tape", "status", "primary", root=root, check_rc=2)
    assert "'primary' is not a tape target" in done.stderr
    done = cli("tape", "status", "nope", root=root, check_rc=2)
    assert "no target 'nope'" in done.stderr


def test_without_tape_targets_it_says_so(make_root: RootFactory, cli: Cli) -> None:
    done = cli("tape", "inventory", root=make_root(), check_rc=2)
    assert "none" in done.stderr


def test_help_lists_the_tape_commands(cli: Cli) -> None:
    listed = commands_listed(cli("tape", "--help", check_rc=0).stdout)
    assert {"inventory", "status"} <= set(listed)
