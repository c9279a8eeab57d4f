"""What one layer decided for a set of destination addresses, and the set arithmetic the layers share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from egress.core.addrset import EMPTY, IntSet, address_set, to_cidrs
from egress.places.nsg.evaluate import Part

LAYERS = ("admin-rule", "nic-nsg", "subnet-nsg", "route", "firewall", "outbound", "proxy")
OUTCOMES = ("reachable", "blocked", "unknown")


@dataclass(frozen=True)
class Step:
    """Addresses one layer decided: `reachable` (nothing later stops them), `blocked`, or `unknown`.

    `rule` names the deciding rule, route or resource; `resource_id` is the ARM id that holds it; `fix` is the
    command (or action) that repairs a block; `via` says how reachable traffic gets out.
    """

    addresses: IntSet
    outcome: str
    layer: str
    rule: str = ""
    resource_id: str = ""
    detail: str = ""
    fix: str = ""
    via: str = ""

    @property
    def count(self) -> int:
        return self.addresses.size()

    @property
    def prefixes(self) -> list[str]:
        return to_cidrs(self.addresses)


def union(sets: Iterable[IntSet]) -> IntSet:
    spans: list[tuple[int, int]] = []
    for s in sets:
        spans.extend(s.spans)
    return IntSet(spans) if spans else EMPTY


def part_addresses(part: Part) -> IntSet:
    """The destination addresses of an evaluator part."""
    if part.destination_set or not part.destinations:
        return part.destination_set
    return union(address_set(p) for p in part.destinations)


def rule_label(part: Part) -> str:
    if part.rule is None:
        return "no rule matched"
    kind = "default rule " if part.default else ""
    return f"{kind}{part.rule.name} (priority {part.priority})"
