"""Property: any single change to an exported bundle's records, checkpoints or proofs (a
byte changed, deleted or inserted, a line deleted, copied or moved, the file cut short)
makes verify fail; and every line deleted or swapped is caught (exhaustively)."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from drorch.catalog import open_catalog
from drorch.evidence.bundle import export, verify
from drorch.evidence.log import EvidenceLog
from drorch.evidence.verify import VerifyResult
from tests.unit.evidence.conftest import START, Clock, restore_test, write_key_pair

FILES = ("records.jsonl", "checkpoints.jsonl", "proofs.jsonl")
# Fast and reproducible in CI: a fixed seed, no per-example deadline.
FAST = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

Bundle = dict[str, bytes]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Bundle], Path]:
    """Two bundles: the whole log with a consistency proof from an earlier checkpoint, and
    a window that starts mid-log."""
    root = tmp_path_factory.mktemp("tamper")
    keys = write_key_pair(root / "keys")
    catalog = open_catalog(None, root / "state")
    clock = Clock()
    log = EvidenceLog(catalog, keys.private, host="node1", clock=clock)
    for i in range(4):
        log.append("restore-test", restore_test(n=i, result="pass" if i % 3 else "fail"))
    early = export(catalog, root / "early", key_path=keys.private)
    log.append_many([("replication", {"job": "payroll", "copies": i}) for i in range(3)])
    log.append("restore-test", restore_test(job="ledger", reason="canary missing"))
    whole = export(
        catalog,
        root / "whole",
        key_path=keys.private,
        from_checkpoint=early / "checkpoints.jsonl",
    )
    window = export(catalog, root / "window", key_path=keys.private, since=START.replace(minute=5))
    bundles = []
    for folder in (whole, window):
        assert verify(folder, keys.public).ok
        bundles.append({p.name: p.read_bytes() for p in folder.iterdir()})
    assert bundles[1]["records.jsonl"].count(b"\n") < bundles[0]["records.jsonl"].count(b"\n")
    return bundles, keys.public


def verified(bundle: Bundle, public: Path, name: str = "", data: bytes = b"") -> VerifyResult:
    """verify() on a copy of the bundle written to disk, file `name` replaced by `data`."""
    with tempfile.TemporaryDirectory() as folder:
        for file, content in bundle.items():
            Path(folder, file).write_bytes(data if file == name else content)
        return verify(Path(folder), public)


def detected(bundle: Bundle, public: Path, name: str, data: bytes) -> bool:
    """Whether verify fails once file `name` holds `data`, which must be a real change:
    a case that changes nothing would test nothing."""
    assert data != bundle[name], f"not a change to {name}"
    return not verified(bundle, public, name, data).ok


def test_an_unchanged_bundle_verifies_through_the_same_copy(
    world: tuple[list[Bundle], Path],
) -> None:
    # the oracle's other side: were the copy above broken, `detected` would be true for
    # every case below, and they would pass without testing verify at all
    for bundle in world[0]:
        result = verified(bundle, world[1])
        assert result.ok, result.message()
        assert result.problem is None


@st.composite
def target(draw: st.DrawFn, world: tuple[list[Bundle], Path]) -> tuple[Bundle, str, bytes]:
    bundles, _ = world
    bundle = draw(st.sampled_from(bundles))
    name = draw(st.sampled_from(FILES))
    return bundle, name, bundle[name]


@FAST
@given(data=st.data())
def test_a_changed_byte_is_detected(world: tuple[list[Bundle], Path], data: st.DataObject) -> None:
    bundle, name, content = data.draw(target(world))
    at = data.draw(st.integers(0, len(content) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != content[at]))
    assert detected(bundle, world[1], name, content[:at] + bytes([new]) + content[at + 1 :])


@FAST
@given(data=st.data())
def test_a_deleted_byte_is_detected(world: tuple[list[Bundle], Path], data: st.DataObject) -> None:
    bundle, name, content = data.draw(target(world))
    at = data.draw(st.integers(0, len(content) - 1))
    assert detected(bundle, world[1], name, content[:at] + content[at + 1 :])


@FAST
@given(data=st.data())
def test_an_inserted_byte_is_detected(
    world: tuple[list[Bundle], Path], data: st.DataObject
) -> None:
    bundle, name, content = data.draw(target(world))
    at = data.draw(st.integers(0, len(content)))
    byte = data.draw(st.integers(0, 255))
    assert detected(bundle, world[1], name, content[:at] + bytes([byte]) + content[at:])


@FAST
@given(data=st.data())
def test_truncation_is_detected(world: tuple[list[Bundle], Path], data: st.DataObject) -> None:
    bundle, name, content = data.draw(target(world))
    assert detected(bundle, world[1], name, content[: data.draw(st.integers(0, len(content) - 1))])


@FAST
@given(data=st.data())
def test_a_line_copied_or_moved_anywhere_is_detected(
    world: tuple[list[Bundle], Path], data: st.DataObject
) -> None:
    bundle, name, content = data.draw(target(world))
    rows = content.splitlines(keepends=True)
    line = rows.pop(data.draw(st.integers(0, len(rows) - 1)))
    if data.draw(st.booleans(), label="copy"):
        rows.insert(data.draw(st.integers(0, len(rows))), line)
    rows.insert(data.draw(st.integers(0, len(rows))), line)
    changed = b"".join(rows)
    assume(changed != content)  # a line moved back to where it was (or beside its twin)
    assert detected(bundle, world[1], name, changed)


@FAST
@given(data=st.data())
def test_a_line_from_another_file_or_bundle_is_detected(
    world: tuple[list[Bundle], Path], data: st.DataObject
) -> None:
    bundle, name, content = data.draw(target(world))
    donors = [
        line
        for other in world[0]
        for file in FILES
        for line in other[file].splitlines(keepends=True)
    ]
    rows = content.splitlines(keepends=True)
    rows.insert(data.draw(st.integers(0, len(rows))), data.draw(st.sampled_from(donors)))
    assert detected(bundle, world[1], name, b"".join(rows))


@pytest.mark.parametrize("name", FILES)
def test_every_line_deleted_and_every_pair_swapped_is_detected(
    world: tuple[list[Bundle], Path], name: str
) -> None:
    for bundle in world[0]:
        rows = bundle[name].splitlines(keepends=True)
        for index in range(len(rows)):
            assert detected(bundle, world[1], name, b"".join(rows[:index] + rows[index + 1 :]))
        for a, b in itertools.combinations(range(len(rows)), 2):
            if rows[a] == rows[b]:
                continue  # swapping twins changes nothing
            swapped = list(rows)
            swapped[a], swapped[b] = swapped[b], swapped[a]
            assert detected(bundle, world[1], name, b"".join(swapped))
