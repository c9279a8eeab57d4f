"""The NSG output formats: a literal table of format -> renderer, file name and file mode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from egress.errors import UsageError
from egress.places.nsg import (
    render_arm,
    render_azcli,
    render_bicep,
    render_json,
    render_powershell,
    render_terraform,
)
from egress.places.nsg.planner import RuleSet
from egress.render.common import RenderTarget
from egress.render.header import Header

Renderer = Callable[[RuleSet, Header, RenderTarget], str]


@dataclass(frozen=True, slots=True)
class NsgFormat:
    name: str
    file_name: str
    render: Renderer
    mode: int | None = None  # None: 0666 minus the umask (write_bundle's default)


FORMATS: dict[str, NsgFormat] = {
    "arm": NsgFormat("arm", render_arm.FILE_NAME, render_arm.render),
    "bicep": NsgFormat("bicep", render_bicep.FILE_NAME, render_bicep.render),
    "terraform": NsgFormat("terraform", render_terraform.FILE_NAME, render_terraform.render),
    "azcli": NsgFormat("azcli", render_azcli.FILE_NAME, render_azcli.render, render_azcli.MODE),
    "powershell": NsgFormat("powershell", render_powershell.FILE_NAME, render_powershell.render),
    "json": NsgFormat("json", render_json.FILE_NAME, render_json.render),
}


def nsg_format(name: str) -> NsgFormat:
    """Look a format up by name (case-insensitive); a one-line UsageError lists the known ones."""
    key = name.lower() if isinstance(name, str) else ""
    if key not in FORMATS:
        raise UsageError(f"unknown --format {name!r}: use one of {', '.join(FORMATS)}.")
    return FORMATS[key]


def render_nsg(fmt: str, ruleset: RuleSet, header: Header, target: RenderTarget) -> dict[str, str]:
    """The files of one format, name -> text (one file per format today)."""
    spec = nsg_format(fmt)
    return {spec.file_name: spec.render(ruleset, header, target.validated())}
