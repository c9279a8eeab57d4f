"""The route plan as a plain-text table (what `egress plan --place route-table` prints)."""

from __future__ import annotations

from egress.core.text_table import table
from egress.places.route_table.planner import RoutePlan


def routes_table(plan: RoutePlan) -> str:
    rows = [
        (r.name, r.route.address_prefix, r.route.next_hop_type, r.route.next_hop_ip or "-", r.kind)
        for r in plan.routes
    ]
    summary = plan.summary()
    prov = plan.provenance
    lines = [
        table(("NAME", "ADDRESS PREFIX", "NEXT HOP", "NEXT HOP IP", "KIND"), rows),
        f"{summary['routes']} routes ({summary['serviceTagRoutes']} service-tag, {summary['prefixRoutes']} prefix; "
        f"limits {summary['limits']['routesPerTable']} routes and {summary['limits']['serviceTagRoutesPerTable']} "
        f"service-tag routes per table), mode {summary['mode']}; data: {prov.get('cloud')} changeNumber "
        f"{prov.get('changeNumber')} from {prov.get('source')}\n",
    ]
    lines.extend(f"note: {n}\n" for n in plan.notes)
    return "".join(lines)
