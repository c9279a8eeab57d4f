"""`egress plan`: show the rules for one of the three options of Microsoft's guide, in the place chosen
(default the NSG)."""

from __future__ import annotations

import json

import typer

from egress.cli import app
from egress.cli import spec_options as o
from egress.cli.common import load
from egress.errors import UsageError


@app.command("plan")
@o.rule_inputs
def plan(
    inputs: o.RuleInputs,
    output: str = typer.Option("table", "--output", "-o", help="table | json"),
    previous: str | None = typer.Option(
        None,
        "--previous",
        metavar="FILE",
        help="An earlier rendering or plan JSON: its rules keep their priorities and no new rule takes one of them; "
        "a route table's budget cover keeps its routes.",
    ),
) -> None:
    """Compute the rules for a place (the NSG's allows then its deny, routes, or firewall rules) and check them
    against Azure's limits."""
    from egress.places import get_place

    if output not in ("table", "json"):
        raise typer.BadParameter("use table or json", param_hint="--output")
    spec, _ = inputs.spec()
    place = get_place(spec.place)
    earlier = None
    reader = getattr(place, "read_previous", None)  # a place reading its own renderings (route tables)
    if previous is not None and reader is not None:
        earlier = reader(previous, "--previous")
    elif previous is not None:
        if not place.keeps_priorities:
            raise UsageError(
                f"--previous applies to NSG rules and route tables (--place nsg, route-table), not to a "
                f"{place.title}."
            )
        from egress.places.nsg.previous import read_previous

        earlier = read_previous(previous).held(spec.rule_prefix)
    dataset = load(spec.data, spec.cloud)
    planned = place.plan(spec, dataset, earlier=earlier)
    if output == "json":
        typer.echo(json.dumps(planned.to_json(), indent=2, sort_keys=True))
    else:
        typer.echo(place.plan_table(planned), nl=False)
