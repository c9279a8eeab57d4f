"""Rules as boxes in flow space, and what the address words of an NSG mean offline.

A flow is a point (protocol, source address, source port, destination address, destination port). A rule
matches a *box*: the product of five IntSets. "The part of a query a rule matches" is a box intersection and
"what is left for the next rule" a box difference, so evaluation and shadowing are exact.

Ports exist only for Tcp and Udp. A rule that names ports (anything but `*`) is therefore compiled with its
protocol set cut down to Tcp/Udp; for every other protocol the port coordinates of a flow are irrelevant, and
the product model stays exact.

Address words (matching is case-insensitive):
- `*`, `Any`: every IPv4 and IPv6 address. `0.0.0.0/0` / `::/0` are one family each.
- `VirtualNetwork`: the VNet prefixes given to the Resolver (the `--vnet` option: the VNet's address space plus
  peered VNets and connected on-premises ranges; default the three RFC 1918 ranges), plus 168.63.129.16, the
  host's virtual IP, which Azure documents as part of the tag.
- `Internet`: the public address space (IPv4 minus the IANA special-purpose ranges: private, shared 100.64/10,
  loopback, link-local, documentation, benchmarking, multicast, reserved; IPv6 2000::/3 minus 2001:db8::/32)
  with VirtualNetwork removed. It includes Azure's own public ranges, as in Azure: a Deny Internet rule also
  blocks Storage, AzureBackup, ... unless an allow for them sits above it.
- `AzureLoadBalancer`: 168.63.129.16/32.
- any other word: a service tag of the loaded service-tag data (UnknownTagError when absent).
Addresses that are neither VirtualNetwork nor Internet (say 172.16.5.5 when the VNet is 10.0.0.0/16) match
only `*` rules, so by default they fall to DenyAllOutBound / DenyAllInBound.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from egress.core.addrset import (
    ALL_ADDRESSES,
    ALL_PORTS,
    ALL_V4,
    ALL_V6,
    EMPTY,
    PORTED_PROTOCOLS,
    IntSet,
    address_set,
    looks_like_address,
    port_set,
    protocol_set,
)
from egress.core.model import Dataset, ServiceTag
from egress.errors import DataError, TargetError, UnknownTagError, UsageError
from egress.places.nsg.model import SecurityRule

DEFAULT_VNET: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
AZURE_PLATFORM_IP = "168.63.129.16/32"  # AzureLoadBalancer, and the host VIP inside VirtualNetwork
NON_PUBLIC_V4: tuple[str, ...] = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
PUBLIC_V6: tuple[str, ...] = ("2000::/3",)
NON_PUBLIC_V6: tuple[str, ...] = ("2001:db8::/32",)

PROTO, SRC, SPORT, DST, DPORT = range(5)
DIMENSIONS = ("protocol", "source", "source port", "destination", "destination port")
Box = tuple[IntSet, IntSet, IntSet, IntSet, IntSet]


def _union(sets: Iterable[IntSet]) -> IntSet:
    spans: list[tuple[int, int]] = []
    for s in sets:
        spans.extend(s.spans)
    return IntSet(spans)


def _public() -> IntSet:
    v4 = ALL_V4 - _union(address_set(p) for p in NON_PUBLIC_V4)
    v6 = _union(address_set(p) for p in PUBLIC_V6) - _union(address_set(p) for p in NON_PUBLIC_V6)
    return v4 | v6


PUBLIC = _public()


class Resolver:
    """Turns the address words of rules and queries into IntSets, given the data and the VNet's prefixes."""

    def __init__(
        self, dataset: Dataset | None, vnet: Sequence[str] = DEFAULT_VNET, routed: Sequence[str] = ()
    ) -> None:
        """`routed`: prefixes of the subnet's user-defined routes. Azure documents them as part of the
        `VirtualNetwork` tag (a 0.0.0.0/0 route makes AllowVnetOutBound admit all egress, as users report), so
        they join VirtualNetwork; they are not taken out of Internet, which Azure does not document either way:
        a Deny Internet rule keeps denying public addresses."""
        self.dataset = dataset
        self.vnet_prefixes = tuple(vnet)
        self.routed_prefixes = tuple(routed)
        self.key = (self.vnet_prefixes, self.routed_prefixes)
        sets = []
        for prefix in self.vnet_prefixes:
            try:
                sets.append(address_set(prefix))
            except ValueError as exc:
                raise UsageError(f"--vnet: {exc}; give the VNet's address space, e.g. 10.0.0.0/16.") from None
        if not sets:
            raise UsageError("--vnet: give at least one prefix of the VNet's address space.")
        self.vnet = _union(sets)
        try:
            routed_set = _union(address_set(p) for p in self.routed_prefixes)
        except ValueError as exc:
            raise DataError(f"a user-defined route: {exc}.") from None
        platform = address_set(AZURE_PLATFORM_IP)
        self._special = {
            "*": ALL_ADDRESSES,
            "any": ALL_ADDRESSES,
            "virtualnetwork": self.vnet | routed_set | platform,
            "internet": PUBLIC - (self.vnet | platform),
            "azureloadbalancer": platform,
        }
        self._cache: dict[str, IntSet] = {}

    def entry(self, entry: str) -> IntSet:
        """One address word. ValueError for a malformed IP/CIDR, UnknownTagError for a tag not in the data."""
        key = entry.strip().lower()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if key in self._special:
            value = self._special[key]
        elif looks_like_address(key):
            value = address_set(key)
        else:
            if self.dataset is None:
                raise UnknownTagError(f"service tag {entry!r} needs service-tag data, and none was loaded.")
            value = self.tag_addresses(self.dataset.get(entry))
        self._cache[key] = value
        return value

    def tag_addresses(self, tag: ServiceTag) -> IntSet:
        """A service tag's prefixes. A malformed one is damaged data (DataError), not a fault of a rule or query."""
        try:
            return _union(address_set(p) for p in tag.prefixes)
        except ValueError as exc:
            source = self.dataset.provenance.source if self.dataset is not None else "the service-tag data"
            raise DataError(
                f"{source}: service tag {tag.name}: {exc}; the data is damaged: download it again "
                "(`egress ranges fetch`) or give another --data."
            ) from None

    def addresses(self, entries: Iterable[str]) -> IntSet:
        return _union(self.entry(e) for e in entries)


