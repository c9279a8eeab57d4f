"""`egress render`: the planned rules as ARM, Bicep, Terraform, an az CLI or Az PowerShell script, or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from egress import __version__
from egress.cli import app
from egress.cli import spec_options as o
from egress.cli.common import emit_files, load, out_folder
from egress.errors import UsageError

if TYPE_CHECKING:
    from egress.places.nsg.readback import Earlier

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
        None,
        "--nsg-name",
        "--name",
        help="The NSG's (route table's, firewall policy's) name: the template parameter's or script's default.",
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
        "takes one of them; a route table's budget cover keeps its routes. Default with --out: the file there.",
    ),
) -> None:
    """Write the planned rules in a deployable format (same rule inputs as `plan`)."""
    from egress.places import format_of, get_place
    from egress.render.common import RenderTarget, plan_header

    # Everything the user typed is checked before the data is read and long before anything is written.
    out = out_folder(out_option)
    target = RenderTarget(name=nsg_name, resource_group=resource_group).validated()
    spec, _ = inputs.spec()
    place = get_place(spec.place)
    chosen = format_of(place, fmt)
    reader = getattr(place, "read_previous", None)  # a place reading its own renderings (route tables)
    if previous is not None and not place.keeps_priorities and reader is None:
        raise UsageError(
            f"--previous applies to NSG rules and route tables (--place nsg, route-table), not to a {place.title}."
        )
    # --previous reads NSG renderings: only a place that keeps priorities that way (the NSG) takes one.
    earlier = (
        _earlier(previous, None if out is None else out / chosen.file_name)
        if place.keeps_priorities
        else None
    )
    held = earlier.held(spec.rule_prefix) if earlier else None
    if reader is not None:
        from egress.cli.previous import earlier_file

        found = earlier_file(previous, None if out is None else out / chosen.file_name)
        held = reader(*found) if found else None
    dataset = load(spec.data, spec.cloud)
    planned = place.plan(spec, dataset, earlier=held)
    header = plan_header(
        planned,
        chosen.name,
        target,
        tool_version=__version__,
        out=None if out is None else str(out),
        config=inputs.config,
        target_name=inputs.target_name,
        previous=previous,
    )
    rendered = chosen.render(planned, header, target)
    files = rendered if isinstance(rendered, dict) else {chosen.file_name: rendered}
    if out is None:
        if len(files) > 1:  # a place with a second artifact (the firewall's route table)
            emit_files(files, None)
            return
        for text in files.values():
            typer.echo(text, nl=False)
        return
    from egress.adapters.files import write_bundle

    modes = {name: chosen.mode for name in files} if chosen.mode is not None else None
    for result in write_bundle(out, files, modes):
        typer.echo(f"{'wrote' if result.changed else 'unchanged'} {result.path}", err=True)


def _earlier(previous: str | None, existing: Path | None) -> Earlier | None:
    """The earlier rendering to keep priorities stable against: --previous, else the file --out would replace."""
    from egress.cli.previous import earlier_file
    from egress.places.nsg.previous import read_previous

    found = earlier_file(previous, existing)
    return None if found is None else read_previous(found[0], option=found[1])
