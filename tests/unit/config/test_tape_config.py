"""Tape targets and media pools in drorch.yaml: real YAML, exact messages with file and line."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest

from drorch.config import load_config
from drorch.config.model import IMPLICIT_POOL, EarlyWarning, Pool, TapeTarget
from drorch.targets.tape.changer import is_cleaning
from drorch.targets.tape.drive import DEFAULT_RECORD_SIZE
from tests.conftest import DRORCH_YAML, RootFactory
from tests.unit.config.conftest import problems

VIRTUAL = (
    "  vault: {kind: tape, virtual: {path: vtl, capacity: 1MiB}, pool: weekly,\n"
    "          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}\n"
)
SCSI = (
    "  vault: {kind: tape, drive: /dev/nst0, changer: /dev/sg3, pool: weekly,\n"
    "          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}\n"
)
POOLS = """\
pools:
  weekly:
    retention: 28d
    media_set: {max_age: 7d}
"""


def vault(make_root: RootFactory, target: str, pools: str = "") -> TapeTarget:
    config = load_config(
        make_root(keys=False, drorch=DRORCH_YAML + target + pools), check_secrets=False
    )
    found = config.target("vault")
    assert isinstance(found, TapeTarget)
    return found


# --- a valid tape target ----------------------------------------------------------------


def test_every_tape_key_is_read(make_root: RootFactory) -> None:
    target = DRORCH_YAML + (
        "  vault:\n"
        "    kind: tape\n"
        "    drives: [/dev/nst0, /dev/tape/by-id/scsi-HUJ1234567-nst]\n"
        "    changer: /dev/sg3\n"
        "    record_size: 1MiB\n"
        "    pool: weekly\n"
        "    password_file: keys/vault.pass\n"
        "    site: dc1\n"
        "    jurisdiction: ML\n"
        "  lab:\n"
        "    kind: tape\n"
        "    virtual: {path: vtl, slots: 12, capacity: 40MiB, drives: 2, import_export: 3,\n"
        "              early_warning: 4MiB}\n"
        "    pool: daily\n"
        "    password_file: keys/lab.pass\n"
        "    site: dc1\n"
        "    jurisdiction: ML\n"
        "pools:\n"
        "  weekly:\n"
        "    description: Sunday tapes, to the vault on Monday\n"
        "    retention: 28d\n"
        "    media_set: {max_age: 6d}\n"
        "    barcodes: VAULT*\n"
        "  daily:\n"
        "    retention: forever\n"
        "    barcodes: [DRO*L8, DRO*L9]\n"
    )
    config = load_config(make_root(keys=False, drorch=target), check_secrets=False)
    scsi, lab = config.target("vault"), config.target("lab")
    assert isinstance(scsi, TapeTarget) and isinstance(lab, TapeTarget)
    assert scsi.devices == ("/dev/nst0", "/dev/tape/by-id/scsi-HUJ1234567-nst")
    assert (scsi.changer, scsi.record_size, scsi.drive) == ("/dev/sg3", 1024**2, None)
    assert lab.virtual is not None and lab.devices == ()
    assert (lab.virtual.drives, lab.virtual.import_export) == (2, 3)
    assert lab.virtual.early_warning.bytes_of(lab.virtual.capacity) == 4 * 1024**2
    weekly, daily = config.settings.pool("weekly"), config.settings.pool("daily")
    assert (weekly.retention, weekly.media_set.max_age) == (timedelta(days=28), timedelta(days=6))
    assert weekly.barcodes == ("VAULT*",)
    assert (daily.retention, daily.barcodes) == (None, ("DRO*L8", "DRO*L9"))


def test_defaults(make_root: RootFactory) -> None:
    target = vault(make_root, VIRTUAL)
    assert target.record_size == DEFAULT_RECORD_SIZE == 256 * 1024
    assert target.virtual is not None
    assert (target.virtual.slots, target.virtual.drives, target.virtual.import_export) == (8, 1, 1)
    assert target.virtual.early_warning == EarlyWarning(share=Fraction(2, 100))
    assert target.virtual.early_warning.bytes_of(1000 * 1000) == 20_000
    assert vault(make_root, SCSI).devices == ("/dev/nst0",)


def test_without_pools_every_named_pool_keeps_its_cartridges_forever(
    make_root: RootFactory,
) -> None:
    config = load_config(make_root(keys=False, drorch=DRORCH_YAML + VIRTUAL), check_secrets=False)
    assert config.settings.pools is None
    pool = config.settings.pool("weekly")
    assert pool is IMPLICIT_POOL
    assert (pool.retention, pool.media_set.max_age, pool.barcodes) == (
        None,
        timedelta(days=7),
        ("*",),
    )


@pytest.mark.parametrize(
    ("written", "share", "size"),
    [
        ("5%", Fraction(5, 100), None),
        ("0.5%", Fraction(5, 1000), None),
        ("0.03", Fraction(3, 100), None),
        ("64KiB", None, 65536),
    ],
)
def test_early_warning_is_a_share_or_a_size(
    make_root: RootFactory, written: str, share: Fraction | None, size: int | None
) -> None:
    text = VIRTUAL.replace("capacity: 1MiB}", f"capacity: 1MiB, early_warning: '{written}'}}")
    target = vault(make_root, text)
    assert target.virtual is not None
    assert target.virtual.early_warning == EarlyWarning(share=share, size=size)


# --- refused --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("pool: weekly", "record_size: 1000, pool: weekly"),
            "targets.vault.record_size: a record size is a multiple of 512 bytes, at most 8MiB, "
            "such as 256KiB, not 1000",
        ),
        (
            ("pool: weekly", "record_size: 16MiB, pool: weekly"),
            "targets.vault.record_size: a record size is a multiple of 512 bytes, at most 8MiB, "
            "such as 256KiB, not 16777216",
        ),
        (
            ("pool: weekly", "record_size: 0, pool: weekly"),
            "targets.vault.record_size: a record size is a multiple of 512 bytes, at most 8MiB, "
            "such as 256KiB, not 0",
        ),
        (
            ("capacity: 1MiB}", "capacity: 1MiB, early_warning: 0%}"),
            "targets.vault.virtual.early_warning: early_warning as a share is more than 0% and "
            "less than 100%, not 0%",
        ),
        (
            ("capacity: 1MiB}", "capacity: 1MiB, early_warning: 100%}"),
            "targets.vault.virtual.early_warning: early_warning as a share is more than 0% and "
            "less than 100%, not 100%",
        ),
        (
            ("capacity: 1MiB}", "capacity: 1MiB, early_warning: lots}"),
            "targets.vault.virtual.early_warning: early_warning is a share such as 2% or a size "
            "such as 4MiB, not 'lots'",
        ),
        (
            ("capacity: 1MiB}", "capacity: 1MiB, early_warning: 1MiB}"),
            "targets.vault.virtual: early_warning must leave a zone of at least one byte and "
            "less than the whole capacity (1048576 bytes)",
        ),
        (
            ("capacity: 1MiB}", "capacity: 1MiB, drives: 0}"),
            "targets.vault.virtual.drives: must be greater than or equal to 1 (got 0)",
        ),
        (
            ("capacity: 1MiB}", "capacity: 1MiB}, changer: /dev/sg3"),
            "targets.vault: 'changer' is for real hardware; a virtual library has its own changer",
        ),
    ],
)
def test_a_bad_virtual_target_is_refused_with_its_line(
    make_root: RootFactory, change: tuple[str, str], message: str
) -> None:
    root = make_root(keys=False, drorch=DRORCH_YAML + VIRTUAL.replace(*change))
    assert problems(root) == [f"drorch.yaml:10: {message}"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("drive: /dev/nst0", "drive: /dev/nst0, drives: [/dev/nst1]"),
            "targets.vault: 'drive' names one drive and 'drives' several: give one of them",
        ),
        (
            ("drive: /dev/nst0, changer: /dev/sg3", "drives: [/dev/nst0, /dev/nst1]"),
            "targets.vault: several 'drives' need the 'changer' that loads them",
        ),
        (
            ("drive: /dev/nst0", "drives: [/dev/nst0, /dev/nst0]"),
            "targets.vault: drive /dev/nst0 is listed twice in 'drives'",
        ),
        (
            ("drive: /dev/nst0", "drive: /dev/st0"),
            "targets.vault.drive: '/dev/st0' is not a non-rewinding tape device such as "
            "/dev/nst0 or /dev/tape/by-id/...-nst: a rewinding one (/dev/st0) rewinds on every "
            "close, and the next write would overwrite the cartridge from its start",
        ),
        (
            ("drive: /dev/nst0", "drives: [/dev/nst0, nst1]"),
            "targets.vault.drives[1]: 'nst1' is not a non-rewinding tape device such as "
            "/dev/nst0 or /dev/tape/by-id/...-nst: a rewinding one (/dev/st0) rewinds on every "
            "close, and the next write would overwrite the cartridge from its start",
        ),
    ],
)
def test_a_bad_scsi_target_is_refused_with_its_line(
    make_root: RootFactory, change: tuple[str, str], message: str
) -> None:
    root = make_root(keys=False, drorch=DRORCH_YAML + SCSI.replace(*change))
    assert problems(root) == [f"drorch.yaml:10: {message}"]


# --- pools ----------------------------------------------------------------------------------


def test_a_tape_target_names_a_defined_pool(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML + VIRTUAL + SCSI.replace("vault:", "vault2:").replace("weekly", "daily")
    root = make_root(keys=False, drorch=drorch + POOLS.replace("weekly:", "monthly:"))
    assert problems(root) == [
        "drorch.yaml:10: targets.vault.pool: no pool named 'weekly' in pools (known: monthly)",
        "drorch.yaml:12: targets.vault2.pool: no pool named 'daily' in pools (known: monthly)",
    ]


def test_an_empty_pools_section_defines_no_pool(make_root: RootFactory) -> None:
    root = make_root(keys=False, drorch=DRORCH_YAML + VIRTUAL + "pools: {}\n")
    assert problems(root) == [
        "drorch.yaml:10: targets.vault.pool: no pool named 'weekly' in pools (known: none defined)"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("retention: 28d", "retention: 4 weeks"),
            "drorch.yaml:14: pools.weekly.retention: a duration is written like 30s, 15m, "
            "1h30m or 1d, not '4 weeks'",
        ),
        (
            ("retention: 28d", "retention: null"),
            "drorch.yaml:14: pools.weekly.retention: retention is a duration such as 28d, "
            "or forever",
        ),
        (
            ("    retention: 28d\n", ""),
            "drorch.yaml:13: pools.weekly.retention: required, but missing",
        ),
        (
            ("max_age: 7d", "max_age: 7d, max_cartridges: 3"),
            "drorch.yaml:15: pools.weekly.media_set.max_cartridges: unknown key "
            "(did you mean 'max_age'? known: max_age)",
        ),
        (
            ("retention: 28d", "retention: 28d\n    barcodes: ['']"),
            "drorch.yaml:15: pools.weekly.barcodes[0]: a barcode pattern is not empty; write '*' "
            "for every cartridge",
        ),
    ],
)
def test_a_bad_pool_is_refused_with_its_line(
    make_root: RootFactory, change: tuple[str, str], message: str
) -> None:
    root = make_root(keys=False, drorch=DRORCH_YAML + VIRTUAL + POOLS.replace(*change))
    assert problems(root) == [message]


@pytest.mark.parametrize(
    ("barcode", "taken", "cleaning"),
    [
        ("VAULT01L8", True, False),
        ("vault01l8", True, False),
        ("DRO001L8", False, False),
        ("CLN001L1", False, True),
        ("cln001l1", False, True),
    ],
)
def test_a_pool_takes_its_barcodes_and_knows_cleaning_ones(
    barcode: str, taken: bool, cleaning: bool
) -> None:
    pool = Pool(retention="28d", barcodes="VAULT*")
    assert (pool.takes(barcode), is_cleaning(barcode)) == (taken, cleaning)
    assert Pool(retention="28d").takes(barcode)  # every barcode by default
