"""A tape copy is offline when its cartridges are out of the library, not because its
target's config says `offline: true`.

A tape target counts as offline for the copies rule (3-2-1-1-0) when its config says it
is offline and at least one of its media sets holding archives has every cartridge
exported (`drorch tape export`); disk targets keep what their config says.
"""

from __future__ import annotations

from collections.abc import Mapping

from drorch.catalog import Catalog
from drorch.catalog.tape_media import vaulted_targets
from drorch.config.model import Target


def as_placed(targets: Mapping[str, Target], catalog: Catalog) -> Mapping[str, Target]:
    """`targets`, with each tape target configured offline counted online unless one of
    its media sets holding archives has every cartridge exported."""
    tape = [name for name, t in targets.items() if t.kind == "tape" and t.offline]
    if not tape:
        return targets
    vaulted = vaulted_targets(catalog)
    return {
        name: target.model_copy(update={"offline": False})
        if name in tape and name not in vaulted
        else target
        for name, target in targets.items()
    }
