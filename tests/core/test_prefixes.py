"""Properties of egress.core.prefixes, checked against brute-force address sets, netaddr and ipaddress."""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import Iterable

import netaddr
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from egress.core.prefixes import (
    BudgetResult,
    Prefix,
    address_count,
    aggregate,
    budget_aggregate,
    contains,
    family_split,
    format_address,
    format_prefix,
    parse_address,
    parse_prefix,
    parse_tag_prefixes,
    prefix_size,
    subtract,
)
from egress.errors import DataError, EgressError, RuleError
from tests.conftest import SHARED_DATA

BITS = {4: 32, 6: 128}
V4_BASE = int(ipaddress.IPv4Address("10.20.16.0"))  # a /20
V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))


# ------------------------------------------------------------------------------------------ helpers


def addresses(prefixes: Iterable[Prefix]) -> set[tuple[int, int]]:
    """Brute force: every (version, address) in the union."""
    out: set[tuple[int, int]] = set()
    for v, n, length in prefixes:
        out.update((v, a) for a in range(n, n + (1 << (BITS[v] - length))))
    return out


def netaddr_merge(prefixes: Iterable[Prefix]) -> list[Prefix]:
    nets = [netaddr.IPNetwork(f"{netaddr.IPAddress(n, v)}/{length}") for v, n, length in prefixes]
    return [(m.version, m.first, m.prefixlen) for m in netaddr.cidr_merge(nets)]


def small_prefix(
    version: int, base: int, space_bits: int, min_len: int, max_len: int | None = None
) -> st.SearchStrategy[Prefix]:
    """Prefixes of length min_len..max_len inside the block base/(BITS - space_bits)."""
    bits = BITS[version]

    def build(offset: int, length: int) -> Prefix:
        host = bits - length
        return (version, (base + offset) >> host << host, length)

    return st.builds(build, st.integers(0, (1 << space_bits) - 1), st.integers(min_len, max_len or bits))


# Sparse (a /20 of /24../32s) and dense (a /22 of /22../30s: overlaps and neighbours are common).
v4_small = st.one_of(small_prefix(4, V4_BASE, 12, 24), small_prefix(4, V4_BASE, 10, 22, 30))
v6_small = small_prefix(6, V6_BASE, 12, 120)
mixed_small = st.lists(st.one_of(v4_small, v6_small), max_size=12)


def is_canonical(p: Prefix) -> bool:
    v, n, length = p
    return v in BITS and 0 <= length <= BITS[v] and n % (1 << (BITS[v] - length)) == 0


# ------------------------------------------------------------------------------------------ parse / format


GARBAGE = [
    "300.1.1.1/24",
    "1.2.3.4/33",
    "",
    "   ",
    "abc",
    "1.2.3.4/-1",
    "1.2.3.4/+8",
    "1.2.3.4/",
    "/24",
    "1.2.3/24",
    "1.2.3.4.5",
    "1.2.3.04",
    "1.2.3.4/8/8",
    "1.2.3.4/ 8",
    "1.2.3.4/1_0",
    "1.2.3.4/٣",  # a non-ASCII digit
    "١.2.3.4",
    "::1/129",
    "1:::2",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "12345::",
    "fe80::1%eth0",
    "g::1",
    "0x1::",
    "::ffff:1.2.3.400",
    "1.2.3.4/255.255.255.0",
]


@pytest.mark.parametrize("text", GARBAGE)
def test_parse_prefix_rejects_garbage_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid IP prefix .*: \S"):
        parse_prefix(text)


