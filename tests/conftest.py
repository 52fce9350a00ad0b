"""Shared fixtures: a real config root in a temporary folder, with real keys and data."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drorch.catalog import Catalog, open_catalog
from tests.http_sink import Sink, sink
from tests.pg import pg_schema_url

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every drorch the tests start runs its command itself, whatever `drorch cli-server` may
# listen on this machine; tests/e2e/test_cli_server.py starts servers of its own.
os.environ["DRORCH_CLI_SOCKET"] = ""

DRORCH_YAML = """\
site: dc1
jurisdiction: ML
state_dir: state
evidence_key: keys/evidence.ed25519
targets:
  primary: {kind: disk, path: repos/primary, password_file: keys/primary.pass,
            site: dc1, jurisdiction: ML, min_free: 1MiB}
  replica: {kind: disk, path: repos/replica, password_file: keys/replica.pass,
            site: dc2, jurisdiction: ML, min_free: 1MiB}
"""

JOB_YAML = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 15m"}
"""

POLICY_YAML = """\
rpo: 1h
rto: 4h
residency: [ML]
"""

RootFactory = Callable[..., Path]


def write_root(
    root: Path,
    *,
    drorch: str = DRORCH_YAML,
    jobs: dict[str, str] | None = None,
    policies: dict[str, str] | None = None,
    runbooks: dict[str, str] | None = None,
    keys: bool = True,
) -> Path:
    """Write a config root: drorch.yaml, the given YAML files (dedented), keys and data/."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "drorch.yaml").write_text(textwrap.dedent(drorch), encoding="utf-8")
    for folder, files in (
        ("jobs", jobs if jobs is not None else {"app": JOB_YAML}),
        ("policies", policies if policies is not None else {"standard": POLICY_YAML}),
        ("runbooks", runbooks or {}),
    ):
        (root / folder).mkdir(exist_ok=True)
        for name, text in files.items():
            (root / folder / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    data = root / "data"
    data.mkdir(exist_ok=True)
    (data / "hello.txt").write_text("hello drorch\n", encoding="utf-8")
    (data / "sub").mkdir(exist_ok=True)
    (data / "sub" / "blob.bin").write_bytes(os.urandom(200_000))
    if keys:
        write_keys(root)
    return root


def write_keys(root: Path) -> None:
    """The secrets the config names (by `drorch keys init`), or, when the config is invalid
    on purpose, the ones DRORCH_YAML names."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from drorch.config import load_config
    from drorch.errors import ConfigError
    from drorch.keys import init_keys

    try:
        init_keys(load_config(root, check_secrets=False).settings)
        return
    except ConfigError:
        pass

    keys = root / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    for name in ("primary.pass", "replica.pass"):
        path = keys / name
        if not path.exists():
            path.write_text(os.urandom(16).hex() + "\n")
            path.chmod(0o600)
    evidence = keys / "evidence.ed25519"
    if not evidence.exists():
        evidence.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        evidence.chmod(0o600)


@pytest.fixture
def make_root(tmp_path: Path) -> RootFactory:
    """Build a config root under tmp_path; keyword arguments as in write_root."""
    counter = iter(range(1000))

    def factory(**kwargs: object) -> Path:
        return write_root(tmp_path / f"root{next(counter)}", **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def restic_bin() -> str:
    """The real restic; tests that need it fail loudly when it is missing."""
    found = shutil.which("restic")
    assert found, "restic is not installed: run 'make install'"
    return found


@pytest.fixture
def http_sink() -> Iterator[Sink]:
    """A real HTTP server on loopback recording what it receives (webhooks, pings)."""
    yield from sink()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty catalog, on each backend: SQLite in tmp_path, and PostgreSQL (a
    schema of its own; skipped with the reason when no server is reachable, outside CI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'catalog.sqlite'}"
    else:
        yield from pg_schema_url()


@pytest.fixture
def any_catalog(catalog_url: str, tmp_path: Path) -> Iterator[Catalog]:
    """An open catalog on each backend, closed after the test."""
    catalog = open_catalog(catalog_url, tmp_path / "state")
    try:
        yield catalog
    finally:
        catalog.close()
