"""cleanup: remove a folder that an earlier restore step of this run made (a drill's
scratch restore); never any other folder."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drorch.runbooks.steps import Outcome, StepContext


def _made_by_this_run(ctx: StepContext, folder: str) -> bool:
    return any(out.get("dir") == folder for out in ctx.earlier.values())


class Cleanup:
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str:
        return f"remove {inputs['dir']} (only a folder this run restored)"

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome:
        folder = str(inputs["dir"])
        if not _made_by_this_run(ctx, folder):
            return Outcome.failed(f"{folder} was not restored by this run; it is left alone")
        shutil.rmtree(Path(folder), ignore_errors=True)
        if Path(folder).exists():
            return Outcome.failed(f"{folder} could not be removed; remove it by hand")
        return Outcome.ok(f"removed {folder}")