@pytest.mark.parametrize(
    "text", ["1.2.3.4/24", "2001:db8::/32", "", "1.2.3", "1.2.3.4%x", "a.b.c.d", "fe80::1%eth0"]
)
def test_parse_address_rejects_cidr_and_garbage(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid IP address"):
        parse_address(text)


def test_parse_examples() -> None:
    assert parse_prefix("10.1.2.3/8") == (4, 10 << 24, 8)  # host bits masked
    assert parse_prefix(" 192.0.2.1 ") == (4, int(ipaddress.IPv4Address("192.0.2.1")), 32)
    assert parse_prefix("2001:DB8::1/32") == (6, int(ipaddress.IPv6Address("2001:db8::")), 32)
    assert parse_prefix("::ffff:1.2.3.4") == (6, int(ipaddress.IPv6Address("::ffff:1.2.3.4")), 128)
    assert parse_prefix("0.0.0.0/0") == (4, 0, 0)
    assert parse_prefix("1.2.3.4/024") == (4, int(ipaddress.IPv4Address("1.2.3.0")), 24)
    assert parse_address("fe80::1") == (6, int(ipaddress.IPv6Address("fe80::1")))
    assert parse_address("255.255.255.255") == (4, 2**32 - 1)


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_v4_round_trip_and_matches_ipaddress(n: int, length: int) -> None:
    net = ipaddress.IPv4Network((n, length), strict=False)
    p = parse_prefix(f"{ipaddress.IPv4Address(n)}/{length}")
    assert p == (4, int(net.network_address), length)
    assert format_prefix(p) == str(net)
    assert parse_prefix(format_prefix(p)) == p


# Zero-heavy groups exercise "::" placement (longest run, leftmost on ties, never a single group).
v6_ints = st.one_of(
    st.integers(0, 2**128 - 1),
    st.lists(st.sampled_from([0, 0, 0, 1, 0xABC, 0xFFFF]), min_size=8, max_size=8).map(
        lambda gs: int("".join(f"{g:04x}" for g in gs), 16)
    ),
)


@given(v6_ints, st.integers(0, 128))
def test_v6_round_trip_and_matches_ipaddress(n: int, length: int) -> None:
    net = ipaddress.IPv6Network((n, length), strict=False)
    p = parse_prefix(f"{ipaddress.IPv6Address(n).exploded}/{length}")
    assert p == (6, int(net.network_address), length)
    text = format_prefix(p)
    if not net.network_address.ipv4_mapped:  # newer Pythons write those dotted; we stay in hex
        assert text == str(net)
    assert parse_prefix(text) == p
    assert parse_prefix(text.upper()) == p
    assert parse_address(format_address(6, n)) == (6, n)


_octet = st.sampled_from(["0", "1", "9", "10", "01", "99", "100", "255", "256", "300", "0255", "", "1a", "٣"])
_suffix = st.sampled_from(
    ["", "/0", "/8", "/24", "/024", "/32", "/33", "/-1", "/", "/ 8", "/255.255.0.0", "/1_0"]
)
near_v4 = st.builds(
    lambda parts, suffix: ".".join(parts) + suffix, st.lists(_octet, min_size=3, max_size=5), _suffix
)
_group = st.sampled_from(["0", "1", "ab", "FFFF", "0db8", "12345", "g", ""])
near_v6 = st.builds(
    lambda groups, suffix: ":".join(groups) + suffix, st.lists(_group, min_size=2, max_size=9), _suffix
)


@given(st.one_of(st.text(alphabet="0123456789abcdefABCDEF.:/%x- ", max_size=45), near_v4, near_v6))
@example("1.2.3.4/32")
@example("::/0")
@example("1::/64")
def test_parse_prefix_agrees_with_ipaddress(text: str) -> None:
    """Either both accept the text with the same meaning, or parse_prefix raises ValueError."""
    try:
        ref = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        ref = None
    try:
        got = parse_prefix(text)
    except ValueError:
        # ipaddress also takes netmask lengths ("/255.0.0.0") and zone ids; we do not.
        tail = text.strip().partition("/")[2]
        assert ref is None or "%" in text or not (tail.isascii() and tail.isdigit())
        return
    assert ref is not None
    assert got == (ref.version, int(ref.network_address), ref.prefixlen)


# ------------------------------------------------------------------------------------------ aggregate & co


@settings(max_examples=200)
@given(st.lists(v4_small, max_size=15))
def test_aggregate_v4_preserves_address_set_and_matches_netaddr(prefixes: list[Prefix]) -> None:
    result = aggregate(prefixes)
    assert addresses(result) == addresses(prefixes)
    assert result == netaddr_merge(prefixes)
    assert result == sorted(result)
    assert all(map(is_canonical, result))
    assert aggregate(result) == result
    assert address_count(prefixes) == len(addresses(prefixes))


@given(mixed_small)
def test_families_are_never_mixed(prefixes: list[Prefix]) -> None:
    # The same integers as IPv4 and IPv6 must stay apart: aliasing would merge 10.20.x with ::a14:x.
    aliased = prefixes + [(6, n, length + 96) for v, n, length in prefixes if v == 4]
    result = aggregate(aliased)
    assert addresses(result) == addresses(aliased)
    assert result == netaddr_merge(aliased)
    v4, v6 = family_split(result)
    assert [p[0] for p in v4] == [4] * len(v4) and [p[0] for p in v6] == [6] * len(v6)
    assert result == v4 + v6


def test_aggregate_edges() -> None:
    assert aggregate([]) == []
    everything = [(4, 0, 1), (4, 2**31, 1), (6, 0, 0), (6, 5, 128)]
    assert aggregate(everything) == [(4, 0, 0), (6, 0, 0)]
    assert aggregate(iter([(4, 0, 32), (4, 1, 32), (4, 2, 32)])) == [(4, 0, 31), (4, 2, 32)]
    assert address_count(everything) == 2**32 + 2**128
    with pytest.raises(ValueError, match="version"):
        aggregate([(5, 0, 0)])


@given(mixed_small, mixed_small)
def test_subtract_is_exact_set_difference(a: list[Prefix], b: list[Prefix]) -> None:
    result = subtract(a, b)
    assert addresses(result) == addresses(a) - addresses(b)
    assert result == aggregate(result)  # minimal and sorted


@given(st.one_of(v4_small, v6_small), st.one_of(v4_small, v6_small))
def test_contains_and_size_match_brute_force(outer: Prefix, inner: Prefix) -> None:
    assert contains(outer, inner) == (addresses([inner]) <= addresses([outer]))
    assert prefix_size(outer) == len(addresses([outer]))


def test_family_split_keeps_order() -> None:
    ps = [(6, 1, 128), (4, 3, 32), (4, 1, 32), (6, 0, 128)]
    assert family_split(ps) == ([(4, 3, 32), (4, 1, 32)], [(6, 1, 128), (6, 0, 128)])


# ------------------------------------------------------------------------------------------ budget


def brute_force_optimum(blocks: list[tuple[list[Prefix], int, int]], budget: int) -> int | None:
    """Fewest extra addresses over every cover of the union by <= budget prefixes (exhaustive search).

    Each family's input lies in one aligned block of 2**space_bits addresses; a cover prefix larger than the
    block can be swapped for the block itself (still a cover, no more addresses), so only prefixes inside the
    block matter. The lowest uncovered address must be in some chosen prefix: branch on each prefix holding
    it (space_bits + 1 of them). Address sets are block-relative bitmasks.
    """
    targets = []
    for prefixes, base, _ in blocks:
        mask = 0
        for v, n, length in prefixes:
            mask |= ((1 << (1 << (BITS[v] - length))) - 1) << (n - base)
        targets.append(mask)
    best: int | None = None

    def search(covers: tuple[int, ...], left: int) -> None:
        nonlocal best
        missing = [t & ~c for t, c in zip(targets, covers, strict=True)]
        fam = next((i for i, m in enumerate(missing) if m), None)
        if fam is None:
            extra = sum(c.bit_count() - t.bit_count() for c, t in zip(covers, targets, strict=True))
            best = extra if best is None else min(best, extra)
            return
        if left == 0:
            return
        low = (missing[fam] & -missing[fam]).bit_length() - 1  # lowest uncovered address
        for host in range(blocks[fam][2] + 1):
            start = low >> host << host
            grown = list(covers)
            grown[fam] |= ((1 << (1 << host)) - 1) << start
            search(tuple(grown), left - 1)

    search(tuple(0 for _ in blocks), budget)
    return best


def check_budget(prefixes: list[Prefix], budget: int, result: BudgetResult) -> None:
    union = addresses(prefixes)
    covered = addresses(result.prefixes)
    assert union <= covered
    assert len(result.prefixes) <= budget
    assert result.extra_addresses == len(covered) - len(union)
    assert result.prefixes == aggregate(result.prefixes)  # sorted, no overlaps, nothing mergeable wasted
    assert result.exact_count == len(aggregate(prefixes))


V4_BLOCK = (int(ipaddress.IPv4Address("192.0.2.32")), 5)  # a /27
V6_BLOCK = (int(ipaddress.IPv6Address("2001:db8::40")), 4)  # a /124


@settings(max_examples=300, deadline=None)
@given(
    st.lists(small_prefix(4, V4_BLOCK[0], V4_BLOCK[1], 27), min_size=1, max_size=12),
    st.integers(1, 5),
)
def test_budget_v4_is_optimal_against_brute_force(prefixes: list[Prefix], budget: int) -> None:
    result = budget_aggregate(prefixes, budget)
    check_budget(prefixes, budget, result)
    assert result.extra_addresses == brute_force_optimum([(prefixes, *V4_BLOCK)], budget)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(small_prefix(4, int(ipaddress.IPv4Address("192.0.2.8")), 3, 29), min_size=1, max_size=6),
    st.lists(small_prefix(6, V6_BLOCK[0], V6_BLOCK[1], 124), min_size=1, max_size=8),
    st.integers(2, 5),
)
def test_budget_shared_between_families_is_optimal(v4: list[Prefix], v6: list[Prefix], budget: int) -> None:
    prefixes = v4 + v6
    result = budget_aggregate(prefixes, budget)
    check_budget(prefixes, budget, result)
    expected = brute_force_optimum(
        [(v4, int(ipaddress.IPv4Address("192.0.2.8")), 3), (v6, *V6_BLOCK)], budget
    )
    assert result.extra_addresses == expected
    assert {p[0] for p in result.prefixes} == {4, 6}


