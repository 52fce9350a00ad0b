from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli() -> Cli:
    """Run `drorch ARGS...` as a subprocess, as a user would."""

    def run(
        *args: str | Path, root: Path | None = None, check_rc: int | None = None, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable,
            "-m",
            "drorch",
            *(["--config", str(root)] if root else []),
            *map(str, args),
        ]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )
        if check_rc is not None:
            assert done.returncode == check_rc, (done.stdout, done.stderr)
        return done

    return run


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)
