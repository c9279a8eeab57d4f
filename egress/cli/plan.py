"""`egress plan`: show the NSG rules for one of the seed's three options."""

from __future__ import annotations

import json

import typer

from egress.cli import app
from egress.cli import spec_options as o
from egress.cli.common import load


@app.command("plan")
@o.rule_inputs
def plan(
    inputs: o.RuleInputs,
    output: str = typer.Option("table", "--output", "-o", help="table | json"),
    previous: str | None = typer.Option(
        None,
        "--previous",
        metavar="FILE",
        help="An earlier rendering or plan JSON: its rules keep their priorities and no new rule takes one of them.",
    ),
) -> None:
    """Compute the NSG rules (allows first, then the deny) and check them against Azure's limits."""
    from egress.core.output import rules_table
    from egress.core.planner import build_rules
    from egress.core.validate import ensure_valid

    if output not in ("table", "json"):
        raise typer.BadParameter("use table or json", param_hint="--output")
    spec, _ = inputs.spec()
    earlier = None
    if previous is not None:
        from egress.adapters.previous import read_previous

        earlier = read_previous(previous).held(spec.rule_prefix)
    dataset = load(spec.data, spec.cloud)
    ruleset = build_rules(spec, dataset, earlier=earlier)
    ensure_valid([r.to_arm() for r in ruleset.rules])
    if output == "json":
        typer.echo(json.dumps(ruleset.to_json(), indent=2, sort_keys=True))
    else:
        typer.echo(rules_table(ruleset), nl=False)
