"""The firewall plan as plain text (what `egress plan --place firewall-policy` prints)."""

from __future__ import annotations

from egress.core.text_table import table
from egress.places.firewall_policy.planner import FirewallPlan


def _destination(rule: dict[str, object]) -> str:
    values = rule.get("fqdnTags") or rule.get("destinationAddresses") or []
    assert isinstance(values, list)
    text = ", ".join(str(v) for v in values[:3]) + (f" (+{len(values) - 3})" if len(values) > 3 else "")
    kind = "fqdn tag " if rule.get("fqdnTags") else ""
    return kind + text


def _ports(rule: dict[str, object]) -> str:
    if rule.get("protocols"):
        return ",".join(f"{p['protocolType']}:{p['port']}" for p in rule["protocols"])  # type: ignore[index, union-attr]
    return ",".join(rule.get("ipProtocols", [])) + "/" + ",".join(rule.get("destinationPorts", []))  # type: ignore[arg-type]


def firewall_table(plan: FirewallPlan) -> str:
    rows = [
        (
            c["priority"],
            c["name"],
            r["ruleType"],
            r["name"],
            ", ".join(r["sourceAddresses"]),
            _destination(r),
            _ports(r),
        )
        for c in plan.collections
        for r in c["rules"]
    ]
    summary = plan.summary()
    checked = summary["limitsChecked"]
    route = plan.routes.routes[0].route
    prov = plan.provenance
    lines = [
        f"rule collection group {plan.spec.rcg_name} (priority {plan.priority})\n",
        table(("PRIORITY", "COLLECTION", "TYPE", "RULE", "SOURCES", "DESTINATION", "PROTOCOLS"), rows),
        f"route table: {route.name} {route.address_prefix} -> {route.next_hop_type} {route.next_hop_ip}\n",
        f"limits checked: group size {checked['ruleCollectionGroupBytes']['used']} of "
        f"{checked['ruleCollectionGroupBytes']['limit']} bytes, {checked['uniqueSourceDestinations']['used']} of "
        f"{checked['uniqueSourceDestinations']['limit']} unique source-destination combinations, priorities "
        f"{checked['priorities']}; not used: IP Groups\n",
        f"data: {prov.get('cloud')} changeNumber {prov.get('changeNumber')} from {prov.get('source')}\n",
    ]
    lines.extend(f"note: {n}\n" for n in plan.notes)
    return "".join(lines)
