"""Secrets: after a full `drorch demo`, no repository password (keys/*.pass) and no part
of the evidence signing key is found anywhere drorch writes or hands out.

Looked at: the argv and the environment of every restic drorch spawned (a wrapper named
`restic` first on PATH records them, then execs the real one), everything the demo and
later commands printed (their log at debug level included), every row of every table of
the catalog, and every file under the demo folder but the key files themselves: the state
dir (catalog, per-run artifacts, caches), the repositories, the virtual tape library, the
evidence bundles with their report.html and records, and one more bundle exported by
`drorch evidence export`.

The scan is proven able to fail by test_the_scan_finds_a_planted_secret, which plants a
password in each kind of place and expects each to be found.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.heavy

DEMO_TIMEOUT = 900  # a hang is a failure, not a stuck suite

WRAPPER = """\
#!/bin/sh
# A restic call as drorch made it: its argv and its environment, then the real restic.
record=$(mktemp "{calls}/call.XXXXXX") || exit 99
printf '%s\\0' "$@" > "$record.argv"
env -0 > "$record.env"
exec {restic} "$@"
"""


@dataclass(frozen=True)
class Secret:
    name: str  # where it came from, for the message
    needles: tuple[bytes, ...]  # what must never be found: the secret and its parts


@dataclass(frozen=True)
class Leak:
    secret: str
    where: str

    def __str__(self) -> str:
        return f"{self.secret} found in {self.where}"


def password_secret(path: Path) -> Secret:
    """A password file's content; its halves too, so that a truncated or wrapped copy is
    caught (16 random characters do not occur by chance in a few hundred MB)."""
    password = path.read_bytes().strip()
    assert len(password) >= 32, f"{path}: too short to scan for reliably"
    return Secret(path.name, (password, password[:16], password[-16:]))


def signing_key_secret(path: Path) -> Secret:
    """The evidence signing key: its PEM body, and its 32 raw private bytes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = path.read_bytes()
    body = b"".join(line for line in pem.splitlines() if line and not line.startswith(b"-----"))
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return Secret(
        path.name,
        (body, raw, base64.b64encode(raw), raw.hex().encode(), raw.hex().upper().encode()),
    )


def secrets_of(root: Path) -> list[Secret]:
    found = [password_secret(p) for p in sorted((root / "keys").glob("*.pass"))]
    assert len(found) >= 3, f"expected the demo's three password files in {root / 'keys'}"
    return [*found, signing_key_secret(root / "keys" / "evidence.ed25519")]


def leaks_in(data: bytes, where: str, secrets: Iterable[Secret]) -> list[Leak]:
    return [
        Leak(secret.name, where)
        for secret in secrets
        if any(needle in data for needle in secret.needles)
    ]


def files_under(top: Path, skip: Iterable[Path] = ()) -> Iterator[Path]:
    """Every regular file below top (symlinks not followed), but those in `skip`."""
    skipped = {p.resolve() for p in skip}
    for parent, _dirs, names in os.walk(top):
        for name in names:
            path = Path(parent, name)
            if path.is_symlink() or not path.is_file() or path.resolve() in skipped:
                continue
            yield path


OVERLAP = 4096  # more than the longest needle: a secret across two chunks is still found


def leaks_in_files(
    top: Path, secrets: list[Secret], skip: Iterable[Path] = ()
) -> tuple[int, list[Leak]]:
    """How many files were read, and the leaks in them, read in chunks (the repositories
    and cartridges are large)."""
    count, found = 0, []
    for path in files_under(top, skip):
        count += 1
        tail = b""
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                window = tail + chunk
                found += leaks_in(window, str(path), secrets)
                tail = window[-OVERLAP:]
    return count, sorted(set(found), key=str)


