"""The stable budget cover: always complete, within the budget and the allowance, and never more churn than a
cover from scratch (Hypothesis over random prefix sets and random existing tables)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from egress.core import prefixes
from egress.core.stable_cover import allowance, stable_budget_cover

W = prefixes.IPV4_ADDRESS_AS_IPV6_SUBNET

# Prefixes packed into 10.0.0.0/16 and 2001:db8::/32 so that sets overlap, touch and merge often.
v4 = st.builds(
    lambda n, length: (4, (0x0A000000 | n) >> (32 - length) << (32 - length), length),
    st.integers(0, 0xFFFF),
    st.integers(16, 32),
)
v6 = st.builds(
    lambda n, length: (6, (0x20010DB8 << 96 | n << 64) >> (128 - length) << (128 - length), length),
    st.integers(0, 0xFFFFFFFF),
    st.integers(32, 64),
)
any_prefix = st.one_of(v4, v4, v6)


def _check(required: list, budget: int, existing: list, limit4: int | None = None) -> None:
    result = stable_budget_cover(required, budget, existing, v4_weight=W, limit_ipv4=limit4)
    chosen = result.prefixes
    assert 0 < len(chosen) <= budget
    assert prefixes.subtract(required, chosen) == []  # every required address is covered
    assert chosen == sorted(set(chosen))
    for a, b in pairwise(chosen):  # sorted and disjoint: no address routed twice
        assert not prefixes.contains(a, b) and not prefixes.contains(b, a)
    exact = prefixes.aggregate(required)
    for version, extra, allowed, optimal in (
        (4, result.extra_ipv4, result.allowed_ipv4, result.optimal.extra_ipv4),
        (6, result.extra_ipv6, result.allowed_ipv6, result.optimal.extra_ipv6),
    ):
        mine = [p for p in chosen if p[0] == version]
        need = [p for p in exact if p[0] == version]
        assert extra == prefixes.address_count(mine) - prefixes.address_count(need)
        assert allowed is not None and optimal <= extra <= allowed
    assert sum(result.changes(existing)) <= sum(result.fresh_changes(existing))
    assert result.kept == frozenset(chosen) & frozenset(existing)


@settings(max_examples=300, deadline=None)
@given(
    required=st.lists(any_prefix, min_size=1, max_size=40),
    existing=st.lists(any_prefix, max_size=30),
    budget=st.integers(2, 25),
)
def test_random_tables_give_a_complete_cover_within_budget_and_allowance(required, existing, budget) -> None:
    _check(required, budget, existing)


@settings(max_examples=200, deadline=None)
@given(
    week1=st.lists(any_prefix, min_size=1, max_size=40),
    added=st.lists(any_prefix, max_size=6),
    removed=st.integers(0, 5),
    budget=st.integers(2, 25),
)
def test_last_weeks_cover_as_the_table(week1, added, removed, budget) -> None:
    table = prefixes.budget_aggregate(week1, budget, v4_weight=W).prefixes
    week2 = week1[removed:] + added or added or week1
    _check(week2, budget, table)
    if not added and not removed:  # nothing changed: nothing to change
        assert stable_budget_cover(week2, budget, table, v4_weight=W).changes(table) == (0, 0)


@settings(max_examples=100, deadline=None)
@given(
    required=st.lists(v4, min_size=1, max_size=30),
    existing=st.lists(v4, max_size=20),
    budget=st.integers(1, 10),
    limit=st.integers(0, 1 << 16),
)
def test_the_extra_limit_caps_what_keeping_may_add(required, existing, budget, limit) -> None:
    result = stable_budget_cover(required, budget, existing, v4_weight=W, limit_ipv4=limit)
    assert result.extra_ipv4 <= max(limit, result.optimal.extra_ipv4)


def test_refined_leaves_keep_two_halves_instead_of_merging_them() -> None:
    # Last week two /24 routes; this week the aggregate is one /23 and the budget has room: nothing changes.
    p = prefixes.parse_prefix
    table = [p("10.0.0.0/24"), p("10.0.1.0/24"), p("10.2.0.0/24")]
    required = [p("10.0.0.0/23"), p("10.2.0.0/24")]
    kept = stable_budget_cover(required, 3, table)
    assert kept.prefixes == table and kept.changes(table) == (0, 0)
    assert kept.optimal.prefixes == required  # from scratch the halves would go
    tight = stable_budget_cover(required, 2, table)  # now the halves must become one route
    assert tight.prefixes == required and tight.changes(table) == (1, 2)


def test_allowance_is_the_optimum_plus_a_quarter_capped_by_the_limit() -> None:
    assert allowance(400, None) == 500
    assert allowance(400, 450) == 450
    assert allowance(400, 10) == 400  # never below what a fresh plan writes anyway
    assert allowance(0, None) == 0
