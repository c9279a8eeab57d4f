"""The NSG layers: outbound, the NIC's NSG then the subnet's (inbound the other way round); both must allow.

Each NSG is evaluated by `egress.core.evaluate` — the evaluator `verify` uses (priorities, default rules, tags,
ports, protocols, exact interval sets) — on what the layer before let through. A missing NSG allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from egress.core.addrset import EMPTY, IntSet
from egress.core.evaluate import Query, evaluate_set
from egress.core.model import Dataset
from egress.core.nsg import Nsg
from egress.core.path.steps import Step, part_addresses, rule_label, union


@dataclass
class NsgResult:
    blocked: list[Step] = field(default_factory=list)
    passed: IntSet = EMPTY
    skipped: list[str] = field(default_factory=list)  # rules with application security groups


def evaluate_nsgs(
    layers: Sequence[tuple[str, Nsg | None, str]],
    destinations: IntSet,
    query: Query,
    dataset: Dataset | None,
    vnet: Sequence[str],
) -> NsgResult:
    """`layers`: (layer name, NSG or None, fix) in evaluation order. Returns what each denies and what passes all."""
    result = NsgResult(passed=destinations)
    for layer, nsg, fix in layers:
        if nsg is None or not result.passed:
            continue
        evaluation = evaluate_set(nsg, query, result.passed, dataset, vnet=vnet)
        result.skipped += [f"{nsg.name}: {name}" for name in evaluation.skipped]
        denied: dict[str, list[IntSet]] = {}
        allowed: list[IntSet] = []
        for part in evaluation.parts:
            addresses = part_addresses(part)
            if part.allowed:
                allowed.append(addresses)
            else:
                denied.setdefault(rule_label(part), []).append(addresses)
        denied_all = union(a for parts in denied.values() for a in parts)
        for label, parts in denied.items():
            result.blocked.append(
                Step(
                    union(parts),
                    "blocked",
                    layer,
                    label,
                    nsg.id or nsg.name,
                    f"NSG {nsg.name} denies it ({query.direction.lower()})",
                    fix,
                )
            )
        result.passed = union(allowed) - denied_all
    return result
