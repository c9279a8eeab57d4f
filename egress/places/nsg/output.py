"""The NSG's plans and rule sets as plain-text tables (egress.core.text_table)."""

from __future__ import annotations

from egress.core.model import change_number_text
from egress.core.text_table import table
from egress.places.common import over_approximation_cost
from egress.places.nsg.planner import RuleSet
from egress.places.nsg.rules import PlannedRule


def destination_summary(rule: PlannedRule, width: int = 48) -> str:
    if len(rule.destination) == 1:
        return rule.destination[0]
    text = f"{rule.destination[0]} … {rule.destination[-1]}"
    return text if len(text) <= width else text[: width - 1] + "…"


def rules_table(ruleset: RuleSet) -> str:
    rows = [
        (
            r.priority,
            r.direction[:3].lower() if r.direction == "Inbound" else "out",
            r.name,
            r.access,
            r.protocol,
            ",".join(r.source),
            destination_summary(r),
            ",".join(r.destination_ports),
            len(r.destination),
        )
        for r in ruleset.rules
    ]
    head = ("PRIORITY", "DIR", "NAME", "ACCESS", "PROTO", "SOURCE", "DESTINATION", "PORTS", "PREFIXES")
    summary = ruleset.summary()
    prov = ruleset.provenance
    lines = [
        table(head, rows),
        f"{summary['rules']} rules, {summary['destinationPrefixes']} destination entries "
        f"(option {summary['option']}, mode {summary['mode']}); data: {prov.get('cloud')} "
        f"{change_number_text(prov.get('changeNumber'))} from {prov.get('source')}\n",
    ]
    if ruleset.extra_ipv4 or ruleset.extra_ipv6:
        lines.append(
            f"over-approximation admits {over_approximation_cost(ruleset.extra_ipv4, ruleset.extra_ipv6)}\n"
        )
    lines.extend(f"note: {n}\n" for n in ruleset.notes)
    return "".join(lines)
