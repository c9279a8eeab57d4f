"""`egress render`: the planned rules as ARM, Bicep, Terraform, an az CLI or Az PowerShell script, or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from egress import __version__
from egress.cli import app
from egress.cli import spec_options as o
from egress.cli.common import load, out_folder

if TYPE_CHECKING:
    from egress.render.readback import Earlier

# The renderers (and Jinja) load only when `render` runs; tests check this list against the registry.
FORMAT_NAMES = ("arm", "bicep", "terraform", "azcli", "powershell", "json")


@app.command("render")
@o.rule_inputs
def render(
    inputs: o.RuleInputs,
    fmt: str = typer.Option(..., "--format", "-f", metavar="|".join(FORMAT_NAMES), help="What to write."),
    out_option: str | None = typer.Option(
        None,
        "--out",
        help="Folder to write the file into (rewritten only when it changes). Default: print it.",
    ),
    nsg_name: str | None = typer.Option(
        None, "--nsg-name", help="The NSG's name (default of the template parameter or script variable)."
    ),
    resource_group: str | None = typer.Option(
        None,
        "--resource-group",
        help="The NSG's resource group (terraform, azcli, powershell; ARM and Bicep deploy into a chosen one).",
    ),
    previous: str | None = typer.Option(
        None,
        "--previous",
        metavar="FILE",
        help="An earlier rendering (any format, or plan JSON): its rules keep their priorities and no new rule "
        "takes one of them. Default with --out: the file there.",
    ),
) -> None:
    """Write the planned rules in a deployable format (same rule inputs as `plan`)."""
    from egress.core.planner import build_rules
    from egress.core.validate import ensure_valid
    from egress.render.nsg_common import NsgTarget, nsg_header
    from egress.render.nsg_formats import nsg_format, render_nsg

    # Everything the user typed is checked before the data is read and long before anything is written.
    spec_format = nsg_format(fmt)
    out = out_folder(out_option)
    target = NsgTarget(nsg_name=nsg_name, resource_group=resource_group).validated()
    spec, _ = inputs.spec()
    earlier = _earlier(previous, None if out is None else out / spec_format.file_name)
    dataset = load(spec.data, spec.cloud)
    ruleset = build_rules(spec, dataset, earlier=earlier.held(spec.rule_prefix) if earlier else None)
    ensure_valid([r.to_arm() for r in ruleset.rules])
    header = nsg_header(
        ruleset,
        spec_format.name,
        target,
        tool_version=__version__,
        out=None if out is None else str(out),
        config=inputs.config,
        target_name=inputs.target_name,
        previous=previous,
    )
    files = render_nsg(spec_format.name, ruleset, header, target)
    if out is None:
        for text in files.values():
            typer.echo(text, nl=False)
        return
    from egress.adapters.files import write_bundle

    modes = {spec_format.file_name: spec_format.mode} if spec_format.mode is not None else None
    for result in write_bundle(out, files, modes):
        typer.echo(f"{'wrote' if result.changed else 'unchanged'} {result.path}", err=True)


def _earlier(previous: str | None, existing: Path | None) -> Earlier | None:
    """The earlier rendering to keep priorities stable against: --previous, else the file --out would replace."""
    from egress.adapters.previous import read_previous

    if previous is not None:
        return read_previous(previous)
    if existing is None:
        return None
    try:
        present = existing.is_file()
    except (OSError, ValueError):  # a name too long, a NUL: writing the file reports it, with its own message
        present = False
    return read_previous(existing, option="--out") if present else None