def catalog_values(database: Path) -> Iterator[tuple[str, bytes]]:
    """(table.column row N, value) of every value of every table of a SQLite catalog."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        assert tables, f"{database}: no table"
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - our names
            columns = [c[0] for c in cursor.description]
            for number, row in enumerate(cursor, 1):
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    data = value if isinstance(value, bytes) else str(value).encode()
                    yield f"catalog {table}.{column} row {number}", data


def leaks_in_catalog(database: Path, secrets: list[Secret]) -> tuple[int, list[Leak]]:
    count, found = 0, []
    for where, value in catalog_values(database):
        count += 1
        found += leaks_in(value, where, secrets)
    return count, found


@dataclass(frozen=True)
class Demo:
    root: Path
    calls: Path  # the restic wrapper's records
    output: dict[str, bytes]  # what each command printed, stdout and stderr
    exported: Path  # a bundle exported by `drorch evidence export`


def drorch(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "drorch", "-vv", *map(str, args)],
        capture_output=True,
        timeout=DEMO_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
        env=env,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """`drorch -vv demo` with every restic call recorded, then a few commands that print
    what the catalog holds and export the evidence."""
    real = shutil.which("restic")
    assert real, "restic is not installed: run 'make install'"
    work = tmp_path_factory.mktemp("secrets")
    wrappers, calls = work / "bin", work / "calls"
    wrappers.mkdir()
    calls.mkdir()
    wrapper = wrappers / "restic"
    wrapper.write_text(WRAPPER.format(calls=calls, restic=real), encoding="utf-8")
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{wrappers}{os.pathsep}{os.environ.get('PATH', '')}"}
    root = work / "demo"
    output: dict[str, bytes] = {}
    done = drorch("demo", "--dir", root, env=env)
    output["demo"] = done.stdout + done.stderr
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-4000:]
    assert b"demo complete" in done.stdout
    exported = work / "exported"
    for args in (
        ("runs", "--json"),
        ("snapshots", "--json"),
        ("status", "--json"),
        ("compliance", "--json"),
        ("evidence", "list", "--json"),
        ("evidence", "show", "1"),
        ("evidence", "export", "--out", exported),
        ("metrics",),
    ):
        done = drorch("--config", root, *args, env=env)
        output[" ".join(map(str, args))] = done.stdout + done.stderr
        assert done.returncode in (0, 3), (args, done.stderr.decode(errors="replace")[-2000:])
    return Demo(root, calls, output, exported)


def test_no_secret_in_any_restic_argv_or_environment(demo: Demo) -> None:
    secrets = secrets_of(demo.root)
    argvs = sorted(demo.calls.glob("call.*.argv"))
    envs = sorted(demo.calls.glob("call.*.env"))
    # the wrapper saw every kind of call: backups, copies, restores, checks, prunes
    assert len(argvs) == len(envs) >= 20, len(argvs)
    words = {word for p in argvs for word in p.read_bytes().split(b"\0")}
    assert {b"backup", b"copy", b"restore", b"check", b"forget"} <= words
    # a call on a repository gets its password as a file name, as the design says
    for argv in argvs:
        if b"--repo" in argv.read_bytes().split(b"\0"):
            environment = argv.with_suffix(".env").read_bytes().split(b"\0")
            assert any(v.startswith(b"RESTIC_PASSWORD_FILE=") for v in environment), argv
            assert not any(v.startswith(b"RESTIC_PASSWORD=") for v in environment), argv
    found: list[Leak] = []
    for path in [*argvs, *envs]:
        found += leaks_in(path.read_bytes(), f"restic {path.suffix[1:]} ({path.name})", secrets)
    assert not found, "\n".join(map(str, found))


def test_no_secret_in_what_drorch_prints_or_logs(demo: Demo) -> None:
    secrets = secrets_of(demo.root)
    assert b"DEBUG drorch." in demo.output["demo"]  # the log at its most talkative
    found = [
        leak
        for command, text in demo.output.items()
        for leak in leaks_in(text, f"the output of drorch {command}", secrets)
    ]
    assert not found, "\n".join(map(str, found))


def test_no_secret_in_any_catalog_row(demo: Demo) -> None:
    secrets = secrets_of(demo.root)
    database = demo.root / "var" / "state" / "catalog.sqlite"
    count, found = leaks_in_catalog(database, secrets)
    tables = {where.split()[1].split(".")[0] for where, _ in catalog_values(database)}
    assert {"runs", "snapshots", "evidence_records", "outbox"} <= tables, tables
    assert count > 100, count
    assert not found, "\n".join(map(str, found))


def test_no_secret_in_any_file_drorch_wrote(demo: Demo) -> None:
    secrets = secrets_of(demo.root)
    keys = [*(demo.root / "keys").glob("*.pass"), *(demo.root / "keys").glob("evidence.*")]
    count, found = leaks_in_files(demo.root, secrets, skip=keys)
    for looked_at in (
        demo.root / "var" / "state" / "catalog.sqlite",
        demo.root / "var" / "evidence" / "bundle" / "report.html",
        demo.root / "var" / "evidence" / "bundle" / "records.jsonl",
        demo.exported / "report.html",
        demo.exported / "records.jsonl",
    ):
        assert looked_at.is_file(), looked_at
    artifacts = list((demo.root / "var" / "state" / "runs").glob("*/*.json"))
    assert artifacts, "no per-run artifact to scan"
    exported_count, exported_found = leaks_in_files(demo.exported, secrets)
    assert count > 200 and exported_count > 2, (count, exported_count)
    found += exported_found
    assert not found, "\n".join(map(str, found))


def test_the_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    """Each scan above, given a password where one could leak, reports it and where."""
    keys = tmp_path / "keys"
    keys.mkdir()
    password = b"Kq3" + os.urandom(24).hex().encode()
    (keys / "primary.pass").write_bytes(password + b"\n")
    secrets = [password_secret(keys / "primary.pass")]
    # a file: the whole password across a chunk boundary; a truncated copy elsewhere
    state = tmp_path / "state"
    (state / "runs" / "7").mkdir(parents=True)
    (state / "runs" / "7" / "01-backup.json").write_bytes(
        b"x" * ((1 << 20) - 10) + password + b"y" * 100
    )
    (state / "report.html").write_text(f"<p>{password[:20].decode()}…</p>", encoding="utf-8")
    (state / "clean.txt").write_text("nothing here", encoding="utf-8")
    count, found = leaks_in_files(tmp_path, secrets, skip=[keys / "primary.pass"])
    assert count == 3
    assert sorted(leak.where for leak in found) == [
        str(state / "report.html"),
        str(state / "runs" / "7" / "01-backup.json"),
    ]
    # a catalog row, in a column of any table
    database = tmp_path / "catalog.sqlite"
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("CREATE TABLE runs (id INTEGER, error TEXT)")
        connection.execute("CREATE TABLE evidence (seq INTEGER, body BLOB)")
        connection.execute(
            "INSERT INTO runs VALUES (1, 'fine'), (2, ?)", (f"pw={password.decode()}",)
        )
        connection.execute("INSERT INTO evidence VALUES (1, ?)", (b"{" + password + b"}",))
    connection.close()
    _, found = leaks_in_catalog(database, secrets)
    assert sorted(leak.where for leak in found) == [
        "catalog evidence.body row 1",
        "catalog runs.error row 2",
    ]
    # a log line, an environment
    assert leaks_in(b"INFO exec restic backup --password " + password, "log", secrets)
    assert leaks_in(b"PATH=/bin\0RESTIC_PASSWORD=" + password + b"\0", "env", secrets)
    assert not leaks_in(b"RESTIC_PASSWORD_FILE=/keys/primary.pass\0", "env", secrets)
