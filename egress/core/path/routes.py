"""The effective route of every destination address of a subnet: longest prefix match, as Azure selects it.

Routes considered:
- the subnet's route table: CIDR routes and service-tag routes (a tag route stands for each of the tag's prefixes
  in the service-tag data);
- system routes: each address prefix of the VNet -> `VnetLocal`, of a peered VNet -> `VNetPeering`, 0.0.0.0/0 and
  ::/0 -> `Internet`, and 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 -> `None`;
- service endpoints enabled on the subnet -> `VirtualNetworkServiceEndpoint` for the service's prefixes.

Selection: service-endpoint routes first (a route table cannot override them); then the longest prefix; on a tie a
user route beats a system route, and among user routes an explicit CIDR beats a regional tag, a regional tag a
global tag, then `AzureCloud.<region>`, then `AzureCloud`. BGP routes from a gateway are not visible offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from egress.core.addrset import IntSet, address_set, looks_like_address, parse_network
from egress.core.model import Dataset, ServiceTag
from egress.core.path.memo import Memo
from egress.core.path.steps import union
from egress.core.path.topology import Endpoint, key, last_segment, own_prefixes, peered_prefixes, props
from egress.errors import EgressError

NEXT_HOPS = ("VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None")
SYSTEM_NONE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
UDR_FEATURE = "UDR"
# Service endpoint -> the service tag whose prefixes its system routes carry (per location for Storage).
SERVICE_TAGS = {
    "microsoft.storage": "Storage",
    "microsoft.storage.global": "Storage",
    "microsoft.azureactivedirectory": "AzureActiveDirectory",
    "microsoft.keyvault": "AzureKeyVault",
    "microsoft.sql": "Sql",
    "microsoft.servicebus": "ServiceBus",
    "microsoft.eventhub": "EventHub",
    "microsoft.azurecosmosdb": "AzureCosmosDB",
    "microsoft.containerregistry": "AzureContainerRegistry",
    "microsoft.web": "AppService",
}
# Tie ranks (lower wins) among routes of one prefix length.
_EXPLICIT, _REGIONAL_TAG, _GLOBAL_TAG, _CLOUD_REGION, _CLOUD, _SYSTEM = range(6)


@dataclass(frozen=True)
class Route:
    name: str
    prefix: str  # as written: a CIDR or a tag name
    next_hop: str
    next_hop_ip: str = ""
    origin: str = "User"  # User | Default
    id: str = ""

    def describe(self) -> str:
        hop = f"{self.next_hop} {self.next_hop_ip}".strip()
        kind = "route" if self.origin == "User" else "system route"
        return f"{kind} {self.name} ({self.prefix} -> {hop})"


@dataclass
class RouteResult:
    pieces: list[tuple[IntSet, Route]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # errors: tags a route may not use, unknown tags
    notes: list[str] = field(default_factory=list)


def _hop(value: Any) -> str:
    for hop in (*NEXT_HOPS, "HyperNetGateway"):
        if hop.lower() == str(value or "").strip().lower():
            return hop
    return str(value or "")


def _tag_rank(tag: ServiceTag) -> int:
    if tag.base.lower() == "azurecloud":
        return _CLOUD_REGION if tag.region or "." in tag.name else _CLOUD
    return _REGIONAL_TAG if tag.region or "." in tag.name else _GLOBAL_TAG


def _by_length(prefixes: list[str]) -> dict[int, IntSet]:
    groups: dict[int, list[IntSet]] = {}
    for prefix in prefixes:
        _, _, length = parse_network(prefix)  # families never overlap: one length scale serves both
        groups.setdefault(length, []).append(address_set(prefix))
    return {length: union(sets) for length, sets in groups.items()}


def _service_endpoint_routes(
    end: Endpoint, dataset: Dataset | None, notes: list[str], memo: Memo
) -> list[tuple[IntSet, Route]]:
    out: list[tuple[IntSet, Route]] = []
    endpoints = props(end.subnet).get("serviceEndpoints")
    for item in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("service"), str):
            continue
        service = item["service"]
        base = SERVICE_TAGS.get(service.lower())
        if base is None or dataset is None:
            notes.append(f"service endpoint {service}: its prefixes are not known offline; not routed")
            continue
        locations = [str(x) for x in item.get("locations") or [] if isinstance(x, str)]
        tags: list[ServiceTag] = []
        if base != "Storage" or service.lower().endswith(".global") or not locations or "*" in locations:
            found = dataset.find(base)
            tags += [found] if found is not None else []
        else:
            for location in locations:
                try:
                    tags.append(dataset.regional(base, location))
                except EgressError:
                    notes.append(f"service endpoint {service}: no {base} tag for location {location!r}")
        for tag in tags:
            route = Route(
                f"ServiceEndpoint-{tag.name}", tag.name, "VirtualNetworkServiceEndpoint", origin="Default"
            )
            out.append((memo.tag_set(tag), route))
    return out


@dataclass(frozen=True)
class RouteTable:
    """A subnet's candidate routes in selection order: (sort key, addresses, route); smaller keys win."""

    entries: tuple[tuple[tuple[int, int, int, str], IntSet, Route], ...]
    findings: tuple[str, ...]
    notes: tuple[str, ...]


