"""`egress path`: will Backup work from this VM? Every layer Azure applies, offline, from exported resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from egress.cli import app
from egress.cli.common import (
    ARM_ENDPOINT_OPTION,
    AUTH_OPTION,
    CLOUD_OPTION,
    DATA_OPTION,
    auth_method,
    emit_json,
    load,
    note,
    render_table,
)
from egress.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from egress.core.graph_queries import Scope

OUTPUTS = ("table", "json", "markdown")


@app.command("path")
def path_command(
    resources: list[str] | None = typer.Option(
        None,
        "--resources",
        metavar="FILE",
        help="JSON array of ARM resources in their REST GET shape (VMs, NICs, VNets with subnets, NSGs, route "
        "tables, NAT gateways, public IPs, load balancers, Azure Firewalls, firewall policies and rule collection "
        "groups, effective admin rules), or what `az graph query -o json` prints; - for stdin. Repeatable: the "
        "files are read as one.",
    ),
    scope: list[str] | None = typer.Option(
        None,
        "--scope",
        metavar="azure:/subscriptions/S[/resourceGroups/RG]",
        help="Read the VMs of this subscription or resource group (repeatable) live: one paged Resource Graph "
        "query, plus one admin-rules call per VNet and one rule-collection-group list per firewall policy.",
    ),
    protected_by_backup: bool = typer.Option(
        False,
        "--protected-by-backup",
        help="Only VMs a Recovery Services vault protects (with --scope or --print-query).",
    ),
    print_query: bool = typer.Option(
        False,
        "--print-query",
        help="Print the Azure Resource Graph query that exports what --resources reads (for `az graph query -q`), "
        "and exit.",
    ),
    vm: list[str] | None = typer.Option(
        None,
        "--vm",
        metavar="NAME|ID",
        help="VM name or id to check (repeatable). Default: every VM in the file.",
    ),
    tag: list[str] | None = typer.Option(
        None,
        "--tag",
        metavar="TAG",
        help="Destination service tag (repeatable). Default: the service-tags plan's for the VM's region: "
        "Storage.<Region>, AzureBackup, AzureActiveDirectory.",
    ),
    port: int = typer.Option(443, "--port", metavar="PORT", help="Destination TCP port."),
    proxy: str | None = typer.Option(
        None,
        "--proxy",
        metavar="IP:PORT",
        help="IP:PORT of an HTTP proxy VM: check VM -> proxy and the proxy VM's own path instead of the direct one.",
    ),
    region: str | None = typer.Option(
        None,
        "--region",
        metavar="REGION",
        help="Region for Storage.<Region> and the fixes. Default: each VM's location.",
    ),
    data: str | None = DATA_OPTION,
    cloud: str = CLOUD_OPTION,
    output: str = typer.Option("table", "--output", "-o", metavar="FORMAT", help="table | json | markdown."),
    auth: str = AUTH_OPTION,
    arm_endpoint: str | None = ARM_ENDPOINT_OPTION,
) -> None:
    """Say, per VM and destination, whether Backup's traffic gets out: reachable, blocked, partial or unknown.

    Layers in Azure's order: security admin rules, the NIC's NSG, the subnet's NSG, the effective route, then
    the Azure Firewall (next hop VirtualAppliance) or the outbound method (next hop Internet). For what is
    blocked: the deciding layer, rule or route, resource id and the egress command that fixes it.

    Exit 0 when every destination of every VM is reachable; 1 when any is blocked, partial or unknown (unknown:
    the input lacks a resource the path depends on, or the path leaves through an appliance or gateway egress
    cannot see), or when the input uses a service tag where Azure refuses it.
    """
    from egress.adapters.resources import read_resources
    from egress.core.graph_queries import parse_scope, path_topology_query
    from egress.core.path.report import HEADERS, markdown, rows, text, to_json
    from egress.core.path.topology import build, build_all
    from egress.core.path.verdict import check_paths, parse_proxy

    scopes = [parse_scope(s) for s in scope or ()]
    if print_query:
        if resources:
            raise UsageError("--print-query prints the query for --resources; give it without --resources.")
        typer.echo(path_topology_query(scopes, protected_only=protected_by_backup))
        return
    fmt = output.strip().lower()
    if fmt not in OUTPUTS:
        raise UsageError(f"--output {output!r}: use table, json or markdown.")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: use a number from 0 to 65535.")
    if bool(resources) == bool(scopes):
        raise UsageError(
            "give --resources FILE (offline) or --scope azure:/subscriptions/... (live), not both."
        )
    if protected_by_backup and not scopes:
        raise UsageError(
            "--protected-by-backup narrows a live --scope; for a file, export it with --print-query."
        )
    auth = auth_method(auth)
    chosen_proxy = parse_proxy(proxy) if proxy is not None else None
    if scopes:
        topology = build(
            _live(scopes, protected_by_backup, cloud, auth, arm_endpoint), " ".join(map(str, scopes))
        )
    else:
        topology = build_all([read_resources(name) for name in resources or ()])
    source = topology.source
    dataset = load(data, cloud)
    if region is not None:
        region = dataset.check_region(region)
    report = check_paths(
        topology, dataset, vm_names=tuple(vm or ()), tags=tuple(tag or ()), port=port, proxy=chosen_proxy,
        region=region,
    )  # fmt: skip
    if fmt == "json":
        emit_json(to_json(report, dataset.provenance, source))
    elif fmt == "markdown":
        typer.echo(markdown(report, dataset.provenance, source))
    else:
        typer.echo(text(report, dataset.provenance, render_table(HEADERS, rows(report))))
    if not report.ok:
        raise typer.Exit(int(ExitCode.ERROR))


def _live(scopes: list[Scope], protected: bool, cloud: str, auth: str, arm_endpoint: str | None) -> list[Any]:
    """The topology of `scopes` from Azure, in the shape --resources reads (the Azure SDK loads only here)."""
    from egress.adapters.azure import resolve_endpoint
    from egress.adapters.azure.resource_graph import load_topology

    endpoint = resolve_endpoint(cloud, arm_endpoint)
    return load_topology(scopes, auth=auth, endpoint=endpoint, protected_only=protected, note=note)