def ports(entries: Iterable[str]) -> IntSet:
    return _union(port_set(e) for e in entries)


@dataclass(frozen=True)
class CompiledRule:
    """A rule and its box; `box` is None when the rule names application security groups (unknowable)."""

    rule: SecurityRule
    default: bool
    box: Box | None


def compile_rule(rule: SecurityRule, resolver: Resolver, *, default: bool = False) -> CompiledRule:
    label = f"rule {rule.name!r}"
    if rule.uses_asgs:
        return CompiledRule(rule, default, None)
    try:
        proto = protocol_set(rule.protocol)
        sport = ports(rule.source_ports) if rule.source_ports else EMPTY
        dport = ports(rule.destination_ports) if rule.destination_ports else EMPTY
    except ValueError as exc:
        raise TargetError(f"{label}: {exc}.") from None
    if sport != ALL_PORTS or dport != ALL_PORTS:
        proto &= PORTED_PROTOCOLS
    try:
        src = resolver.addresses(rule.sources)
        dst = resolver.addresses(rule.destinations)
    except ValueError as exc:
        raise TargetError(f"{label}: {exc}.") from None
    except UnknownTagError as exc:
        raise UnknownTagError(f"{label}: {exc}") from None
    return CompiledRule(rule, default, (proto, src, sport, dst, dport))


def compile_direction(
    rules: Sequence[SecurityRule], defaults: Sequence[SecurityRule], direction: str, resolver: Resolver
) -> list[CompiledRule]:
    """Custom then default rules of one direction, compiled, in evaluation order (priority, then name)."""
    chosen = [(r, False) for r in rules if r.direction == direction]
    chosen += [(r, True) for r in defaults if r.direction == direction]
    chosen.sort(key=lambda item: (item[0].priority, item[0].name))
    return [compile_rule(r, resolver, default=d) for r, d in chosen]


def box_is_empty(box: Box) -> bool:
    return not all(box)


# Cheap dimensions first, so most non-overlapping pairs are rejected before the address sets are touched.
_CHECK_ORDER = (PROTO, DPORT, SPORT, SRC, DST)


def boxes_overlap(a: Box, b: Box) -> bool:
    return all(not a[d].isdisjoint(b[d]) for d in _CHECK_ORDER)


def box_intersect(a: Box, b: Box) -> Box | None:
    if not boxes_overlap(a, b):
        return None
    return tuple(x & y for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def box_subtract(a: Box, b: Box) -> list[Box]:
    """`a` minus `b` as disjoint boxes (at most one per dimension)."""
    if not boxes_overlap(a, b):
        return [a]
    inter = [x & y for x, y in zip(a, b, strict=True)]
    out: list[Box] = []
    current = list(a)
    for dim in range(len(a)):
        outside = current[dim] - b[dim]
        if outside:
            piece = list(current)
            piece[dim] = outside
            out.append(tuple(piece))  # type: ignore[arg-type]
        current[dim] = inter[dim]
    return out


def family_split(box: Box) -> list[Box]:
    """A box cut into its IPv4 and IPv6 halves (a flow never mixes families), dropping empty halves."""
    out: list[Box] = []
    for family in (ALL_V4, ALL_V6):
        src, dst = box[SRC] & family, box[DST] & family
        if src and dst and box[PROTO] and box[SPORT] and box[DPORT]:
            out.append((box[PROTO], src, box[SPORT], dst, box[DPORT]))
    return out


def merge_boxes(boxes: list[Box]) -> list[Box]:
    """Fuse boxes that differ in one dimension only (keeps reports short; the union is unchanged)."""
    items = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                a, b = items[i], items[j]
                diff = [d for d in range(5) if a[d] != b[d]]
                if len(diff) <= 1:
                    merged = list(a)
                    if diff:
                        merged[diff[0]] = a[diff[0]] | b[diff[0]]
                    items[i] = tuple(merged)  # type: ignore[assignment]
                    del items[j]
                    changed = True
                    break
            if changed:
                break
    return items
