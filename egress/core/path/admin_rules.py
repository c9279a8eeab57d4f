"""Azure Virtual Network Manager security admin rules: evaluated before any NSG.

Rules come as `listNetworkManagerEffectiveSecurityAdminRules` returns them for the VM's VNet (kind Custom or
Default). They are matched by the same evaluator as NSG rules (priority order, lowest first; protocol, addresses,
ports), with the admin meanings of the verdict: `AlwaysAllow` lets the traffic through and the NSGs are skipped,
`Deny` drops it, `Allow` hands it on to the NSGs, and traffic no admin rule matches goes on to the NSGs too.
Rules naming network groups (membership unknown offline) are skipped and reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from egress.core.addrset import EMPTY, IntSet, canonical_protocol
from egress.core.model import Dataset
from egress.core.path.steps import Step, part_addresses, union
from egress.core.path.topology import last_segment
from egress.errors import DataError
from egress.places.nsg.evaluate import Query, evaluate_set
from egress.places.nsg.model import Nsg, SecurityRule
from egress.places.nsg.space import Resolver

ACCESSES = ("Allow", "AlwaysAllow", "Deny")
LAYER = "admin-rule"


@dataclass
class AdminResult:
    always: list[Step] = field(default_factory=list)  # AlwaysAllow: past the NSGs, on to routing
    blocked: list[Step] = field(default_factory=list)
    passed: IntSet = EMPTY  # on to the NSGs
    skipped: list[str] = field(default_factory=list)


def _text_list(value: Any) -> list[str]:
    return [v.strip() for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


def _addresses(items: Any) -> tuple[list[str], bool]:
    """Address entries of an admin rule side; True when one is a network group (unknowable offline)."""
    out: list[str] = []
    group = False
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        kind = str(item.get("addressPrefixType") or "IPPrefix")
        prefix = item.get("addressPrefix")
        if kind.lower() == "networkgroup":
            group = True
        elif isinstance(prefix, str) and prefix.strip():
            out.append(prefix.strip())
    return out or ["*"], group


def to_rules(
    items: Sequence[Mapping[str, Any]], direction: str
) -> tuple[list[SecurityRule], dict[int, str], list[str]]:
    """Admin rules of one direction as SecurityRules the evaluator reads; rule -> its id; skipped names."""
    rules: list[SecurityRule] = []
    ids: dict[int, str] = {}
    skipped: list[str] = []
    for item in items:
        props = item.get("properties") if isinstance(item.get("properties"), Mapping) else item
        assert isinstance(props, Mapping)
        rid = str(item.get("id") or "")
        name = last_segment(rid) if rid else str(item.get("name") or "admin-rule")
        if str(props.get("direction", "")).lower() != direction.lower():
            continue
        access = next((a for a in ACCESSES if a.lower() == str(props.get("access", "")).lower()), None)
        priority = props.get("priority")
        if access is None or isinstance(priority, bool) or not isinstance(priority, int):
            raise DataError(
                f"admin rule {rid or name}: needs access Allow, AlwaysAllow or Deny and an integer priority."
            )
        try:
            protocol = canonical_protocol(str(props.get("protocol") or "Any"))
        except ValueError as exc:
            raise DataError(f"admin rule {rid or name}: protocol {exc}.") from None
        sources, group_s = _addresses(props.get("sources"))
        destinations, group_d = _addresses(props.get("destinations"))
        if group_s or group_d:
            skipped.append(name)
            continue
        rule = SecurityRule(
            name=name,
            priority=priority,
            direction=direction,
            access=access,
            protocol=protocol,
            source_address_prefixes=tuple(sources),
            destination_address_prefixes=tuple(destinations),
            source_port_ranges=tuple(_text_list(props.get("sourcePortRanges")) or ["*"]),
            destination_port_ranges=tuple(_text_list(props.get("destinationPortRanges")) or ["*"]),
        )
        rules.append(rule)
        ids[id(rule)] = rid
    return rules, ids, skipped


def evaluate_admin(
    items: Sequence[Mapping[str, Any]] | None,
    destinations: IntSet,
    query: Query,
    dataset: Dataset | None,
    vnet: Sequence[str],
    *,
    fix: str = "",
    resolver: Resolver | None = None,
) -> AdminResult:
    """Split `destinations` into AlwaysAllow (past the NSGs), Deny, and what goes on to the NSGs."""
    result = AdminResult()
    if not items or not destinations:
        result.passed = destinations
        return result
    rules, ids, result.skipped = to_rules(items, query.direction)
    if not rules:
        result.passed = destinations
        return result
    evaluation = evaluate_set(
        Nsg(name="admin rules", rules=rules, default_rules=[]),
        query,
        destinations,
        dataset,
        vnet=vnet,
        resolver=resolver,
    )
    denied: dict[int, list[IntSet]] = {}
    always: dict[int, list[IntSet]] = {}
    passing: list[IntSet] = []
    for part in evaluation.parts:
        addresses = part_addresses(part)
        if part.rule is None or part.access == "Allow":
            passing.append(addresses)
        elif part.access == "AlwaysAllow":
            always.setdefault(id(part.rule), []).append(addresses)
        else:
            denied.setdefault(id(part.rule), []).append(addresses)
    by_id = {id(r): r for r in rules}
    # A flow split by source port between rules counts as denied for an address when any part of it is.
    blocked_all = union(a for parts in denied.values() for a in parts)
    for rid, parts in denied.items():
        rule = by_id[rid]
        result.blocked.append(
            Step(
                union(parts),
                "blocked",
                LAYER,
                f"{rule.name} (priority {rule.priority}, Deny)",
                ids[rid],
                "a Virtual Network Manager security admin rule denies it; NSGs cannot override it",
                fix,
            )
        )
    for rid, parts in always.items():
        rule = by_id[rid]
        addresses = union(parts) - blocked_all
        if addresses:
            result.always.append(
                Step(
                    addresses,
                    "reachable",
                    LAYER,
                    f"{rule.name} (priority {rule.priority}, AlwaysAllow)",
                    ids[rid],
                    "AlwaysAllow: the NSGs are not evaluated",
                )
            )
    result.passed = union(passing) - blocked_all - union(s.addresses for s in result.always)
    return result