@settings(deadline=None)
@given(st.lists(v4_small, min_size=1, max_size=40), st.integers(1, 12))
def test_budget_larger_inputs_are_valid_and_monotone(prefixes: list[Prefix], budget: int) -> None:
    result = budget_aggregate(prefixes, budget)
    check_budget(prefixes, budget, result)
    if budget > 1:
        assert budget_aggregate(prefixes, budget - 1).extra_addresses >= result.extra_addresses
    if result.exact_count <= budget:
        assert result.prefixes == aggregate(prefixes) and result.extra_addresses == 0


def test_budget_errors_and_trivial_cases() -> None:
    both = [(4, 0, 32), (6, 0, 128)]
    with pytest.raises(ValueError, match="at least 1"):
        budget_aggregate([(4, 0, 32)], 0)
    with pytest.raises(ValueError, match="at least 2"):
        budget_aggregate(both, 1)
    assert budget_aggregate(both, 2) == BudgetResult(both, 0, 2)
    assert budget_aggregate([], 3) == BudgetResult([], 0, 0)
    # Two /32s at both ends of IPv4 into one prefix: only 0.0.0.0/0 covers them.
    assert budget_aggregate([(4, 0, 32), (4, 2**32 - 1, 32)], 1) == BudgetResult(
        [(4, 0, 0)], 2**32 - 2, 2, 2**32 - 2, 0
    )


