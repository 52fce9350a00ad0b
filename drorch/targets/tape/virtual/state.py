"""The changer state file of a virtual library: which cartridge is where, and its flags.

`library.json`, replaced atomically (written aside, fsynced, renamed) by whoever holds
`library.lock` (flock), so that a reader never sees half a file and two processes never
move cartridges at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drorch.targets.tape.errors import LibraryStateError, NoSuchElement

FORMAT = "drorch-virtual-tape-library"
VERSION = 1
STATE_FILE = "library.json"
LOCK_FILE = "library.lock"
CARTRIDGE_SUFFIX = ".aws"
BARCODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


@dataclass
class DriveState:
    number: int
    barcode: str | None = None
    source_slot: int | None = None
    ejected: bool = False
    # Logical block position of the head while no process has the drive open; None while
    # one has (it keeps the position) or after one died with the drive open.
    position: int | None = 0


@dataclass
class SlotState:
    number: int
    barcode: str | None = None
    import_export: bool = False


@dataclass
class CartridgeState:
    capacity: int
    early_warning: int
    write_protected: bool = False


@dataclass
class LibraryState:
    drives: list[DriveState]
    slots: list[SlotState]
    cartridges: dict[str, CartridgeState]
    outside: list[str] = field(default_factory=list)  # taken out of the library

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "drives": [vars(drive) for drive in self.drives],
            "slots": [vars(slot) for slot in self.slots],
            "cartridges": {code: vars(c) for code, c in sorted(self.cartridges.items())},
            "outside": sorted(self.outside),
        }

    @classmethod
    def from_json(cls, data: Any) -> LibraryState:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise LibraryStateError(f"not a {FORMAT} state file")
        if data.get("version") != VERSION:
            raise LibraryStateError(f"state file version {data.get('version')!r} is not {VERSION}")
        try:
            state = cls(
                drives=[DriveState(**drive) for drive in data["drives"]],
                slots=[SlotState(**slot) for slot in data["slots"]],
                cartridges={code: CartridgeState(**c) for code, c in data["cartridges"].items()},
                outside=list(data.get("outside", [])),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise LibraryStateError(f"state file damaged: {exc}") from exc
        state.check()
        return state

    def check(self) -> None:
        """Raise LibraryStateError when the state contradicts itself."""
        problems = []
        if [d.number for d in self.drives] != list(range(len(self.drives))):
            problems.append("drives are not numbered 0, 1, ...")
        if [s.number for s in self.slots] != list(range(1, len(self.slots) + 1)):
            problems.append("slots are not numbered 1, 2, ...")
        held = [d.barcode for d in self.drives if d.barcode]
        held += [s.barcode for s in self.slots if s.barcode] + self.outside
        for code in {code for code in held if held.count(code) > 1}:
            problems.append(f"cartridge {code} is in two places")
        for code in held:
            if code not in self.cartridges:
                problems.append(f"cartridge {code} has no entry in 'cartridges'")
        for code, cartridge in self.cartridges.items():
            if not BARCODE.fullmatch(code):
                problems.append(f"barcode {code!r} is not 1-32 letters, digits, - or _")
            if not 0 <= cartridge.early_warning < cartridge.capacity:
                problems.append(f"cartridge {code}: early warning not below its capacity")
        if problems:
            raise LibraryStateError("; ".join(sorted(problems)))

    def drive(self, number: int) -> DriveState:
        if not 0 <= number < len(self.drives):
            raise NoSuchElement(f"the library has no drive {number} ({len(self.drives)} drives)")
        return self.drives[number]

    def slot(self, number: int) -> SlotState:
        if not 1 <= number <= len(self.slots):
            raise NoSuchElement(f"the library has no slot {number} (slots 1-{len(self.slots)})")
        return self.slots[number - 1]


def read_state(folder: Path) -> LibraryState:
    fd = open_state(folder)
    try:
        return read_open_state(fd, folder)
    finally:
        os.close(fd)


def open_state(folder: Path) -> int:
    """Open the state file as it is now. A reader that keeps it open can tell a newer one
    by its inode: the one it holds cannot be reused while it is open."""
    try:
        return os.open(folder / STATE_FILE, os.O_RDONLY)
    except FileNotFoundError:
        raise LibraryStateError(
            f"no virtual tape library at {folder} ({STATE_FILE} missing)"
        ) from None


def read_open_state(fd: int, folder: Path) -> LibraryState:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 16, offset):
        chunks.append(chunk)
        offset += len(chunk)
    try:
        data = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise LibraryStateError(f"{folder / STATE_FILE} is not JSON: {exc}") from exc
    return LibraryState.from_json(data)


def write_state(folder: Path, state: LibraryState) -> None:
    """Replace the state file atomically: a crash leaves the old one or the new one."""
    state.check()
    text = json.dumps(state.to_json(), indent=2) + "\n"
    temporary = folder / f".{STATE_FILE}.{os.getpid()}.tmp"
    with temporary.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, folder / STATE_FILE)
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the library's state lock (flock, released when the process dies)."""
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def updating(folder: Path) -> Iterator[LibraryState]:
    """Read the state under the lock, let the caller change it, write it back."""
    with locked(folder):
        state = read_state(folder)
        yield state
        write_state(folder, state)
