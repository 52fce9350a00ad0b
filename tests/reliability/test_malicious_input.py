"""Malicious input against the real command line: YAML that asks for Python objects, a
50 MB config file, shell metacharacters, `..` and newlines in names and paths, file names
that are not UTF-8, and restores aimed at `/`, `/etc` or a link to a system folder.

Each is refused with a message naming what and where and a non-zero exit, and leaves
nothing behind (no file made by a command hidden in a name, no run recorded, nothing
written at the destination); or, for what a backup must take as it is (any file name
the kernel allows), it round-trips byte for byte.

Covered elsewhere, not repeated here: alias bombs and recursive aliases
(tests/e2e/test_hostile_config.py, tests/unit/config/test_hostile_yaml.py), a FIFO or
/dev/zero as a config file (same files), a runbook parameter with `..` or `/etc`
(tests/integration/test_runbooks.py::test_bad_input_is_refused_before_anything_is_written).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DRORCH_YAML, JOB_YAML, RootFactory
from tests.e2e.conftest import Cli, as_json

MEMORY_LIMIT = 2 * 1024**3  # far above what drorch needs, far below what a bomb takes
PLANTED = "PWNED"  # what a command hidden in a name would create


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def bounded(cli: Cli, root: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """drorch ARGS in `root`, its memory bounded (the harness's timeout bounds its time)."""
    return cli(*args, root=root, cwd=root, preexec_fn=_limit_memory)


def nothing_planted(*folders: Path) -> None:
    """No file named PLANTED, which `touch PLANTED` hidden in a name would have made (in
    drorch's working folder, the config root, or wherever a path led)."""
    for folder in folders:
        assert not list(folder.rglob(PLANTED)), f"a command ran: {PLANTED} in {folder}"
    assert not (Path.cwd() / PLANTED).exists(), f"a command ran: {PLANTED} in {Path.cwd()}"


# --- YAML that asks for Python objects ------------------------------------------------


@pytest.mark.parametrize(
    ("line", "tag"),
    [
        (f'policy: !!python/object/apply:os.system ["touch {PLANTED}"]', "apply:os.system"),
        (f'policy: !!python/object/new:os.system ["touch {PLANTED}"]', "new:os.system"),
        ("policy: !!python/name:os.system ''", "python/name:os.system"),
        (f"policy: !!python/object/apply:os.system {{args: [touch {PLANTED}]}}", "apply:os.system"),
        ("source: !!python/object:os.system {paths: [data]}", "python/object:os.system"),
    ],
)
def test_python_tags_are_refused_and_never_run(
    cli: Cli, make_root: RootFactory, line: str, tag: str
) -> None:
    root = make_root()
    lines = JOB_YAML.splitlines()
    key = line.split(":", 1)[0]
    lines = [line if existing.startswith(f"{key}:") else existing for existing in lines]
    number = next(i for i, text in enumerate(lines, 1) if text == line)
    (root / "jobs" / "app.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for args in (("validate",), ("run", "app")):
        done = bounded(cli, root, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert f"jobs/app.yaml:{number}: " in done.stderr, done.stderr
        assert tag in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    nothing_planted(root)
    assert not (root / "state" / "runs").exists()


# --- a 50 MB config file --------------------------------------------------------------


def sparse_file(path: Path, size: int, tail: str) -> None:
    """`size` bytes: zeros (a hole, written in no time) then `tail`."""
    with path.open("wb") as out:
        out.truncate(size - len(tail))
        out.seek(size - len(tail))
        out.write(tail.encode())


@pytest.mark.parametrize("name", ["drorch.yaml", "jobs/app.yaml"])
def test_a_50_mb_config_file_is_refused_unread(cli: Cli, make_root: RootFactory, name: str) -> None:
    root = make_root()
    size = 50 * 1024**2
    sparse_file(root / name, size, "\nrpo: 1h\n")
    done = bounded(cli, root, "validate")
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"{name}: {size} bytes, more than the 1 MiB a config file may have" in done.stderr
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr


# --- shell metacharacters, `..` and newlines in names ---------------------------------

HOSTILE_NAMES = [
    f"app;touch {PLANTED}",
    f"$(touch {PLANTED})",
    f"`touch {PLANTED}`",
    "app|cat",
    "app&",
    "-rf",
    "app\n",  # a name that ends a log line early
    "app\nfake: line",
    "caf\udcff",  # not UTF-8 (a file name decoded with surrogateescape)
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
def test_a_job_file_with_a_hostile_name_is_refused(
    cli: Cli, make_root: RootFactory, name: str
) -> None:
    root = make_root()
    (root / "jobs" / "app.yaml").rename(root / "jobs" / f"{name}.yaml")
    done = bounded(cli, root, "validate")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "a name uses letters, digits, _ . -" in done.stderr, done.stderr
    nothing_planted(root)


@pytest.mark.parametrize(
    "name", ["../../escape", "a/b", f"x;touch {PLANTED}", "$(id)", "prim\nary", "-x"], ids=repr
)
def test_a_target_with_a_hostile_name_is_refused(
    cli: Cli, make_root: RootFactory, name: str
) -> None:
    root = make_root()
    text = DRORCH_YAML.replace("  primary: {", f"  {json.dumps(name)}: {{", 1)
    (root / "drorch.yaml").write_text(text, encoding="utf-8")
    done = bounded(cli, root, "validate")
    assert done.returncode == 2, done.stderr
    assert "drorch.yaml:6: targets." in done.stderr, done.stderr
    nothing_planted(root)
    assert not (root / "escape").exists() and not (root.parent / "escape").exists()


@pytest.mark.parametrize("name", ["../../etc/passwd", f"app;touch {PLANTED}", "app\n"], ids=repr)
def test_hostile_names_on_the_command_line_name_no_job(
    cli: Cli, make_root: RootFactory, name: str
) -> None:
    root = make_root()
    for args in (("run", name), ("restore", name, "--to", root / "restored")):
        done = bounded(cli, root, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert f"no job named {name!r}" in done.stderr, (args, done.stderr)
    nothing_planted(root)
    assert as_json(bounded(cli, root, "runs", "--json")) == []
    assert not (root / "restored").exists()


# --- file names a backup must take as they are -----------------------------------------

ODD_NAMES = [
    b"not-utf8-\xff\xfe.bin",
    b"latin1-caf\xe9.txt",
    b"line\nbreak.txt",
    b"carriage\rreturn.txt",
    b"tab\there.txt",
    b"$(touch PWNED);`id`|&<>*?[x].txt",
    b"-rf",
    b"--help",
    b" leading and trailing ",
    b"back\\slash",
    b"..dots..",
]


def write_odd_tree(top: Path) -> dict[bytes, bytes]:
    """Files with odd names (in a folder with an odd name too); {relative path: content}."""
    base = os.fsencode(top)
    inner = os.path.join(base, b"folder\n\xff $(id)")
    os.makedirs(inner)
    written = {}
    for number, name in enumerate(ODD_NAMES):
        for folder in (base, inner):
            path = os.path.join(folder, name)
            content = name + b" #%d\n" % number
            with open(path, "wb") as out:
                out.write(content)
            written[os.path.relpath(path, base)] = content
    return written


def read_tree(top: Path) -> dict[bytes, bytes]:
    base = os.fsencode(top)
    found = {}
    for parent, _dirs, names in os.walk(base):
        for name in names:
            path = os.path.join(parent, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, base)] = handle.read()
    return found


ODD_JOB = """\
policy: standard
source:
  paths: [data, "odd $(touch PWNED); `id` |&\\nsource"]
  exclude: ["*.tmp; touch PWNED"]
snapshot: {target: primary}
"""


def test_odd_file_and_source_names_round_trip(
    cli: Cli, make_root: RootFactory, tmp_path: Path
) -> None:
    root = make_root(jobs={"app": ODD_JOB})
    odd = root / "data" / "odd"
    written = write_odd_tree(odd)
    source = root / "odd $(touch PWNED); `id` |&\nsource"
    source.mkdir()
    (source / "inside.txt").write_bytes(b"from a source path with metacharacters\n")
    cli("run", "app", root=root, cwd=root, check_rc=0)
    destination = tmp_path / "restored"
    cli("restore", "app", "--to", destination, root=root, cwd=root, check_rc=0)
    restored = read_tree(destination / odd.relative_to("/"))
    assert restored == written
    assert (destination / source.relative_to("/") / "inside.txt").read_bytes() == (
        source / "inside.txt"
    ).read_bytes()
    # a restore test of the snapshot agrees: every file and byte came back
    test = as_json(cli("run", "app", "restore-test", "--json", root=root, cwd=root, check_rc=0))
    assert test["status"] == "SUCCEEDED", test
    listed = cli("snapshots", "--json", root=root, cwd=root, check_rc=0)
    assert len(json.loads(listed.stdout)) == 1
    nothing_planted(root, destination)


# --- restores aimed at system folders ---------------------------------------------------


def partial_folders(*folders: Path) -> Iterator[Path]:
    """Anything a restore leaves beside its destination: a partial or a kept folder."""
    for folder in folders:
        for entry in folder.iterdir():
            if ".drorch-partial-" in entry.name or ".before-run-" in entry.name:
                yield entry


SYSTEM_DESTINATIONS = [  # (what the operator gives, the system folder it is)
    ("/", "/"),
    ("/etc", "/etc"),
    ("/etc/", "/etc"),
    ("/usr/../etc", "/etc"),
    ("/usr/bin", "/usr/bin"),
    ("LINKS/etc", "/etc"),
    ("LINKS/root", "/"),
    ("LINKS/root/usr/bin", "/usr/bin"),
    ("TMP/../../../../../../../../../etc", "/etc"),
]


def test_a_restore_over_a_system_folder_is_refused(
    cli: Cli, make_root: RootFactory, tmp_path: Path
) -> None:
    root = make_root()
    cli("run", "app", root=root, check_rc=0)  # a refusal is for the destination alone
    links = tmp_path / "links"
    links.mkdir()
    (links / "etc").symlink_to("/etc")
    (links / "root").symlink_to("/")
    before = as_json(cli("runs", "--json", root=root, check_rc=0))
    assert len(before) == 1
    for to, system in SYSTEM_DESTINATIONS:
        given = to.replace("LINKS", str(links)).replace("TMP", str(tmp_path))
        for force in ([], ["--force"]):
            done = cli("restore", "app", "--to", given, *force, root=root)
            case = (given, force, done.stdout, done.stderr)
            assert done.returncode == 2, case
            assert f"refusing to restore into {system}: it is a system directory" in (
                done.stderr
            ), case
            if given.startswith(str(links)):  # the link the operator gave is named too
                assert f"{given} leads there through a symbolic link" in done.stderr, case
    # nothing written: no run recorded, the links unchanged, nothing beside any of it
    assert as_json(cli("runs", "--json", root=root, check_rc=0)) == before
    assert os.readlink(links / "etc") == "/etc" and os.readlink(links / "root") == "/"
    assert not list(partial_folders(Path("/"), Path("/etc"), Path("/usr"), links, tmp_path))
