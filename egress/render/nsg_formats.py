"""The NSG output formats: a literal table of format -> renderer, file name and file mode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from egress.core.planner import RuleSet
from egress.errors import UsageError
from egress.render import nsg_arm, nsg_azcli, nsg_bicep, nsg_json, nsg_powershell, nsg_terraform
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
    "arm": NsgFormat("arm", nsg_arm.FILE_NAME, nsg_arm.render),
    "bicep": NsgFormat("bicep", nsg_bicep.FILE_NAME, nsg_bicep.render),
    "terraform": NsgFormat("terraform", nsg_terraform.FILE_NAME, nsg_terraform.render),
    "azcli": NsgFormat("azcli", nsg_azcli.FILE_NAME, nsg_azcli.render, nsg_azcli.MODE),
    "powershell": NsgFormat("powershell", nsg_powershell.FILE_NAME, nsg_powershell.render),
    "json": NsgFormat("json", nsg_json.FILE_NAME, nsg_json.render),
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
