"""The route table as a place (the registry's entry; its modules are this package's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from egress.places import Format

if TYPE_CHECKING:
    from egress.core.model import Dataset, ServiceTag
    from egress.core.spec import EgressSpec


class RouteTablePlace:
    name = "route-table"
    title = "route table"
    arm_type = "Microsoft.Network/routeTables"
    checks_nsg_flags = False
    own_lint = True
    own_verify = True
    keeps_priorities = False

    def check_spec(self, spec: EgressSpec, given: Mapping[str, Any]) -> None:
        from egress.places.route_table.planner import check_spec

        check_spec(spec, dict(given))

    def plan(self, spec: EgressSpec, dataset: Dataset, *, earlier: Any = None) -> Any:
        from egress.places.route_table.planner import build_routes

        return build_routes(spec, dataset, existing=earlier or ())

    def read_previous(self, path: str, option: str) -> Any:
        """The routes an earlier rendering put in the table: `plan(earlier=...)` keeps a budget cover near them."""
        from egress.adapters.previous import read_text
        from egress.places.route_table.readback import read_routes

        return read_routes(read_text(path, option=option), where=f"{option} {path}")

    def plan_table(self, planned: Any) -> str:
        from egress.places.route_table.output import routes_table

        return routes_table(planned)

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

    def used_tags(self, spec: EgressSpec, dataset: Dataset) -> tuple[ServiceTag, ...]:
        from egress.core.planner import used_tags

        return used_tags(spec, dataset)

    def open_target(self, target: str, **azure: Any) -> Any:
        from egress.places.route_table.target import open_target

        return open_target(target, **azure)

    def plan_apply(self, snapshot: Any, spec: EgressSpec, dataset: Dataset) -> Any:
        from egress.places.route_table.planner import plan_apply

        return plan_apply(snapshot.model, spec, dataset)

    def plan_text(self, plan: Any, label: str) -> str:
        from egress.places.common import plan_text

        return plan_text(plan, label)

    def lint(self, target: str, dataset: Dataset, **azure: Any) -> Any:
        from egress.places.route_table.lint import lint_routes

        source = self.open_target(target, **azure)
        try:
            table = source.read().model
        finally:
            source.close()
        return table.name, len(table.routes), lint_routes(table, dataset)

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
        source = self.open_target(target, **azure)
        try:
            table = source.read().model
        finally:
            source.close()
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