def test_budget_on_a_maximally_deep_trie() -> None:
    # Each /128 splits off at a different depth: a Patricia trie 128 levels deep.
    deep = [(6, 1 << i, 128) for i in range(128)]
    result = budget_aggregate(deep, 5)
    assert len(result.prefixes) <= 5
    assert subtract(deep, result.prefixes) == []
    assert result.extra_addresses == address_count(result.prefixes) - 128
    # Any prefix holding 1<<127 and another leaf is ::/0, so the top four stay exact and ::/4 takes the rest.
    assert result.extra_addresses == 2**124 - (128 - 4)
    assert result.prefixes == [(6, 0, 4), *[(6, 1 << i, 128) for i in range(124, 128)]]


# ------------------------------------------------------------------------------------------ real data


@pytest.fixture(scope="module")
def public_tags() -> dict[str, list[str]]:
    path = SHARED_DATA / "servicetags" / "ServiceTags_Public_20250127.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {v["name"]: v["properties"]["addressPrefixes"] for v in doc["values"]}


def test_real_file_aggregate_matches_netaddr(public_tags: dict[str, list[str]]) -> None:
    texts = sorted({p for ps in public_tags.values() for p in ps})
    prefixes = [parse_prefix(t) for t in texts]
    assert [format_prefix(p) for p in prefixes] == [str(ipaddress.ip_network(t)) for t in texts]
    random.Random(7).shuffle(prefixes)
    ours = aggregate(prefixes)
    theirs = [(m.version, m.first, m.prefixlen) for m in netaddr.cidr_merge(texts)]
    assert ours == theirs


