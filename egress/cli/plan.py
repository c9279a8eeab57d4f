"""`egress plan`: show the NSG rules for one of the seed's three options."""

from __future__ import annotations

import json

import typer

from egress.cli import app
from egress.cli import spec_options as o
from egress.cli.common import load


@app.command("plan")
def plan(
    option: str | None = o.OPTION,
    region: str | None = o.REGION,
    tag: list[str] | None = o.TAG,
    source: str | None = o.SOURCE,
    priority_start: int | None = o.PRIORITY_START,
    deny_internet: bool | None = o.DENY_INTERNET,
    proxy_ip: str | None = o.PROXY_IP,
    proxy_port: int | None = o.PROXY_PORT,
    max_prefixes: int | None = o.MAX_PREFIXES,
    rule_prefix: str | None = o.RULE_PREFIX,
    expand_unusable: bool | None = o.EXPAND_UNUSABLE,
    for_nsg: str | None = o.FOR_NSG,
    config: str | None = o.CONFIG,
    target_name: str | None = o.TARGET_NAME,
    data: str | None = o.DATA,
    cloud: str | None = o.CLOUD,
    output: str = typer.Option("table", "--output", "-o", help="table | json"),
) -> None:
    """Compute the NSG rules (allows first, then the deny) and check them against Azure's limits."""
    from egress.core.output import rules_table
    from egress.core.planner import build_rules
    from egress.core.validate import ensure_valid

    if output not in ("table", "json"):
        raise typer.BadParameter("use table or json", param_hint="--output")
    spec, _ = o.build_spec(
        config,
        target_name,
        option=option,
        region=region,
        tags=tag,
        source=source,
        priority_start=priority_start,
        deny_internet=deny_internet,
        proxy_ip=proxy_ip,
        proxy_port=proxy_port,
        max_prefixes=max_prefixes,
        rule_prefix=rule_prefix,
        expand_unusable=expand_unusable,
        for_nsg=for_nsg,
        data=data,
        cloud=cloud,
    )
    dataset = load(spec.data, spec.cloud)
    ruleset = build_rules(spec, dataset)
    ensure_valid([r.to_arm() for r in ruleset.rules])
    if output == "json":
        typer.echo(json.dumps(ruleset.to_json(), indent=2, sort_keys=True))
    else:
        typer.echo(rules_table(ruleset), nl=False)
