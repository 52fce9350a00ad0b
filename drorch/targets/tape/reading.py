"""Reading a tape target's repository back from its cartridges into a folder.

    stage_media_set(catalog, "vault", library, folder, purpose="restore of payroll")

The catalog says which media set is newest and which repository file sits in which tape
file of which cartridge; each cartridge is loaded in turn and every archive is read with
each member checked against its size and SHA-256 (ChecksumMismatch names the cartridge,
tape file and records). The archives of a media set extracted into one folder are the
repository. A restore reads every file of the media set, not only those a snapshot needs;
`wanted` narrows what is read (a catalog rebuild needs only `config`, `keys/` and
`snapshots/`), and a cartridge holding none of it is not loaded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from itertools import groupby
from pathlib import Path

from drorch.catalog import Catalog
from drorch.catalog.tape import MediaSetRecord, Placement, media_set_files, media_sets
from drorch.errors import TargetOffline
from drorch.targets.tape.errors import CartridgeNotInLibrary
from drorch.targets.tape.format.archive import Member, extract
from drorch.targets.tape.format.label import read_label
from drorch.targets.tape.library import TapeLibrary
from drorch.targets.tape.mount import hold_drive, mounted

log = logging.getLogger(__name__)


def newest_media_set(catalog: Catalog, target: str) -> tuple[MediaSetRecord, list[Placement]]:
    """The target's newest media set that holds repository files, and those files."""
    for candidate in reversed(media_sets(catalog, target=target)):
        files = media_set_files(catalog, candidate.id, target)
        if files:
            return candidate, files
    raise TargetOffline(f"tape target {target!r} holds nothing yet: no media set has been written")


def stage_media_set(
    catalog: Catalog,
    target: str,
    library: TapeLibrary,
    folder: Path,
    *,
    purpose: str,
    wanted: Callable[[str], bool] | None = None,
) -> MediaSetRecord:
    """Read the newest media set of `target` into `folder` (the repository, afterwards);
    with `wanted`, only the repository files whose paths it accepts."""
    chosen, files = newest_media_set(catalog, target)
    if wanted is not None:
        files = [p for p in files if wanted(p.path)]
    by_cartridge = [(code, list(group)) for code, group in groupby(files, key=lambda p: p.barcode)]
    _require_present(library, target, chosen.id, [code for code, _ in by_cartridge])
    started, total = time.monotonic(), sum(p.size for p in files)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with hold_drive(catalog, target, library, purpose=purpose) as drive:
        for barcode, placed in by_cartridge:
            with mounted(library, drive, barcode):
                label = read_label(drive)
                if label is None or str(label.media_set) != chosen.id:
                    raise TargetOffline(
                        f"tape target {target!r}: cartridge {barcode} does not hold media set "
                        f"{chosen.id} (its label: {label.media_set if label else 'none'})"
                    )
                for number, members in _by_file(placed):
                    extract(drive, number, members, folder, barcode=barcode)
            log.info("target %s: read %d file(s) from %s", target, len(placed), barcode)
    seconds = max(time.monotonic() - started, 1e-6)
    log.info(
        "target %s: media set %s read back, %d files, %d bytes, %.1f MB/s",
        target,
        chosen.id,
        len(files),
        total,
        total / seconds / 1e6,
    )
    return chosen


def _require_present(library: TapeLibrary, target: str, media_set: str, codes: list[str]) -> None:
    """Every cartridge needed is in a storage slot or a drive, before any is loaded."""
    if library.changer is None:
        return
    inventory = library.changer.inventory()
    for barcode in codes:
        try:
            where = inventory.locate(barcode)
        except CartridgeNotInLibrary:
            where = None
        if where is None or getattr(where, "import_export", False):
            raise TargetOffline(
                f"tape target {target!r}: cartridge {barcode} of media set {media_set} is not "
                "in the library (exported?); import it and try again"
            )


def _by_file(placed: Iterable[Placement]) -> list[tuple[int, list[Member]]]:
    return [
        (
            number,
            [Member(p.path, p.size, p.sha256, p.file_number, offset=0) for p in group],
        )
        for number, group in groupby(placed, key=lambda p: p.file_number)
    ]
