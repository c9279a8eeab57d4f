"""The evaluator and the shadowing lint against a brute-force reference on random small NSGs.

The reference walks the rules in priority order for every flow of a finite set that holds one flow per
equivalence class (addresses that every address entry of the NSG treats alike, port ranges' boundaries, one
number per protocol), with its own protocol and port matching. Because the classes are complete, "no flow of
the set is first matched by rule R" is exactly "R is shadowed".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egress.core.addrset import V6_MAX, V6_OFFSET, IntSet, address_set, port_set
from egress.core.model import Dataset, Provenance, ServiceTag
from egress.places.nsg.evaluate import Flow, Query, evaluate, evaluate_space
from egress.places.nsg.lint import lint
from egress.places.nsg.model import Nsg, SecurityRule
from egress.places.nsg.space import Resolver

VNET = ("10.0.0.0/30", "fd00::/127")
DATA = Dataset(
    Provenance(cloud="Public", change_number=1, source="test", kind="file", sha256="0"),
    (ServiceTag("Tag.A", prefixes=("8.8.8.0/31", "2603::/128")),),
)
ADDRESS_WORDS = ["*", "VirtualNetwork", "Internet", "AzureLoadBalancer", "Tag.A", "0.0.0.0/0", "::/0"]
ADDRESS_CIDRS = [
    "10.0.0.0/30",
    "10.0.0.4/31",
    "10.0.0.1",
    "8.8.8.2/31",
    "8.8.8.1",
    "172.16.0.0/31",
    "fd00::/127",
    "2603::1",
]
PORTS = ["*", "1", "2-3", "0-1", "3", "65535"]
PROTOCOLS = ["*", "Tcp", "Udp", "Icmp", "Esp", "Ah"]
# One number per protocol class: Icmp (1 and 58 behave alike), Tcp, Udp, Esp, Ah, and an unnamed one (GRE).
PROTOCOL_NUMBERS = {1: "Icmp", 6: "Tcp", 17: "Udp", 50: "Esp", 51: "Ah", 47: "Gre"}
PORTED = {"Tcp", "Udp"}

entry = st.sampled_from(ADDRESS_WORDS + ADDRESS_CIDRS)
port = st.sampled_from(PORTS)


@st.composite
def rules(draw: st.DrawFn) -> list[SecurityRule]:
    count = draw(st.integers(1, 6))
    priorities = draw(st.lists(st.integers(100, 140), min_size=count, max_size=count, unique=True))
    out = []
    for i, priority in enumerate(priorities):
        src_plural = draw(st.booleans())
        dst_plural = draw(st.booleans())
        cidrs = st.lists(st.sampled_from(ADDRESS_CIDRS), min_size=1, max_size=3, unique=True)
        src = draw(cidrs) if src_plural else [draw(entry)]
        dst = draw(cidrs) if dst_plural else [draw(entry)]
        dports = draw(st.lists(port, min_size=1, max_size=2, unique=True))
        sport = draw(st.sampled_from(["*", "*", "1-2"]))
        out.append(
            SecurityRule(
                name=f"R{i}",
                priority=priority,
                direction=draw(st.sampled_from(["Outbound", "Outbound", "Inbound"])),
                access=draw(st.sampled_from(["Allow", "Deny"])),
                protocol=draw(st.sampled_from(PROTOCOLS)),
                source_address_prefix=None if src_plural else src[0],
                source_address_prefixes=tuple(src) if src_plural else (),
                destination_address_prefix=None if dst_plural else dst[0],
                destination_address_prefixes=tuple(dst) if dst_plural else (),
                source_port_range=sport,
                destination_port_range=dports[0] if len(dports) == 1 else None,
                destination_port_ranges=tuple(dports) if len(dports) > 1 else (),
            )
        )
    return out


# ------------------------------------------------------------------------------------------ the reference


def ref_ports(entries: Iterable[str], value: int) -> bool:
    for e in entries:
        if e == "*":
            return True
        lo, _, hi = e.partition("-")
        if int(lo) <= value <= int(hi or lo):
            return True
    return False


class Reference:
    """First-match evaluation written independently of the engine (addresses: ipaddress for CIDRs)."""

    def __init__(self, nsg: Nsg) -> None:
        self.nsg = nsg
        self.resolver = Resolver(DATA, VNET)

    def address_in(self, entries: Iterable[str], addr: int) -> bool:
        for e in entries:
            if e[0].isdigit() or ":" in e:
                if addr >= V6_OFFSET:
                    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(
                        addr - V6_OFFSET
                    )
                else:
                    ip = ipaddress.IPv4Address(addr)
                if ip in ipaddress.ip_network(e, strict=False):
                    return True
            elif addr in self.resolver.entry(e):  # the words' meaning is pinned by hand-computed tests
                return True
        return False

    def matches(self, rule: SecurityRule, proto: int, src: int, sport: int, dst: int, dport: int) -> bool:
        name = PROTOCOL_NUMBERS[proto]
        if rule.protocol != "*" and rule.protocol != name:
            return False
        # A rule restricts ports unless an entry is `*` (no entry in the pool covers 0-65535 otherwise).
        if "*" not in rule.source_ports or "*" not in rule.destination_ports:
            if name not in PORTED:
                return False
            if not (ref_ports(rule.source_ports, sport) and ref_ports(rule.destination_ports, dport)):
                return False
        return self.address_in(rule.sources, src) and self.address_in(rule.destinations, dst)

    def first(self, direction: str, point: tuple[int, int, int, int, int]) -> str | None:
        for rule in self.nsg.rules_for(direction):
            if self.matches(rule, *point):
                return rule.name
        return None


def boundaries(sets: Iterable[IntSet]) -> set[int]:
    out = {0, V6_OFFSET}
    for s in sets:
        for lo, hi in s:
            out.add(lo)
            if hi + 1 <= V6_MAX:
                out.add(hi + 1)
    return out


def class_points(nsg: Nsg) -> tuple[list[int], list[int], list[int], list[int]]:
    """One address per (family, membership of every address entry) class; port class starts."""
    resolver = Resolver(DATA, VNET)
    words = sorted(
        {
            e
            for r in nsg.rules_for("Outbound") + nsg.rules_for("Inbound")
            for e in (*r.sources, *r.destinations)
        }
    )
    sets = [resolver.entry(w) for w in words] + [resolver.vnet]
    reps: dict[tuple[bool, tuple[bool, ...]], int] = {}
    for candidate in sorted(boundaries(sets)):
        key = (candidate >= V6_OFFSET, tuple(candidate in s for s in sets))
        reps.setdefault(key, candidate)
    v4 = [a for (v6, _), a in reps.items() if not v6]
    v6 = [a for (is6, _), a in reps.items() if is6]
    ports = sorted(
        {0, *(b for e in PORTS if e != "*" for b in (port_set(e).spans[0][0], port_set(e).spans[0][1] + 1))}
        - {65536}
    )
    return v4, v6, ports, [0, 1, 3]


def points(nsg: Nsg) -> Iterable[tuple[int, int, int, int, int]]:
    v4, v6, dports, sports = class_points(nsg)
    for family in (v4, v6):
        for src in family:
            for dst in family:
                for proto in PROTOCOL_NUMBERS:
                    ported = PROTOCOL_NUMBERS[proto] in PORTED
                    for sport in sports if ported else [0]:
                        for dport in dports if ported else [0]:
                            yield proto, src, sport, dst, dport


def part_sets(part: object) -> tuple[IntSet, IntSet, IntSet, IntSet, IntSet]:
    def addrs(texts: Iterable[str]) -> IntSet:
        return IntSet(span for t in texts for span in address_set(t).spans)

    def ports(texts: Iterable[str]) -> IntSet:
        return IntSet(span for t in texts for span in port_set(t).spans)

    return (
        IntSet(part.protocol_numbers),  # type: ignore[attr-defined]
        addrs(part.sources),  # type: ignore[attr-defined]
        ports(part.source_ports),  # type: ignore[attr-defined]
        addrs(part.destinations),  # type: ignore[attr-defined]
        ports(part.destination_ports),  # type: ignore[attr-defined]
    )


def text(addr: int) -> str:
    return (
        str(ipaddress.IPv6Address(addr - V6_OFFSET))
        if addr >= V6_OFFSET
        else str(ipaddress.IPv4Address(addr))
    )


# ------------------------------------------------------------------------------------------ properties


@given(rules())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_partition_matches_brute_force(custom: list[SecurityRule]) -> None:
    nsg = Nsg(name="p", rules=custom)
    ref = Reference(nsg)
    everything = {
        d: [(p.rule_name, part_sets(p)) for p in evaluate_space(
            nsg, Query(destinations=("*",), sources=("*",), protocol="*", direction=d), DATA, vnet=VNET
        ).parts]
        for d in ("Outbound", "Inbound")
    }  # fmt: skip
    first_matched: set[str] = set()
    for point in points(nsg):
        for direction, parts in everything.items():
            expected = ref.first(direction, point)
            holders = [name for name, sets in parts if all(v in s for v, s in zip(point, sets, strict=True))]
            # Ports are irrelevant for portless protocols: the engine's part may hold any port value for them.
            assert holders == [expected], (direction, point, holders, expected)
            if expected is not None:
                first_matched.add(f"{direction}:{expected}")
    # Shadowing: a custom rule never first-matches a flow of a complete class set exactly when lint says so.
    report = lint(nsg, DATA, vnet=VNET)
    never = {
        f.rule
        for f in report.findings
        if f.code in ("shadowed", "allow-below-deny") and "never matches" in f.message
    }
    for rule in custom:
        assert (rule.name in never) == (f"{rule.direction}:{rule.name}" not in first_matched), rule


@given(rules(), st.data())
@settings(max_examples=40, deadline=None)
def test_single_flow_verdicts_match_brute_force(custom: list[SecurityRule], data: st.DataObject) -> None:
    nsg = Nsg(name="p", rules=custom)
    ref = Reference(nsg)
    all_points = list(points(nsg))
    for point in data.draw(st.lists(st.sampled_from(all_points), min_size=1, max_size=15)):
        proto, src, sport, dst, dport = point
        name = PROTOCOL_NUMBERS[proto]
        if name == "Gre":
            continue  # not nameable in a Flow
        ported = name in PORTED
        direction = data.draw(st.sampled_from(["Outbound", "Inbound"]))
        flow = Flow(
            text(src),
            text(dst),
            dport if ported else None,
            protocol=name,
            direction=direction,
            source_port=sport if ported else None,
        )
        assert evaluate(nsg, flow, DATA, vnet=VNET).rule_name == ref.first(direction, point)
