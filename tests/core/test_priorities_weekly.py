"""Priorities across renderings (issue 15.1): a rule that survives keeps its priority, a new rule never takes one
the earlier rendering held, and a window too small for both says so."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egress.core.spec import EgressSpec
from egress.errors import RuleError
from egress.places.nsg.planner import _assign_priorities, build_rules
from egress.places.nsg.rules import PlannedRule
from tests.conftest import SHARED_DATA
from tests.places.nsg import nsg_cases

# Chunk names as the planner makes them: one per tag, family and /8 or /16 block.
CHUNKS = [f"egress-storage-uksouth-v4-{b:03d}" for b in range(0, 256, 3)] + [
    f"egress-azurebackup-v6-{b:04x}" for b in (0x2602, 0x2603, 0x2620, 0x2A01, 0x2404)
]


def _rules(names: list[str]) -> list[PlannedRule]:
    return [
        PlannedRule(
            name=n, direction="Outbound", access="Allow", protocol="Tcp", source=("*",), destination=("x",)
        )
        for n in names
    ]


def _render(spec: EgressSpec, names: list[str], earlier: dict[str, tuple[str, int]]) -> dict[str, int]:
    return {r.name: r.priority for r in _assign_priorities(spec, _rules(names), {}, {}, earlier)}


@settings(max_examples=300, deadline=None)
@given(
    old=st.lists(st.sampled_from(CHUNKS), unique=True, max_size=60),
    new=st.lists(st.sampled_from(CHUNKS), unique=True, max_size=60),
    third=st.lists(st.sampled_from(CHUNKS), unique=True, max_size=60),
    start=st.sampled_from([100, 200, 1000, 4030, 4050]),
)
def test_survivors_keep_and_new_rules_avoid_the_earlier_priorities(
    old: list[str], new: list[str], third: list[str], start: int
) -> None:
    spec = EgressSpec(option="ip-ranges", priority_start=start)
    window = spec.deny_priority - start
    if len(old) > window:
        with pytest.raises(RuleError, match="do not fit"):
            _render(spec, old, {})
        return
    week1 = _render(spec, old, {})
    held1 = {name: ("Outbound", p) for name, p in week1.items()}
    needed = len(set(new) | set(old))  # the new rules plus the dropped ones, still in the NSG
    if needed > window:
        # Only dropped rules hold priorities; with none dropped (say no earlier rules) the new ones alone overflow.
        dropped = set(old) - set(new)
        why = "held by rules of the earlier rendering that this one drops" if dropped else "do not fit"
        with pytest.raises(RuleError, match=why):
            _render(spec, new, held1)
        return
    week2 = _render(spec, new, held1)
    assert len(set(week2.values())) == len(week2)
    for name, priority in week2.items():
        assert start <= priority < spec.deny_priority
        if name in week1:
            assert priority == week1[name], name
        else:
            assert priority not in week1.values(), name
    # A third rendering against the second, which carries what the first left behind (the scripts' record).
    held2 = {
        **{n: v for n, v in held1.items() if n not in week2},
        **{n: ("Outbound", p) for n, p in week2.items()},
    }
    if len(set(third) | set(held2)) > window:
        with pytest.raises(RuleError, match="do not fit"):
            _render(spec, third, held2)
        return
    week3 = _render(spec, third, held2)
    for name, priority in week3.items():
        if name in held2:
            assert priority == held2[name][1], name
        else:
            assert priority not in {p for _, p in held2.values()}, name


def test_the_guides_proxy_exception_stays_at_200_and_the_deny_at_4096() -> None:
    spec = EgressSpec(option="proxy", proxy_ip="10.0.0.5")
    earlier = {
        "egress-allow-proxy": ("Outbound", 200),
        "egress-old": ("Outbound", 201),
        "egress-x": ("Inbound", 200),
    }
    rules = build_rules(
        spec, nsg_cases.week(str(SHARED_DATA / "servicetags" / nsg_cases.DATA_NAME)), earlier=earlier
    )
    assert rules.left == (("egress-old", "Outbound", 201), ("egress-x", "Inbound", 200))
    rules = rules.rules
    by_name = {r.name: r.priority for r in rules}
    assert by_name["egress-allow-proxy"] == 200
    assert by_name["egress-deny-internet"] == 4096
    assert by_name["egress-allow-to-proxy"] == 202  # 201 is held by a rule the earlier rendering had


def test_a_rule_moved_to_the_other_direction_is_new_there() -> None:
    spec = EgressSpec(option="ip-ranges")
    got = _render(
        spec, ["egress-a", "egress-b"], {"egress-a": ("Inbound", 200), "egress-c": ("Outbound", 201)}
    )
    assert got == {"egress-a": 200, "egress-b": 202}
