"""`drorch demo` end to end, from drorch installed as a wheel: it must always run, and its
repository must pass restic check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import Cli, as_json

EXAMPLES = ("jobs", "policies", "runbooks")
PIP = (sys.executable, "-m", "pip", "-q", "--disable-pip-version-check")  # offline: --no-index


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """drorch built into a wheel from a copy of this checkout (the build writes beside its
    source), offline, with the venv's setuptools."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(
        REPO_ROOT / "drorch", source / "drorch", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    dist = str(work / "dist")
    built = subprocess.run(
        [
            *PIP,
            "wheel",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            dist,
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [found] = (work / "dist").glob("drorch-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Path:
    """The wheel installed into a folder of its own, as on a host without the source."""
    site = wheel.parent.parent / "site"
    subprocess.run(
        [*PIP, "install", "--no-index", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        check=True,
    )
    return site


def installed_python(site: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python ARGS` importing drorch from `site` only: -S keeps the venv's editable
    install (a .pth file) out; the dependencies come from its site-packages."""
    path = os.pathsep.join((str(site), sysconfig.get_paths()["purelib"]))
    return subprocess.run(
        [sys.executable, "-S", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_the_wheel_ships_the_examples(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for folder in EXAMPLES:
        shipped = sorted(p.name for p in (REPO_ROOT / folder).glob("*.yaml"))
        assert shipped
        assert {f"drorch/examples/{folder}/{name}" for name in shipped} <= names


def test_demo_runs_end_to_end_and_restic_accepts_its_repository(
    cli: Cli, installed: Path, tmp_path: Path
) -> None:
    # from the installed wheel, in a folder far from the checkout: nothing of the source
    # tree can stand in for what the package lacks
    away = tmp_path / "elsewhere"
    away.mkdir()
    where = installed_python(installed, "-c", "import drorch; print(drorch.__file__)", cwd=away)
    assert where.stdout.startswith(f"{installed}/drorch/"), (where.stdout, where.stderr)
    demo = tmp_path / "demo"
    done = installed_python(installed, "-m", "drorch", "demo", "--dir", demo, cwd=away)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "demo complete" in done.stdout
    for folder in EXAMPLES:
        written = {p.name: p.read_bytes() for p in (demo / folder).iterdir()}
        packaged = {
            p.name: p.read_bytes() for p in (installed / "drorch" / "examples" / folder).iterdir()
        }
        assert written == packaged != {}
    assert "13 files identical, 0 different" in done.stdout
    assert cli("validate", root=demo, check_rc=0).stdout.startswith(f"{demo}: valid")
    snapshots = as_json(cli("snapshots", "--json", root=demo, check_rc=0))
    primaries = [s for s in snapshots if s["target"] == "primary"]
    assert sorted(s["job"] for s in primaries) == ["payroll", "payroll", "registry"]
    # every snapshot is on both disk targets, payroll's on tape too, each copy mapped to its
    # original
    for s in snapshots:
        on_tape = ["vault"] if s["job"] == "payroll" else []
        assert s["targets"] == ["primary", "replica", *on_tape], s
    assert sorted(s["original"] for s in snapshots if s["target"] == "vault") == sorted(
        s["id"] for s in primaries if s["job"] == "payroll"
    )
    assert sorted(s["original"] for s in snapshots if s["target"] == "replica") == sorted(
        s["id"] for s in primaries
    )
    assert (
        "target 'paris' is in jurisdiction FR, outside policy 'critical' residency" in done.stdout
    )
    # restore tests became evidence; the exported bundle verifies offline, a tampered copy not
    public = demo / "var" / "evidence" / "evidence-public.pem"
    bundle = demo / "var" / "evidence" / "bundle"
    verified = cli("evidence", "verify", bundle, "--key", public, check_rc=0)
    assert "verified: records 1–9 (9)" in verified.stdout
    assert "   run 12: SUCCEEDED" in done.stdout and "   run 13: SUCCEEDED" in done.stdout
    assert "drill evidence #9 (runbook, signed by key " in done.stdout
    assert "the auditor keeps checkpoint 9 (root " in done.stdout
    assert "it extends the checkpoint you kept: 9 (root " in done.stdout
    assert "next-visit/report.html: leads with 2 violated rule(s)" in done.stdout
    assert not (demo / "var" / "restore" / "drill").exists()  # the drill cleaned up
    assert (demo / "var" / "restore" / "registry").is_dir()
    assert "restore test of " in done.stdout and " from vault: pass (3/3 checks)" in done.stdout
    tampered = cli(
        "evidence", "verify", demo / "var" / "evidence" / "tampered", "--key", public, check_rc=3
    )
    assert "record 1: modified" in tampered.stdout + tampered.stderr
    assert (bundle / "report.html").is_file()
    # compliance: every rule of every job; registry made stale turns red, once per rule
    assert "   registry: 9 of 9 rules ok - compliant" in done.stdout
    # payroll's vault copy is on tape and exported: every rule holds, 3-2-1-1-0 included
    assert "   payroll: 10 of 10 rules ok - compliant" in done.stdout
    assert "ok       rpo:vault: newest snapshot on vault is " in done.stdout
    assert "ok       copies: holders: primary, replica, vault" in done.stdout
    media = as_json(cli("tape", "list", "--json", root=demo, check_rc=0))
    [media_set] = media["media_sets"]
    assert [c["state"] for c in media_set["cartridges"]] == ["EXPORTED"], media
    assert "webhook received: policy-violation rpo:primary of registry" in done.stdout
    assert 'drorch_compliance_rule_ok{drorch_job="registry",rule="rpo:primary"} 0.0' in done.stdout
    report = as_json(cli("compliance", "--json", root=demo, check_rc=0))
    assert {j["job"]: j["ok"] for j in report} == {"payroll": True, "registry": True}
    primary = demo / "var" / "repos" / "primary"
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(demo / "keys" / "primary.pass")}
    check = subprocess.run(
        ["restic", "--repo", str(primary), "check", "--read-data"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    listed = subprocess.run(
        ["restic", "--repo", str(primary), "snapshots", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert sorted(s["id"] for s in primaries) == sorted(
        s["id"] for s in __import__("json").loads(listed)
    )
    # a second demo in the same folder rebuilds it
    assert "demo complete" in cli("demo", "--dir", demo, check_rc=0).stdout


def test_demo_refuses_a_folder_it_did_not_make(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("mine")
    done = cli("demo", "--dir", tmp_path, check_rc=2)
    assert "is not empty and was not made by drorch demo" in done.stderr
    assert (tmp_path / "precious.txt").read_text() == "mine"
