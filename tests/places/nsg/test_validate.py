from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egress.errors import RuleError
from egress.places.nsg.validate import _prefix_family, ensure_valid, rule_violations


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


def _family_by_ip_network(text: str) -> int | None:
    """The definition _prefix_family is fast about: ipaddress.ip_network's verdict."""
    if text in ("*", "") or not (text[0].isdigit() or ":" in text):
        return None
    try:
        return ipaddress.ip_network(text, strict=False).version
    except ValueError:
        return -1


_octet = st.one_of(
    st.integers(0, 300).map(str), st.sampled_from(["00", "01", "010", "-1", "1a", "", " 1", "٣"])
)
_length = st.one_of(st.integers(0, 140).map(str), st.sampled_from(["", "08", "032", "+8", " 8", "8 ", "1e1"]))
_v4ish = st.builds(
    lambda o, n, sep: ".".join(o) + sep + n,
    st.lists(_octet, min_size=3, max_size=5),
    _length,
    st.sampled_from(["/", "", "//", "/ "]),
)
_v6ish = st.builds(lambda a, n: f"{a}/{n}", st.ip_addresses(v=6).map(str), _length)
_noise = st.text(alphabet="0123456789abcdef:./ \n", max_size=24)


@given(st.one_of(_v4ish, _v6ish, _noise, st.ip_addresses().map(str)))
def test_prefix_family_agrees_with_ip_network(text: str) -> None:
    assert _prefix_family(text) == _family_by_ip_network(text)