def truncation_cover_extra(prefixes: list[Prefix], budget: int) -> int:
    """An independent, simple cover: cut every prefix to at most /L for the longest L that fits the budget."""
    union = address_count(prefixes)
    for length in range(32, -1, -1):
        cover = aggregate(
            [(v, n >> (32 - length) << (32 - length), min(ln, length)) for v, n, ln in prefixes]
        )
        if len(cover) <= budget:
            return address_count(cover) - union
    raise AssertionError("0.0.0.0/0 always fits")


def test_real_file_azurecloud_v4_into_1000(public_tags: dict[str, list[str]]) -> None:
    v4 = [parse_prefix(t) for t in public_tags["AzureCloud"] if ":" not in t]
    result = budget_aggregate(v4, 1000)
    assert result.exact_count == len(aggregate(v4)) > 1000
    assert len(result.prefixes) <= 1000
    assert subtract(v4, result.prefixes) == []  # covers every original prefix
    assert result.extra_addresses == address_count(result.prefixes) - address_count(v4) > 0
    assert result.extra_addresses <= truncation_cover_extra(v4, 1000)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(small_prefix(4, int(ipaddress.IPv4Address("192.0.2.8")), 3, 29), min_size=1, max_size=6),
    st.lists(small_prefix(6, V6_BLOCK[0], V6_BLOCK[1], 124), min_size=1, max_size=8),
    st.integers(2, 5),
    st.sampled_from([1, 3, 1 << 64]),
)
def test_weighted_budget_split_is_optimal_and_reports_per_family(
    v4: list[Prefix], v6: list[Prefix], budget: int, weight: int
) -> None:
    result = budget_aggregate(v4 + v6, budget, v4_weight=weight)
    check_budget(v4 + v6, budget, result)
    got4 = [p for p in result.prefixes if p[0] == 4]
    got6 = [p for p in result.prefixes if p[0] == 6]
    assert result.extra_ipv4 == len(addresses(got4)) - len(addresses(v4))
    assert result.extra_ipv6 == len(addresses(got6)) - len(addresses(v6))
    # No split of the budget between the families does better under the same weighting.
    for k4 in range(1, budget):
        alt4 = budget_aggregate(v4, k4)
        alt6 = budget_aggregate(v6, budget - k4)
        assert (
            result.extra_ipv4 * weight + result.extra_ipv6
            <= alt4.extra_addresses * weight + alt6.extra_addresses
        )


@pytest.mark.parametrize("error", [DataError, RuleError])
def test_parse_tag_prefixes_is_the_one_damaged_data_message(error: type[EgressError]) -> None:
    """Shared by the NSG planner, the route table and firewall planners, exports and the shrink guard."""
    from egress.core.model import ServiceTag

    good = ServiceTag("T", prefixes=("10.0.0.1/8", "2603:1030::/40"))
    assert parse_tag_prefixes(good) == [parse_prefix("10.0.0.0/8"), parse_prefix("2603:1030::/40")]
    with pytest.raises(error) as raised:
        parse_tag_prefixes(ServiceTag("T", prefixes=("10.0.0.999/8",)), error)
    assert type(raised.value) is error and str(raised.value).startswith("T: ")
    assert str(raised.value).endswith("; the data file is damaged, fetch it again.") and "\n" not in str(
        raised.value
    )
