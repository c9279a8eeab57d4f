"""IntSet arithmetic against Python sets; CIDR output against ipaddress; ports and protocols."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egress.core.addrset import (
    ALL_PORTS,
    ALL_PROTOCOLS,
    V6_OFFSET,
    IntSet,
    address_set,
    format_ports,
    format_protocols,
    port_set,
    protocol_set,
    to_cidrs,
)

spans = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=6)


def members(s: IntSet) -> set[int]:
    return {n for lo, hi in s for n in range(lo, hi + 1)}


def as_set(raw: list[tuple[int, int]]) -> set[int]:
    return {n for lo, hi in raw for n in range(lo, hi + 1)}


@given(spans, spans)
@settings(max_examples=300)
def test_intset_operations_match_python_sets(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    x, y = IntSet(a), IntSet(b)
    sa, sb = as_set(a), as_set(b)
    assert members(x) == sa
    assert members(x | y) == sa | sb
    assert members(x & y) == sa & sb
    assert members(x - y) == sa - sb
    assert x.issubset(y) == (sa <= sb)
    assert x.isdisjoint(y) == sa.isdisjoint(sb)
    assert x.size() == len(sa)
    assert all((n in x) == (n in sa) for n in range(-1, 62))
    # Normal form: sorted, disjoint, not touching; so equal sets compare equal.
    assert all(hi + 1 < lo for (_, hi), (lo, _) in zip(x.spans, x.spans[1:], strict=False))
    assert (x == y) == (sa == sb)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**20))
def test_to_cidrs_matches_ipaddress(start: int, width: int) -> None:
    end = min(start + width, 2**32 - 1)
    expected = [
        str(n)
        for n in ipaddress.summarize_address_range(ipaddress.IPv4Address(start), ipaddress.IPv4Address(end))
    ]
    assert to_cidrs(IntSet.span(start, end)) == expected


def test_to_cidrs_whole_spaces_and_ipv6() -> None:
    assert to_cidrs(address_set("0.0.0.0/0")) == ["0.0.0.0/0"]
    assert to_cidrs(address_set("::/0")) == ["::/0"]
    both = address_set("10.0.0.0/8") | address_set("2001:db8::/33") | address_set("2001:db8:8000::/33")
    assert to_cidrs(both) == ["10.0.0.0/8", "2001:db8::/32"]
    assert address_set("::1") == IntSet.span(V6_OFFSET + 1, V6_OFFSET + 1)


def test_address_set_masks_host_bits_and_rejects_junk() -> None:
    assert address_set("10.1.2.3/8") == address_set("10.0.0.0/8")
    assert address_set("10.1.2.3").size() == 1
    for bad in ("10.0.0", "10.0.0.256", "10.0.0.0/33", "fe80::1%eth0", "", "Storage"):
        with pytest.raises(ValueError):
            address_set(bad)


@pytest.mark.parametrize(
    ("entry", "spans"),
    [("*", ((0, 65535),)), ("443", ((443, 443),)), ("80-443", ((80, 443),)), (" 0 - 10 ", ((0, 10),))],
)
def test_port_set(entry: str, spans: tuple[tuple[int, int], ...]) -> None:
    assert port_set(entry).spans == spans


@pytest.mark.parametrize("bad", ["", "x", "65536", "-1", "10-", "443-80", "1-2-3", "+5"])
def test_port_set_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        port_set(bad)


def test_format_ports() -> None:
    assert format_ports(ALL_PORTS) == ["*"]
    assert format_ports(IntSet([(443, 443), (8000, 8080)])) == ["443", "8000-8080"]


def test_protocols() -> None:
    assert protocol_set("*") == ALL_PROTOCOLS
    assert protocol_set("icmp") == IntSet([(1, 1), (58, 58)])  # ICMP and ICMPv6
    assert format_protocols(ALL_PROTOCOLS) == ["*"]
    assert format_protocols(protocol_set("Tcp") | protocol_set("Udp")) == ["Tcp", "Udp"]
    assert format_protocols(ALL_PROTOCOLS - protocol_set("Tcp")) == ["Udp", "Icmp", "Esp", "Ah", "other"]
    with pytest.raises(ValueError):
        protocol_set("Gre")
