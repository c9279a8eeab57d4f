"""The route table as a place (the registry's entry; its modules are this package's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from egress.places import Format
from egress.places.base import DocumentPlace

if TYPE_CHECKING:
    from egress.core.model import Dataset
    from egress.core.spec import EgressSpec


class RouteTablePlace(DocumentPlace):
    name = "route-table"
    title = "route table"
    arm_type = "Microsoft.Network/routeTables"
    package = "egress.places.route_table"
    build, table, check, items = "build_routes", "routes_table", "lint_routes", "routes"

    def plan(self, spec: EgressSpec, dataset: Dataset, *, earlier: Any = None) -> Any:
        # `earlier`: the routes of an earlier rendering (read_previous), near which a budget cover stays.
        return self.module("planner").build_routes(spec, dataset, existing=earlier or ())

    def read_previous(self, path: str, option: str) -> Any:
        """The routes an earlier rendering put in the table: `plan(earlier=...)` keeps a budget cover near them."""
        from egress.adapters.previous import read_text
        from egress.places.route_table.readback import read_routes

        return read_routes(read_text(path, option=option), where=f"{option} {path}")

    def formats(self) -> Mapping[str, Format]:
        from egress.places.route_table import render_arm, render_json
        from egress.places.route_table import render_text as t

        return {
            "arm": Format("arm", render_arm.FILE_NAME, render_arm.render),
            "bicep": Format("bicep", t.BICEP_FILE, t.render_bicep),
            "terraform": Format("terraform", t.TERRAFORM_FILE, t.render_terraform),
            "azcli": Format("azcli", t.AZCLI_FILE, t.render_azcli, t.AZCLI_MODE),
            "powershell": Format("powershell", t.POWERSHELL_FILE, t.render_powershell),
            "json": Format("json", render_json.FILE_NAME, render_json.render),
        }

    def verify(self, target: str, dataset: Dataset, dest: str, vnet: tuple[str, ...], expect: str | None,
               **azure: Any) -> tuple[dict[str, Any], bool | None]:  # fmt: skip
        import ipaddress

        from egress.errors import UsageError
        from egress.places.route_table.evaluate import matches

        hops = {
            h.lower(): h
            for h in ("Internet", "VirtualAppliance", "VirtualNetworkGateway", "VnetLocal", "None")
        }
        if expect is not None and expect.lower() not in hops:
            raise UsageError(
                f"--expect {expect!r}: for a route table give a next hop type ({', '.join(hops.values())})."
            )
        try:
            network = ipaddress.ip_network(dest, strict=False)
        except ValueError:
            raise UsageError(f"--dest {dest!r} is not an IP address or prefix.") from None
        table = self.read_model(target, **azure)
        found = matches(table, dataset, network, vnet)
        chosen = found[0]
        ok = None if expect is None else chosen.next_hop_type == hops[expect.lower()]
        lines = [
            f"Route table: {table.name or '(unnamed)'} ({target})",
            f"Destination: {network}",
            f"Takes:       {chosen.describe()}",
            *[f"Also:        {m.describe()} (loses: less specific or lower precedence)" for m in found[1:4]],
        ]
        if expect is not None:
            lines.append(
                f"Expected:    {hops[expect.lower()]} — {'as expected' if ok else 'NOT as expected'}"
            )
        answer = {
            "routeTable": table.name,
            "target": target,
            "destination": str(network),
            "route": chosen.name,
            "prefix": chosen.prefix,
            "tag": chosen.tag,
            "system": chosen.system,
            "nextHopType": chosen.next_hop_type,
            "nextHopIpAddress": chosen.next_hop_ip,
            "expect": expect,
            "asExpected": ok,
            "lines": lines,
        }
        return answer, ok


PLACE = RouteTablePlace()
