"""Which route a destination takes from a subnet with this route table, as Azure chooses (egress-path.md §3):
longest prefix match over the table's routes (a service-tag route stands for each of the tag's prefixes) and
Azure's default system routes; on equal prefixes a user-defined route beats a system route, and among
user-defined routes an explicit prefix beats a regional tag, which beats a global tag."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from egress.core.model import Dataset
from egress.places.route_table.model import RouteTable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Azure's default routes for every subnet ([UDR]: the docs' system route table); the VNet's own space is VnetLocal.
SYSTEM_ROUTES = (
    ("0.0.0.0/0", "Internet"),
    ("::/0", "Internet"),
    ("10.0.0.0/8", "None"),
    ("172.16.0.0/12", "None"),
    ("192.168.0.0/16", "None"),
    ("100.64.0.0/10", "None"),
)


@dataclass(frozen=True, slots=True)
class Match:
    name: str  # the route's name, or "system: <prefix>"
    prefix: str  # the prefix that matched (for a tag route: the tag's prefix)
    next_hop_type: str
    next_hop_ip: str | None = None
    tag: str | None = None
    system: bool = False

    def describe(self) -> str:
        hop = self.next_hop_type + (f" {self.next_hop_ip}" if self.next_hop_ip else "")
        if self.system:
            return f"system route {self.prefix} -> {hop}"
        via = f"{self.tag}: {self.prefix}" if self.tag else self.prefix
        return f"route {self.name} ({via}) -> {hop}"


def _rank(match: Match, network: Network) -> tuple[int, int, int]:
    if match.system:
        order = 9
    elif match.tag is None:
        order = 0
    else:
        order = 1 if "." in match.tag else 2  # Storage.EastUS before Storage
    return (network.prefixlen, -int(match.system), -order)


def matches(table: RouteTable, dataset: Dataset, dest: Network, vnet: Sequence[str]) -> list[Match]:
    """Every route containing `dest`, the one Azure uses first."""
    found: list[tuple[tuple[int, int, int], Match]] = []

    def consider(prefix: str, match: Match) -> None:
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            return
        if net.version == dest.version and dest.subnet_of(net):  # type: ignore[arg-type]
            found.append((_rank(match, net), match))

    for route in table.routes:
        if route.is_tag:
            tag = dataset.find(route.address_prefix)
            for prefix in tag.prefixes if tag else ():
                consider(prefix, Match(route.name, prefix, route.next_hop_type, route.next_hop_ip, tag.name))
        else:
            consider(route.address_prefix, Match(route.name, route.address_prefix, route.next_hop_type,
                                                 route.next_hop_ip))  # fmt: skip
    for prefix in vnet:
        consider(prefix, Match(f"system: {prefix}", prefix, "VnetLocal", system=True))
    for prefix, hop in SYSTEM_ROUTES:
        consider(prefix, Match(f"system: {prefix}", prefix, hop, system=True))
    found.sort(key=lambda item: item[0], reverse=True)
    return [m for _, m in found]
