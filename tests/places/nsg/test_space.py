"""What the address words mean offline: VirtualNetwork with user-defined routes (egress.places.nsg.space)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egress.core.addrset import address_set
from egress.errors import DataError
from egress.places.nsg.space import PUBLIC, Resolver

VNET = ("10.0.0.0/16",)


def test_user_route_prefixes_join_virtual_network_but_stay_in_internet() -> None:
    plain = Resolver(None, VNET)
    routed = Resolver(None, VNET, ("0.0.0.0/0",))
    assert not address_set("20.38.0.0/16").issubset(plain.entry("VirtualNetwork"))
    assert address_set("20.38.0.0/16").issubset(routed.entry("VirtualNetwork"))
    assert routed.entry("Internet") == plain.entry("Internet")  # Deny Internet keeps denying public addresses
    assert routed.key != plain.key


@given(st.integers(0, (1 << 32) - 1), st.integers(8, 32))
def test_virtual_network_is_the_union_of_the_space_the_routes_and_the_host_vip(
    address: int, length: int
) -> None:
    network = address >> (32 - length) << (32 - length)
    prefix = f"{network >> 24}.{network >> 16 & 255}.{network >> 8 & 255}.{network & 255}/{length}"
    resolver = Resolver(None, VNET, (prefix,))
    expected = address_set(VNET[0]) | address_set(prefix) | address_set("168.63.129.16/32")
    assert resolver.entry("VirtualNetwork") == expected
    assert resolver.entry("Internet") == PUBLIC - (address_set(VNET[0]) | address_set("168.63.129.16/32"))


def test_a_malformed_route_prefix_is_damaged_data() -> None:
    with pytest.raises(DataError, match="user-defined route"):
        Resolver(None, VNET, ("10.0.0.0/33",))
