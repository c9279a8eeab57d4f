"""Lint a route table: routes naming a service tag Azure will not route (no `UDR` in its networkFeatures, or not
in the data), two routes with one prefix, and the usage of Azure's route limits."""

from __future__ import annotations

from egress.core.lint_report import Finding, LimitUsage, LintReport
from egress.core.model import Dataset
from egress.places.route_table import limits
from egress.places.route_table.model import RouteTable, is_prefix, udr_usable


def lint_routes(table: RouteTable, dataset: Dataset) -> LintReport:
    findings: list[Finding] = []
    seen: dict[str, str] = {}
    tag_routes = 0
    for route in table.routes:
        prefix = route.address_prefix
        if not is_prefix(prefix):
            tag_routes += 1
            tag = dataset.find(prefix)
            if tag is None:
                findings.append(
                    Finding(
                        "error",
                        "unknown-tag",
                        route.name,
                        f"names {prefix!r}, which is no service tag in the data",
                    )
                )
            elif not udr_usable(tag):
                findings.append(
                    Finding(
                        "error",
                        "tag-not-routable",
                        route.name,
                        f"names service tag {tag.name}, whose networkFeatures lack UDR: Azure refuses the route; "
                        "route its IP ranges instead (egress --place route-table --expand-unusable)",
                    )
                )
        key = prefix.lower()
        if key in seen:
            findings.append(
                Finding(
                    "error", "duplicate-prefix", route.name, f"has the prefix {prefix} of route {seen[key]}"
                )
            )
        else:
            seen[key] = route.name
        if route.next_hop_type == "VirtualAppliance" and not route.next_hop_ip:
            findings.append(
                Finding("error", "next-hop", route.name, "VirtualAppliance without nextHopIpAddress")
            )
        if route.next_hop_type != "VirtualAppliance" and route.next_hop_ip:
            findings.append(
                Finding(
                    "error", "next-hop", route.name, f"nextHopIpAddress with next hop {route.next_hop_type}"
                )
            )
    usage = (
        LimitUsage("routes", len(table.routes), limits.MAX_ROUTES_PER_TABLE),
        LimitUsage("service-tag routes", tag_routes, limits.MAX_SERVICE_TAG_ROUTES_PER_TABLE),
    )
    for u in usage:
        if u.used > u.limit:
            findings.append(
                Finding("error", "limit", "", f"{u.used} {u.name}, over Azure's {u.limit} per route table")
            )
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: (order[f.severity], f.rule, f.code, f.message))
    return LintReport(tuple(findings), usage)
