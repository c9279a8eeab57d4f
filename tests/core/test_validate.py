from __future__ import annotations

import pytest

from egress.core.validate import ensure_valid, rule_violations
from egress.errors import RuleError


def rule(name: str = "r1", **props: object) -> dict:
    base = {
        "access": "Allow",
        "direction": "Outbound",
        "priority": 200,
        "protocol": "Tcp",
        "sourceAddressPrefix": "VirtualNetwork",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "Storage",
        "destinationPortRange": "443",
    }
    base.update(props)
    return {"name": name, "properties": {k: v for k, v in base.items() if v is not None}}


def test_a_good_rule_has_no_violations() -> None:
    assert rule_violations([rule()]) == []


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (rule(name="-bad"), "name must be"),
        (rule(name="x" * 81), "name must be"),
        (rule(name="ends-with-dot."), "name must be"),
        (rule(priority=99), "outside 100-4096"),
        (rule(priority=4097), "outside 100-4096"),
        (rule(protocol="TCP"), "protocol 'TCP'"),
        (rule(access="Permit"), "access 'Permit'"),
        (rule(direction="Out"), "direction 'Out'"),
        (rule(description="d" * 141), "over 140"),
        (
            rule(destinationAddressPrefix=None, destinationAddressPrefixes=["Storage", "10.0.0.0/8"]),
            "SecurityRuleParameterContainsUnsupportedValue",
        ),
        (
            rule(destinationAddressPrefix=None, destinationAddressPrefixes=["10.0.0.0/8", "2603::/16"]),
            "ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies",
        ),
        (rule(destinationAddressPrefix="10.0.0.0/33"), "not a valid address"),
        (rule(destinationPortRange="443-80"), "not `*`, a port or a range"),
        (rule(destinationPortRange="70000"), "not `*`, a port or a range"),
        (rule(destinationAddressPrefix=None), "destination address is empty"),
    ],
)
def test_each_shape_rule(bad: dict, needle: str) -> None:
    problems = rule_violations([bad])
    assert any(needle in p for p in problems), problems


def test_priority_conflict_and_duplicate_names_reported_together() -> None:
    problems = rule_violations([rule("a"), rule("b"), rule("A", priority=300)])
    assert any("SecurityRuleConflict" in p and "'a'" in p for p in problems)
    assert any("name used twice" in p for p in problems)
    # Same priority in the other direction is fine.
    assert rule_violations([rule("a"), rule("b", direction="Inbound")]) == []


def test_nsg_wide_limits() -> None:
    many = [
        rule(
            f"r{i}",
            priority=100 + i,
            destinationAddressPrefix=None,
            destinationAddressPrefixes=[f"10.{i // 256}.{i % 256}.{j}/32" for j in range(5)],
        )
        for i in range(801)
    ]
    problems = rule_violations(many)
    assert any("4005 destination addresses/prefixes exceed Azure's 4000" in p for p in problems)


def test_ensure_valid_reports_all_at_once() -> None:
    with pytest.raises(RuleError, match=r"break 2 Azure rule\(s\)") as info:
        ensure_valid([rule(priority=50, protocol="x")])
    assert "\n" not in str(info.value)
