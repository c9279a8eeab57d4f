"""Exact set arithmetic for NSG evaluation: addresses, ports and protocol numbers as integer intervals.

An `IntSet` is a sorted tuple of disjoint, non-adjacent closed intervals. Every NSG field (an address list with
tags, a port list, a protocol) becomes one IntSet, so "which part of Storage.EastUS does this rule match" and
"is this rule covered by the rules above it" are exact interval operations, never samples.

Addresses of both families share one integer line: IPv4 `a` is `a`, IPv6 `a` is `V6_OFFSET + a`. A set can
therefore hold `*` (both families) and still be split by family with one intersection.

Text <-> number conversion is `egress.core.prefixes` (parse_prefix / format_prefix).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from egress.core.prefixes import format_prefix, parse_prefix

V4_BITS = 32
V6_BITS = 128
V6_OFFSET = 1 << V4_BITS
V4_MAX = (1 << V4_BITS) - 1
V6_MAX = V6_OFFSET + (1 << V6_BITS) - 1
MAX_PORT = 65535
MAX_PROTOCOL = 255


class IntSet:
    """An immutable set of integers stored as closed intervals; all operations are linear merges."""

    __slots__ = ("spans",)

    spans: tuple[tuple[int, int], ...]

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(s for s in spans if s[0] <= s[1]):
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        self.spans = tuple(merged)

    @classmethod
    def span(cls, lo: int, hi: int) -> IntSet:
        return cls(((lo, hi),))

    @classmethod
    def _normalized(cls, spans: list[tuple[int, int]]) -> IntSet:
        out = cls.__new__(cls)
        out.spans = tuple(spans)
        return out

    def __bool__(self) -> bool:
        return bool(self.spans)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntSet) and self.spans == other.spans

    def __hash__(self) -> int:
        return hash(self.spans)

    def __repr__(self) -> str:
        return f"IntSet({list(self.spans)!r})"

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.spans)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        lo_idx, hi_idx = 0, len(self.spans)
        while lo_idx < hi_idx:  # binary search: tag sets run to thousands of spans
            mid = (lo_idx + hi_idx) // 2
            lo, hi = self.spans[mid]
            if value < lo:
                hi_idx = mid
            elif value > hi:
                lo_idx = mid + 1
            else:
                return True
        return False

    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.spans)

    def __or__(self, other: IntSet) -> IntSet:
        return IntSet(self.spans + other.spans)

    def __and__(self, other: IntSet) -> IntSet:
        out: list[tuple[int, int]] = []
        a, b = self.spans, other.spans
        i = j = 0
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntSet._normalized(out)

    def __sub__(self, other: IntSet) -> IntSet:
        out: list[tuple[int, int]] = []
        b = other.spans
        j = 0
        for lo, hi in self.spans:
            cur = lo
            while j < len(b) and b[j][1] < cur:
                j += 1
            k = j
            while k < len(b) and b[k][0] <= hi and cur <= hi:
                if b[k][0] > cur:
                    out.append((cur, b[k][0] - 1))
                cur = max(cur, b[k][1] + 1)
                k += 1
            if cur <= hi:
                out.append((cur, hi))
        return IntSet._normalized(out)

    def isdisjoint(self, other: IntSet) -> bool:
        return not (self & other)

    def issubset(self, other: IntSet) -> bool:
        return not (self - other)


EMPTY = IntSet()
ALL_V4 = IntSet.span(0, V4_MAX)
ALL_V6 = IntSet.span(V6_OFFSET, V6_MAX)
ALL_ADDRESSES = ALL_V4 | ALL_V6
ALL_PORTS = IntSet.span(0, MAX_PORT)
ALL_PROTOCOLS = IntSet.span(0, MAX_PROTOCOL)


# --- addresses ---------------------------------------------------------------------------------------------


def parse_network(text: str) -> tuple[int, int, int]:
    """`10.0.0.0/8`, `10.1.2.3` or `2001:db8::/32` -> (version, network int, length); host bits are masked.

    Raises ValueError naming the text and the problem.
    """
    return parse_prefix(text)


def format_network(version: int, network: int, length: int) -> str:
    return format_prefix((version, network, length))


def network_set(version: int, network: int, length: int) -> IntSet:
    bits = V4_BITS if version == 4 else V6_BITS
    base = 0 if version == 4 else V6_OFFSET
    lo = base + network
    return IntSet.span(lo, lo + (1 << (bits - length)) - 1)


def address_set(text: str) -> IntSet:
    """The IntSet of one IP address or CIDR prefix (ValueError when it is neither)."""
    return network_set(*parse_network(text))


def looks_like_address(text: str) -> bool:
    """Whether `text` is meant as an IP/CIDR (digits with dots or colons) rather than a service tag name."""
    value = text.strip()
    return ":" in value or (any(c.isdigit() for c in value) and "." in value and value[:1].isdigit())


def _span_to_cidrs(lo: int, hi: int, bits: int) -> Iterator[tuple[int, int]]:
    while lo <= hi:
        size = lo & -lo if lo else 1 << bits
        while size > hi - lo + 1:
            size >>= 1
        yield lo, bits - size.bit_length() + 1
        lo += size


def to_cidrs(addresses: IntSet) -> list[str]:
    """The fewest CIDR prefixes covering exactly `addresses`, IPv4 first, each family in address order."""
    out: list[str] = []
    for family, base, bits, version in ((ALL_V4, 0, V4_BITS, 4), (ALL_V6, V6_OFFSET, V6_BITS, 6)):
        for lo, hi in addresses & family:
            for network, length in _span_to_cidrs(lo - base, hi - base, bits):
                out.append(format_network(version, network, length))
    return out


# --- ports -------------------------------------------------------------------------------------------------


def port_set(entry: str) -> IntSet:
    """`*`, `443` or `80-443` -> IntSet (ValueError otherwise)."""
    value = entry.strip()
    if value in ("*", "Any", "any"):
        return ALL_PORTS
    lo_text, sep, hi_text = value.partition("-")
    try:
        lo = _port_number(lo_text)
        hi = _port_number(hi_text) if sep else lo
    except ValueError:
        raise ValueError(f"{entry!r} is not a port, a range like 80-443, or '*'") from None
    if lo > hi:
        raise ValueError(f"{entry!r}: the range's start is above its end")
    return IntSet.span(lo, hi)


def _port_number(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or int(text) > MAX_PORT:
        raise ValueError(text)
    return int(text)


def format_ports(ports: IntSet) -> list[str]:
    if ports == ALL_PORTS:
        return ["*"]
    return [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports]


# --- protocols ---------------------------------------------------------------------------------------------

# ARM protocol name -> IANA protocol numbers. Azure's `Icmp` covers ICMP for IPv4 and ICMPv6.
PROTOCOL_NUMBERS: dict[str, tuple[int, ...]] = {
    "Tcp": (6,),
    "Udp": (17,),
    "Icmp": (1, 58),
    "Esp": (50,),
    "Ah": (51,),
}
PROTOCOLS = ("*", "Tcp", "Udp", "Icmp", "Esp", "Ah")
# Only these carry ports; a rule that names ports cannot match ICMP, ESP, AH or other protocols.
PORTED_PROTOCOLS = IntSet((n, n) for n in (6, 17))


def canonical_protocol(name: str) -> str:
    """`tcp` -> `Tcp`, `any` -> `*` (ValueError for anything Azure does not accept)."""
    key = name.strip().lower()
    if key in ("*", "any"):
        return "*"
    for proto in PROTOCOL_NUMBERS:
        if proto.lower() == key:
            return proto
    raise ValueError(f"{name!r} is not a protocol Azure accepts ({', '.join(PROTOCOLS)})")


def protocol_set(name: str) -> IntSet:
    proto = canonical_protocol(name)
    if proto == "*":
        return ALL_PROTOCOLS
    return IntSet((n, n) for n in PROTOCOL_NUMBERS[proto])


def format_protocols(protocols: IntSet) -> list[str]:
    """Names of the protocols in the set; `*` for all, `other` for numbers Azure has no name for."""
    if protocols == ALL_PROTOCOLS:
        return ["*"]
    names = [name for name, nums in PROTOCOL_NUMBERS.items() if any(n in protocols for n in nums)]
    named = IntSet((n, n) for nums in PROTOCOL_NUMBERS.values() for n in nums)
    if protocols - named:
        names.append("other")
    return names
