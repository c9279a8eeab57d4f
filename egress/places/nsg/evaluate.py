"""Evaluate flows against an NSG the way Azure does, offline (the question Network Watcher's IP flow verify answers).

Rules of the flow's direction are taken in priority order (custom 100-4096, then the defaults 65000-65500;
a document without `defaultSecurityRules` gets Azure's six), and the first rule whose protocol, source address,
source port, destination address and destination port all match decides. What the address words mean
(`VirtualNetwork`, `Internet`, `AzureLoadBalancer`, `*`, service tags) is set out in `egress.places.nsg.space`.

`evaluate` answers for one flow. `evaluate_space` answers for a set of flows (a prefix, a tag, every protocol)
by splitting it exactly: each rule in order takes the part of what is still undecided that it matches.
`check_tag` is that split for every prefix of one service tag as the destination.

Rules that name application security groups cannot be evaluated offline (their members are unknown); they are
skipped and listed in the result so the caller can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from egress.core.addrset import (
    ALL_PORTS,
    PORTED_PROTOCOLS,
    IntSet,
    canonical_protocol,
    format_ports,
    format_protocols,
    parse_network,
    protocol_set,
    to_cidrs,
)
from egress.core.model import Dataset
from egress.errors import UnknownTagError, UsageError
from egress.places.nsg.model import DIRECTIONS, Nsg, SecurityRule
from egress.places.nsg.space import (
    DEFAULT_VNET,
    DPORT,
    DST,
    PROTO,
    SPORT,
    SRC,
    Box,
    CompiledRule,
    Resolver,
    box_intersect,
    box_subtract,
    compile_direction,
    family_split,
    merge_boxes,
    ports,
)

__all__ = [
    "DEFAULT_VNET",
    "Evaluation",
    "Flow",
    "Part",
    "Query",
    "TagCheck",
    "Verdict",
    "check_tag",
    "evaluate",
    "evaluate_set",
    "evaluate_space",
]


@dataclass(frozen=True)
class Flow:
    """One flow. Ports apply to Tcp/Udp only; `source_port=None` means "any ephemeral port"."""

    source: str
    destination: str
    destination_port: int | None = None
    protocol: str = "Tcp"
    direction: str = "Outbound"
    source_port: int | None = None


@dataclass(frozen=True)
class Query:
    """A set of flows, each field written as in a rule: IPs, CIDRs, `*`, `VirtualNetwork`, service tags, ports.

    `sources=None` means the VNet's prefixes for Outbound (any VM of the VNet) and `*` for Inbound.
    """

    destinations: tuple[str, ...]
    destination_ports: tuple[str, ...] = ("*",)
    protocol: str = "*"
    direction: str = "Outbound"
    sources: tuple[str, ...] | None = None
    source_ports: tuple[str, ...] = ("*",)


@dataclass(frozen=True)
class Verdict:
    """The outcome for one flow: Allow or Deny, and the rule that decided it."""

    access: str
    rule: SecurityRule | None  # None only if the NSG has no rule matching at all (no default rules)
    default: bool  # decided by one of Azure's default rules
    skipped: tuple[str, ...] = ()  # rules with application security groups that were not evaluated

    @property
    def allowed(self) -> bool:
        return self.access == "Allow"

    @property
    def rule_name(self) -> str | None:
        return self.rule.name if self.rule else None

    @property
    def priority(self) -> int | None:
        return self.rule.priority if self.rule else None


@dataclass(frozen=True)
class Part:
    """The flows of a query one rule decides. Address fields are CIDRs, ports `*`/`N`/`N-M`."""

    access: str
    rule: SecurityRule | None
    default: bool
    protocols: tuple[str, ...]
    sources: tuple[str, ...]
    source_ports: tuple[str, ...]
    destinations: tuple[str, ...]
    destination_ports: tuple[str, ...]
    destination_addresses: int  # how many destination addresses the part holds
    protocol_numbers: tuple[tuple[int, int], ...]  # exact protocol set ("other" hides numbers)
    # The destinations as an address set, for callers that chain evaluations (the path check).
    destination_set: IntSet = field(default_factory=IntSet, compare=False, repr=False)

    @property
    def allowed(self) -> bool:
        return self.access == "Allow"

    @property
    def rule_name(self) -> str | None:
        return self.rule.name if self.rule else None

    @property
    def priority(self) -> int | None:
        return self.rule.priority if self.rule else None

    def verdict(self) -> Verdict:
        return Verdict(self.access, self.rule, self.default)


@dataclass(frozen=True)
class Evaluation:
    """A query split by deciding rule, in priority order of the deciding rules."""

    direction: str
    parts: tuple[Part, ...]
    skipped: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """Every flow of the query is allowed (False for an empty query)."""
        return bool(self.parts) and all(p.allowed for p in self.parts)

    @property
    def denied(self) -> bool:
        return bool(self.parts) and not any(p.allowed for p in self.parts)

    @property
    def rules(self) -> tuple[str, ...]:
        """Names of the deciding rules, in order, without repeats."""
        return tuple(dict.fromkeys(p.rule_name or "" for p in self.parts))

    def verdict(self) -> Verdict | None:
        """The single verdict when one rule decides the whole query, else None."""
        if not self.parts or len({(p.rule_name, p.priority) for p in self.parts}) != 1:
            return None
        first = self.parts[0]
        return Verdict(first.access, first.rule, first.default, self.skipped)


@dataclass(frozen=True)
class TagCheck:
    """Which prefixes of a service tag a flow may reach, and which rules decide."""

    tag: str
    direction: str
    protocol: str
    port: int | None
    sources: tuple[str, ...]
    prefixes: tuple[str, ...]  # the tag's prefixes as the data lists them
    parts: tuple[Part, ...]
    unchecked: tuple[str, ...] = ()  # tag prefixes of a family no source address has (e.g. IPv6 from IPv4)
    skipped: tuple[str, ...] = ()

    @property
    def allowed(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.allowed)

    @property
    def denied(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if not p.allowed)

    @property
    def all_allowed(self) -> bool:
        return bool(self.parts) and not self.denied

    @property
    def all_denied(self) -> bool:
        return bool(self.parts) and not self.allowed


def _direction(value: str) -> str:
    for option in DIRECTIONS:
        if option.lower() == value.strip().lower():
            return option
    raise UsageError(f"direction {value!r}: use Inbound or Outbound.")


def _protocol(value: str) -> str:
    try:
        return canonical_protocol(value)
    except ValueError as exc:
        raise UsageError(f"protocol {exc}.") from None


def _query_set(resolver: Resolver, entries: Sequence[str], what: str) -> IntSet:
    try:
        return resolver.addresses(entries)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}.") from None


def _query_ports(entries: Sequence[str], what: str) -> IntSet:
    try:
        return ports(entries)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}.") from None


def _query_boxes(
    query: Query, resolver: Resolver, destinations: IntSet | None = None
) -> tuple[str, list[Box], IntSet]:
    """`destinations`: the query's destination set when the caller has resolved it (a tag's prefixes)."""
    direction = _direction(query.direction)
    proto = protocol_set(_protocol(query.protocol))
    if query.sources is None:
        src = resolver.vnet if direction == "Outbound" else resolver.entry("*")
    else:
        src = _query_set(resolver, query.sources, "source address")
    dst = destinations
    if dst is None:
        dst = _query_set(resolver, query.destinations, "destination address")
    sport = _query_ports(query.source_ports, "source port")
    dport = _query_ports(query.destination_ports, "destination port")
    if not (proto & PORTED_PROTOCOLS):
        # Portless protocols: a flow's port coordinates are irrelevant to every rule, so any value will do.
        sport = dport = ALL_PORTS
    return direction, family_split((proto, src, sport, dst, dport)), dst


def _partition(
    compiled: list[CompiledRule], boxes: list[Box]
) -> tuple[list[tuple[CompiledRule, list[Box]]], list[Box], list[str]]:
    decided: list[tuple[CompiledRule, list[Box]]] = []
    skipped: list[str] = []
    remaining = boxes
    for item in compiled:
        if not remaining:
            break
        if item.box is None:
            skipped.append(item.rule.name)
            continue
        taken: list[Box] = []
        rest: list[Box] = []
        for box in remaining:
            inter = box_intersect(box, item.box)
            if inter is None:
                rest.append(box)
                continue
            taken.append(inter)
            rest.extend(box_subtract(box, item.box))
        if taken:
            decided.append((item, taken))
        remaining = rest
    return decided, remaining, skipped


def _box_key(box: Box) -> tuple[object, ...]:
    return tuple(s.spans[:1] for s in (box[DST], box[SRC], box[PROTO], box[DPORT], box[SPORT]))


def _part(rule: SecurityRule | None, access: str, default: bool, box: Box) -> Part:
    return Part(
        access=access,
        rule=rule,
        default=default,
        protocols=tuple(format_protocols(box[PROTO])),
        sources=tuple(to_cidrs(box[SRC])),
        source_ports=tuple(format_ports(box[SPORT])),
        destinations=tuple(to_cidrs(box[DST])),
        destination_ports=tuple(format_ports(box[DPORT])),
        destination_addresses=box[DST].size(),
        protocol_numbers=box[PROTO].spans,
        destination_set=box[DST],
    )


def _evaluate_boxes(nsg: Nsg, direction: str, boxes: list[Box], resolver: Resolver) -> Evaluation:
    compiled = compile_direction(nsg.rules, nsg.default_rules, direction, resolver)
    decided, remaining, skipped = _partition(compiled, boxes)
    parts: list[Part] = []
    for item, taken in decided:
        for box in sorted(merge_boxes(taken), key=_box_key):
            parts.append(_part(item.rule, item.rule.access, item.default, box))
    # Only possible when the document's default rules were edited away: Azure drops unmatched traffic.
    for box in sorted(merge_boxes(remaining), key=_box_key):
        parts.append(_part(None, "Deny", True, box))
    return Evaluation(direction, tuple(parts), tuple(skipped))


def evaluate_space(
    nsg: Nsg, query: Query, dataset: Dataset | None, *, vnet: Sequence[str] = DEFAULT_VNET
) -> Evaluation:
    """Split a set of flows by the rule that decides each of them (exact)."""
    resolver = Resolver(dataset, vnet)
    direction, boxes, _ = _query_boxes(query, resolver)
    return _evaluate_boxes(nsg, direction, boxes, resolver)


def evaluate_set(
    nsg: Nsg,
    query: Query,
    destinations: IntSet,
    dataset: Dataset | None,
    *,
    vnet: Sequence[str] = DEFAULT_VNET,
    resolver: Resolver | None = None,
) -> Evaluation:
    """`evaluate_space` with the destination given as an address set the caller resolved (a tag's prefixes, or
    what an earlier layer let through); `query.destinations` is ignored. The path check chains layers this way,
    and passes one `resolver` per VNet (built from `dataset` and `vnet`) so tags are resolved once per run.
    """
    if resolver is None:
        resolver = Resolver(dataset, vnet)
    direction, boxes, _ = _query_boxes(query, resolver, destinations)
    return _evaluate_boxes(nsg, direction, boxes, resolver)


def _single_address(text: str, what: str) -> str:
    try:
        version, _, length = parse_network(text)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}.") from None
    if length != (32 if version == 4 else 128):
        raise UsageError(f"{what}: {text!r} is a prefix; a flow needs a single IP address.")
    return text.strip()


def evaluate(nsg: Nsg, flow: Flow, dataset: Dataset | None, *, vnet: Sequence[str] = DEFAULT_VNET) -> Verdict:
    """The verdict for one flow and the rule that decides it."""
    protocol = _protocol(flow.protocol)
    source = _single_address(flow.source, "source")
    destination = _single_address(flow.destination, "destination")
    if (":" in source) != (":" in destination):
        raise UsageError("source and destination must both be IPv4 or both be IPv6.")
    ported = bool(protocol_set(protocol) & PORTED_PROTOCOLS)
    if ported and flow.destination_port is None:
        raise UsageError(f"a {protocol} flow needs a destination port.")
    for port, what in ((flow.destination_port, "destination port"), (flow.source_port, "source port")):
        if port is not None and not 0 <= port <= 65535:
            raise UsageError(f"{what} {port} is outside 0-65535.")
    query = Query(
        destinations=(destination,),
        destination_ports=(str(flow.destination_port),) if ported else ("*",),
        protocol=protocol,
        direction=flow.direction,
        sources=(source,),
        source_ports=(str(flow.source_port),) if ported and flow.source_port is not None else ("*",),
    )
    result = evaluate_space(nsg, query, dataset, vnet=vnet)
    verdict = result.verdict()
    if verdict is None:
        raise UsageError(
            f"the verdict depends on the source port (rules {', '.join(result.rules)} split it); "
            "give the flow's source port."
        )
    return verdict


def check_tag(
    nsg: Nsg,
    dataset: Dataset,
    tag: str,
    port: int | None = 443,
    protocol: str = "Tcp",
    source: str | Sequence[str] | None = None,
    *,
    direction: str = "Outbound",
    vnet: Sequence[str] = DEFAULT_VNET,
) -> TagCheck:
    """Split every prefix of `tag` (as destination) into the parts allowed and denied, with deciding rules.

    `source`: an IP, a prefix, or a list of them; None = the VNet's prefixes (Outbound) or `*` (Inbound).
    """
    service_tag = dataset.get(tag)
    if not service_tag.prefixes:
        raise UnknownTagError(f"service tag {service_tag.name!r} has no prefixes in this data.")
    protocol = _protocol(protocol)
    sources: tuple[str, ...] | None
    sources = (source,) if isinstance(source, str) else (tuple(source) if source is not None else None)
    ported = bool(protocol_set(protocol) & PORTED_PROTOCOLS)
    if port is not None and not 0 <= port <= 65535:
        raise UsageError(f"port {port} is outside 0-65535.")
    if ported and port is None and protocol != "*":
        raise UsageError(f"a {protocol} check needs a destination port.")
    query = Query(
        destinations=tuple(service_tag.prefixes),
        destination_ports=(str(port),) if port is not None else ("*",),
        protocol=protocol,
        direction=direction,
        sources=sources,
    )
    resolver = Resolver(dataset, vnet)
    # The prefixes come from the data: a malformed one is a DataError (exit 1), not a usage error.
    destinations = resolver.tag_addresses(service_tag)
    resolved_direction, boxes, tag_set = _query_boxes(query, resolver, destinations)
    result = _evaluate_boxes(nsg, resolved_direction, boxes, resolver)
    checked = IntSet(span for box in boxes for span in box[DST].spans)
    shown_sources = sources if sources is not None else _default_sources(resolved_direction, resolver)
    return TagCheck(
        tag=service_tag.name,
        direction=resolved_direction,
        protocol=protocol,
        port=port,
        sources=shown_sources,
        prefixes=tuple(service_tag.prefixes),
        parts=result.parts,
        unchecked=tuple(to_cidrs(tag_set - checked)),
        skipped=result.skipped,
    )


def _default_sources(direction: str, resolver: Resolver) -> tuple[str, ...]:
    return resolver.vnet_prefixes if direction == "Outbound" else ("*",)