def route_table(end: Endpoint, dataset: Dataset | None, memo: Memo) -> RouteTable:
    findings: list[str] = []
    notes: list[str] = []
    entries: list[tuple[tuple[int, int, int, str], IntSet, Route]] = []
    for addresses, route in _service_endpoint_routes(end, dataset, notes, memo):
        entries.append(((0, 0, 0, route.name), addresses, route))
    table = end.route_table
    if table is not None:
        routes = props(table).get("routes")
        for item in routes if isinstance(routes, list) else []:
            if not isinstance(item, Mapping):
                continue
            p = props(item) or item
            name = str(item.get("name") or last_segment(str(item.get("id") or "route")))
            prefix = str(p.get("addressPrefix") or "").strip()
            route = Route(
                name,
                prefix,
                _hop(p.get("nextHopType")),
                str(p.get("nextHopIpAddress") or ""),
                "User",
                str(item.get("id") or f"{table['id']}/routes/{name}"),
            )
            if looks_like_address(prefix):
                try:
                    groups, rank = _by_length([prefix]), _EXPLICIT
                except ValueError as exc:
                    findings.append(f"route {name}: {exc}")
                    continue
            else:
                tag = dataset.find(prefix) if dataset is not None else None
                if tag is None:
                    findings.append(f"route {name}: service tag {prefix!r} is not in the service-tag data")
                    continue
                if not tag.usable_in(UDR_FEATURE):
                    findings.append(
                        f"route {name}: service tag {tag.name} is not usable in route tables (its networkFeatures "
                        f"lack UDR); Azure refuses it: route its prefixes instead"
                    )
                groups = memo.routes(f"tag-lengths:{tag.name}", lambda t=tag: _by_length(list(t.prefixes)))
                rank = _tag_rank(tag)
            for length, addresses in groups.items():
                entries.append(((1, -length, rank, name), addresses, route))
    system: list[tuple[str, str, str]] = []
    system += [(p, "VnetLocal", "VirtualNetwork") for p in own_prefixes(end.vnet)]
    system += [(p, "VNetPeering", "VNetPeering") for p in peered_prefixes(end.vnet)]
    system += [("0.0.0.0/0", "Internet", "Internet"), ("::/0", "Internet", "Internet")]
    system += [(p, "None", "None") for p in SYSTEM_NONE]
    for order, (prefix, hop, label) in enumerate(system):
        try:
            groups = _by_length([prefix])
        except ValueError:
            findings.append(f"virtual network {end.vnet_id}: address prefix {prefix!r} is not a CIDR")
            continue
        route = Route(f"{label} {prefix}", prefix, hop, origin="Default")
        for length, addresses in groups.items():
            entries.append(((1, -length, _SYSTEM + order, route.name), addresses, route))
    propagates = table is None or props(table).get("disableBgpRoutePropagation") is not True
    if propagates and _has_gateway_subnet(end.vnet):
        notes.append(
            "routes a VPN/ExpressRoute gateway learns by BGP are not in the input; a BGP default route would "
            "take traffic this report sends to the Internet"
        )
    return RouteTable(tuple(sorted(entries, key=lambda e: e[0])), tuple(findings), tuple(notes))


def effective_routes(
    end: Endpoint, dataset: Dataset | None, destinations: IntSet, memo: Memo | None = None
) -> RouteResult:
    """Split `destinations` by the route Azure picks for each address."""
    memo = memo if memo is not None else Memo(dataset)
    subnet = key(end.subnet_id)
    table = memo.routes(f"subnet:{subnet}", lambda: route_table(end, dataset, memo))
    chosen = memo.selections.get((subnet, destinations))  # routes do not depend on the VM's own address
    if chosen is not None:
        return RouteResult(list(chosen), list(table.findings), list(table.notes))
    result = RouteResult(findings=list(table.findings), notes=list(table.notes))
    remaining = destinations
    for _, addresses, route in table.entries:
        if not remaining:
            break
        if remaining.isdisjoint(addresses):  # most candidate routes miss; isdisjoint is a binary search
            continue
        taken = remaining & addresses
        if taken:
            result.pieces.append((taken, route))
            remaining = remaining - taken
    memo.selections[(subnet, destinations)] = tuple(result.pieces)
    return result


def _has_gateway_subnet(vnet: Mapping[str, Any]) -> bool:
    subnets = props(vnet).get("subnets")
    return any(
        isinstance(s, Mapping) and str(s.get("name", "")).lower() == "gatewaysubnet"
        for s in (subnets if isinstance(subnets, list) else [])
    )
