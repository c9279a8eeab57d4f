"""Route selection against a brute-force longest-prefix match, address by address, on random route tables."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egress.core.addrset import address_set
from egress.core.path.routes import effective_routes
from egress.core.path.steps import union
from egress.core.path.topology import Endpoint

VNET = "10.0.0.0/16"
HOPS = ["Internet", "None", "VirtualAppliance", "VnetLocal"]
# Small prefixes around a few addresses, so random routes overlap often.
BASES = ["20.0.0.0", "20.0.0.64", "20.0.1.0", "10.0.0.0", "10.0.5.0", "0.0.0.0"]


@st.composite
def tables(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    out = []
    for i in range(draw(st.integers(0, 6))):
        base = draw(st.sampled_from(BASES))
        length = draw(st.sampled_from([0, 8, 16, 23, 24, 26, 32]))
        prefix = str(ipaddress.ip_network(f"{base}/{length}", strict=False))
        out.append((f"r{i}", prefix, draw(st.sampled_from(HOPS))))
    return out


def endpoint(routes: list[tuple[str, str, str]]) -> Endpoint:
    table: dict[str, Any] = {
        "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/routeTables/rt",
        "properties": {
            "routes": [
                {
                    "name": n,
                    "properties": {"addressPrefix": p, "nextHopType": h, "nextHopIpAddress": "10.0.9.4"},
                }
                for n, p, h in routes
            ]
        },
    }
    vnet = {"id": "/v", "properties": {"addressSpace": {"addressPrefixes": [VNET]}}}
    return Endpoint(
        name="vm", id="/vm", region="eastus", subnet_id="/v/subnets/s", vnet=vnet, route_table=table
    )


def expected(address: str, routes: list[tuple[str, str, str]]) -> tuple[str, str]:
    """Longest prefix; a user route beats a system route of the same prefix; VnetLocal beats the None defaults."""
    candidates = [(ipaddress.ip_network(p).prefixlen, 0, i, n, p, h) for i, (n, p, h) in enumerate(routes)]
    system = [(VNET, "VnetLocal"), ("0.0.0.0/0", "Internet")]
    system += [(p, "None") for p in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]
    candidates += [(ipaddress.ip_network(p).prefixlen, 1, i, "", p, h) for i, (p, h) in enumerate(system)]
    inside = [c for c in candidates if ipaddress.ip_address(address) in ipaddress.ip_network(c[4])]
    best = min(inside, key=lambda c: (-c[0], c[1], c[2] if c[1] else 0, c[3]))
    return best[4], best[5]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routes=tables(), offsets=st.lists(st.integers(0, 511), min_size=1, max_size=6))
def test_every_address_gets_its_longest_prefix_route(routes, offsets) -> None:  # type: ignore[no-untyped-def]
    # Azure refuses two routes of one prefix in a table; keep the first of each.
    seen: set[str] = set()
    routes = [r for r in routes if not (r[1] in seen or seen.add(r[1]))]  # type: ignore[func-returns-value]
    addresses = [str(ipaddress.ip_address("20.0.0.0") + o) for o in offsets] + ["10.0.5.7", "10.0.200.1"]
    destinations = union(address_set(a) for a in addresses)
    result = effective_routes(endpoint(routes), None, destinations)
    assert union(piece for piece, _ in result.pieces) == destinations  # every address routed, once
    assert sum(piece.size() for piece, _ in result.pieces) == destinations.size()
    for address in addresses:
        (route,) = [r for piece, r in result.pieces if address_set(address).issubset(piece)]
        assert (route.prefix, route.next_hop) == expected(address, routes), address
