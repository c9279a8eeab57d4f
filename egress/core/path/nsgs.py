"""The NSG layers: outbound, the NIC's NSG then the subnet's (inbound the other way round); both must allow.

Each NSG is evaluated by `egress.places.nsg.evaluate` — the evaluator `verify` uses (priorities, default rules, tags,
ports, protocols, exact interval sets) — on what the layer before let through. A missing NSG allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from egress.core.addrset import EMPTY, IntSet
from egress.core.model import Dataset
from egress.core.path.steps import Step, part_addresses, rule_label, union
from egress.errors import EgressError
from egress.places.nsg.evaluate import Evaluation, Query, evaluate_set
from egress.places.nsg.model import Nsg
from egress.places.nsg.space import Resolver


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
    *,
    resolver: Resolver | None = None,
    cache: dict[tuple[object, ...], Evaluation] | None = None,
) -> NsgResult:
    """`layers`: (layer name, NSG or None, fix) in evaluation order. Returns what each denies and what passes all.

    `cache` (with `resolver`) reuses one NSG's evaluation for every VM whose address the NSG's rules treat alike.
    """
    result = NsgResult(passed=destinations)
    for layer, nsg, fix in layers:
        if nsg is None or not result.passed:
            continue
        evaluation = _evaluate(nsg, query, result.passed, dataset, vnet, resolver, cache)
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


def _source_class(nsg: Nsg, query: Query, resolver: Resolver) -> tuple[bool, ...] | None:
    """Which of the NSG's rules (of the query's direction) hold the query's source: all that the source changes."""
    if query.sources is None or len(query.sources) != 1:
        return None
    try:
        source = resolver.entry(query.sources[0])
        return tuple(
            not rule.uses_asgs and source.issubset(resolver.addresses(rule.sources))
            for rule in (*nsg.rules, *nsg.default_rules)
            if rule.direction == query.direction
        )
    except EgressError:
        return None  # the evaluator reports it


def _evaluate(
    nsg: Nsg,
    query: Query,
    destinations: IntSet,
    dataset: Dataset | None,
    vnet: Sequence[str],
    resolver: Resolver | None,
    cache: dict[tuple[object, ...], Evaluation] | None,
) -> Evaluation:
    if cache is None or resolver is None:
        return evaluate_set(nsg, query, destinations, dataset, vnet=vnet, resolver=resolver)
    signature = _source_class(nsg, query, resolver)
    if signature is None:
        return evaluate_set(nsg, query, destinations, dataset, vnet=vnet, resolver=resolver)
    k = (id(nsg), resolver.key, signature, destinations, query.direction, query.protocol,
         query.destination_ports, query.source_ports)  # fmt: skip
    found = cache.get(k)
    if found is None:
        found = cache[k] = evaluate_set(nsg, query, destinations, dataset, vnet=vnet, resolver=resolver)
    return found
