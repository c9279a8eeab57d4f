"""Read an earlier NSG rendering for `render`/`plan --previous`: its text (egress.adapters.previous), parsed."""

from __future__ import annotations

from pathlib import Path

from egress.adapters.previous import read_text
from egress.places.nsg.readback import Earlier, read_rendering


def read_previous(path: str | Path, *, option: str = "--previous") -> Earlier:
    return read_rendering(read_text(path, option=option), where=f"{option} {path}")
