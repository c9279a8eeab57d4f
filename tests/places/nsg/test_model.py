"""The NSG document model: both input shapes, ARM output, round trips, default rules, malformed input."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from egress.errors import TargetError
from egress.places.nsg.model import DEFAULT_RULES, Nsg, SecurityRule, parse_nsg_document, to_arm_document
from tests.conftest import REFERENCE

SPEC = REFERENCE / "azure-rest-spec-2026-01-01" / "examples"


def spec_example(name: str) -> dict[str, Any]:
    path = SPEC / name
    return json.loads(path.read_text(encoding="utf-8"))


def az_document() -> dict[str, Any]:
    return json.loads(
        (REFERENCE.parents[2] / "core" / "data" / "az_nsg_show.json").read_text(encoding="utf-8")
    )


def rule_doc(**props: Any) -> dict[str, Any]:
    base = {
        "priority": 100,
        "direction": "Outbound",
        "access": "Allow",
        "protocol": "Tcp",
        "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*",
        "sourcePortRange": "*",
        "destinationPortRange": "443",
    }
    base.update(props)
    return {"name": "r1", "properties": {k: v for k, v in base.items() if v is not ...}}


def order(rule: SecurityRule) -> tuple[str, int]:
    return (rule.direction, rule.priority)


# ------------------------------------------------------------------------------------------ spec examples


def test_spec_get_example_parses_custom_and_default_rules() -> None:
    body = spec_example("NetworkSecurityGroupGet.json")["responses"]["200"]["body"]
    nsg = parse_nsg_document(body)
    assert (nsg.name, nsg.location) == ("testnsg", "westus")
    assert nsg.id is not None and nsg.id.endswith("/networkSecurityGroups/testnsg")
    assert nsg.rules == [
        SecurityRule(
            name="rule1",
            priority=130,
            direction="Inbound",
            access="Allow",
            protocol="*",
            source_address_prefix="*",
            destination_address_prefix="*",
            source_port_range="*",
            destination_port_range="80",
        )
    ]
    # The API's six default rules are exactly ours (names, priorities, prefixes, descriptions).
    assert sorted(nsg.default_rules, key=lambda r: (r.direction, r.priority)) == sorted(
        DEFAULT_RULES, key=lambda r: (r.direction, r.priority)
    )


def test_default_rules_match_every_spec_example_that_lists_them() -> None:
    seen = 0
    for name in ("NetworkSecurityGroupGet.json", "NetworkSecurityGroupCreateWithRule.json"):
        for response in spec_example(name)["responses"].values():
            nsg = parse_nsg_document(response["body"])
            assert set(nsg.default_rules) == set(DEFAULT_RULES)
            seen += 1
    body = spec_example("NetworkSecurityGroupList.json")["responses"]["200"]["body"]["value"][0]
    assert set(parse_nsg_document(body).default_rules) == set(DEFAULT_RULES)
    assert seen == 3


def test_put_body_without_default_rules_gets_azures_six() -> None:
    params = spec_example("NetworkSecurityGroupCreateWithRule.json")["parameters"]["parameters"]
    nsg = parse_nsg_document(params)
    assert nsg.name == "" and nsg.location == "eastus"
    assert [r.name for r in nsg.rules] == ["rule1"]
    assert nsg.default_rules == list(DEFAULT_RULES)
    assert "defaultSecurityRules" not in to_arm_document(nsg)["properties"]


def test_rule_examples_parse_through_from_arm() -> None:
    created = spec_example("NetworkSecurityGroupRuleCreate.json")["parameters"]["securityRuleParameters"]
    rule = SecurityRule.from_arm({"name": "rule1", **created})
    assert (rule.direction, rule.access, rule.priority) == ("Outbound", "Deny", 100)
    assert (rule.source_address_prefix, rule.destination_address_prefix) == ("10.0.0.0/8", "11.0.0.0/8")
    got = spec_example("NetworkSecurityGroupRuleGet.json")["responses"]["200"]["body"]
    parsed = SecurityRule.from_arm(got)
    # Read-only state and resource ids are dropped, so a live rule equals the same rule built locally.
    assert parsed.extra == {}
    assert parsed.to_arm() == {
        "name": "rule1",
        "properties": {
            "access": "Allow",
            "destinationAddressPrefix": "*",
            "destinationPortRange": "80",
            "direction": "Inbound",
            "priority": 130,
            "protocol": "*",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
        },
    }


def test_list_response_is_refused_with_advice() -> None:
    body = spec_example("NetworkSecurityGroupList.json")["responses"]["200"]["body"]
    with pytest.raises(TargetError, match="list of NSGs"):
        parse_nsg_document(body)


def test_arm_round_trip_keeps_unknown_properties() -> None:
    body = copy.deepcopy(spec_example("NetworkSecurityGroupGet.json")["responses"]["200"]["body"])
    body["tags"] = {"env": "prod"}
    body["properties"]["flushConnection"] = True
    body["properties"]["someFutureSetting"] = {"x": 1}
    body["properties"]["securityRules"][0]["properties"]["sourceApplicationSecurityGroups"] = [
        {"id": "/asg/a"}
    ]
    nsg = parse_nsg_document(body)
    out = to_arm_document(nsg)
    assert out["type"] == "Microsoft.Network/networkSecurityGroups"
    assert out["tags"] == {"env": "prod"}
    assert out["properties"]["flushConnection"] is True
    assert out["properties"]["someFutureSetting"] == {"x": 1}
    rule = out["properties"]["securityRules"][0]
    assert rule["properties"]["sourceApplicationSecurityGroups"] == [{"id": "/asg/a"}]
    assert "provisioningState" not in rule["properties"]
    again = parse_nsg_document(out)
    assert again.rules == nsg.rules and again.default_rules == nsg.default_rules
    assert to_arm_document(again) == out  # stable


# ------------------------------------------------------------------------------------------ az shape


def test_az_shape_parses_like_arm() -> None:
    nsg = parse_nsg_document(az_document())
    assert (nsg.name, nsg.location) == ("vm-nsg", "eastus")
    assert nsg.etag == 'W/"6a1d2b1e-0000-4000-8000-000000000001"'
    by_name = {r.name: r for r in nsg.rules}
    assert set(by_name) == {
        "DenyInternetOutbound",
        "AllowAzureBackup",
        "AllowStoragePrefixes",
        "AllowSshToWeb",
    }
    prefixes = by_name["AllowStoragePrefixes"]
    assert prefixes.source_address_prefix is None  # absent singular stays None, plural kept apart
    assert prefixes.source_address_prefixes == ("10.0.1.0/24", "10.0.2.0/24")
    assert prefixes.destination_port_ranges == ("443", "8443-8444")
    assert prefixes.destination_port_range is None
    assert prefixes.description is None
    assert by_name["AllowAzureBackup"].description == "Azure Backup to its regional endpoints"
    ssh = by_name["AllowSshToWeb"]
    assert ssh.uses_asgs and ssh.destinations == ()
    assert ssh.extra["destinationApplicationSecurityGroups"][0]["id"].endswith("/web-asg")
    assert "sourceApplicationSecurityGroups" not in ssh.extra  # null means absent
    assert set(nsg.default_rules) == set(DEFAULT_RULES)


def test_az_shape_writes_arm_and_round_trips() -> None:
    nsg = parse_nsg_document(az_document())
    out = to_arm_document(nsg)
    assert set(out) == {"etag", "id", "location", "name", "properties", "tags", "type"}
    props = out["properties"]
    assert "resourceGroup" not in props and "networkInterfaces" not in props  # az-only key, null dropped
    assert props["flushConnection"] is False and props["resourceGuid"].startswith("3f1c7a52")
    names = [(r["properties"]["direction"], r["properties"]["priority"]) for r in props["securityRules"]]
    assert names == [("Inbound", 300), ("Outbound", 200), ("Outbound", 210), ("Outbound", 4000)]
    storage = next(r for r in props["securityRules"] if r["name"] == "AllowStoragePrefixes")
    assert storage == {
        "name": "AllowStoragePrefixes",
        "properties": {
            "access": "Allow",
            "destinationAddressPrefixes": ["20.38.98.0/24", "20.60.128.0/23"],
            "destinationPortRanges": ["443", "8443-8444"],
            "direction": "Outbound",
            "priority": 210,
            "protocol": "Tcp",
            "sourceAddressPrefixes": ["10.0.1.0/24", "10.0.2.0/24"],
            "sourcePortRange": "*",
        },
    }
    assert list(storage["properties"]) == sorted(storage["properties"])
    again = parse_nsg_document(json.loads(json.dumps(out)))
    assert sorted(again.rules, key=order) == sorted(nsg.rules, key=order)
    assert sorted(again.default_rules, key=order) == sorted(nsg.default_rules, key=order)
    assert (again.name, again.id, again.etag, again.location) == (nsg.name, nsg.id, nsg.etag, nsg.location)


def test_put_body_drops_read_only_fields() -> None:
    out = to_arm_document(parse_nsg_document(az_document()), include_read_only=False)
    assert "etag" not in out
    for key in ("provisioningState", "resourceGuid", "defaultSecurityRules", "subnets"):
        assert key not in out["properties"]
    assert len(out["properties"]["securityRules"]) == 4


def test_model_edits_are_written() -> None:
    nsg = parse_nsg_document(az_document())
    nsg.rules = [r for r in nsg.rules if r.name != "AllowSshToWeb"]
    nsg.rules.append(
        SecurityRule(
            "AllowAad", 150, "Outbound", "Allow", "Tcp", "VirtualNetwork", (), "AzureActiveDirectory",
            (), "*", (), "443",
        )
    )  # fmt: skip
    names = [r["name"] for r in to_arm_document(nsg)["properties"]["securityRules"]]
    assert names == ["AllowAad", "AllowAzureBackup", "AllowStoragePrefixes", "DenyInternetOutbound"]


def test_rules_for_orders_custom_then_default() -> None:
    nsg = parse_nsg_document(az_document())
    order = [(r.name, r.priority) for r in nsg.rules_for("Outbound")]
    assert order == [
        ("AllowAzureBackup", 200),
        ("AllowStoragePrefixes", 210),
        ("DenyInternetOutbound", 4000),
        ("AllowVnetOutBound", 65000),
        ("AllowInternetOutBound", 65001),
        ("DenyAllOutBound", 65500),
    ]


def test_values_are_canonicalised() -> None:
    rule = SecurityRule.from_arm(rule_doc(direction="outbound", access="allow", protocol="TCP", priority=120))
    assert (rule.direction, rule.access, rule.protocol, rule.priority) == ("Outbound", "Allow", "Tcp", 120)
    assert SecurityRule.from_arm(rule_doc(protocol="Any")).protocol == "*"


def test_security_rule_is_hashable_and_comparable() -> None:
    a = SecurityRule.from_arm(rule_doc())
    b = SecurityRule.from_arm(rule_doc())
    assert a == b and hash(a) == hash(b)
    assert a != SecurityRule.from_arm(rule_doc(destinationPortRange="80"))


def test_nsg_defaults_are_azures() -> None:
    assert Nsg(name="x").default_rules == list(DEFAULT_RULES)
    assert [(r.name, r.priority) for r in DEFAULT_RULES if r.direction == "Inbound"] == [
        ("AllowVnetInBound", 65000),
        ("AllowAzureLoadBalancerInBound", 65001),
        ("DenyAllInBound", 65500),
    ]
    assert [(r.destination_address_prefix, r.access) for r in DEFAULT_RULES if r.direction == "Outbound"] == [
        ("VirtualNetwork", "Allow"),
        ("Internet", "Allow"),
        ("*", "Deny"),
    ]


# ------------------------------------------------------------------------------------------ malformed


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([], "expected a JSON object"),
        ({"name": "x"}, "not an NSG document"),
        ({"properties": []}, "'properties' must be an object"),
        ({"properties": {"securityRules": {}}}, "'securityRules' must be a list"),
        ({"properties": {"securityRules": ["x"]}}, r"securityRules\[0\]: expected a JSON object"),
        ({"properties": {"securityRules": [{"properties": {}}]}}, r"securityRules\[0\]: has no name"),
        ({"security_rules": []}, "as_dict"),
        ({"properties": {"securityRules": [rule_doc(priority="high")]}}, "rule 'r1': priority must be an integer"),
        ({"properties": {"securityRules": [rule_doc(priority=True)]}}, "rule 'r1': priority must be an integer"),
        # Azure's REST API takes a number; apply's validator refuses a string, so reading one must too.
        ({"properties": {"securityRules": [rule_doc(priority="120")]}}, "rule 'r1': .* got the string '120'"),
        ({"properties": {"securityRules": [rule_doc(direction="Sideways")]}}, "direction must be Inbound or Outbound"),
        ({"properties": {"securityRules": [rule_doc(access=...)]}}, "access must be Allow or Deny, got nothing"),
        ({"properties": {"securityRules": [rule_doc(protocol="Gre")]}}, "rule 'r1': protocol 'Gre'"),
        ({"properties": {"securityRules": [rule_doc(destinationPortRange="70000")]}}, "destination port '70000'"),
        ({"properties": {"securityRules": [rule_doc(destinationPortRange="443-80")]}}, "start is above its end"),
        ({"properties": {"securityRules": [rule_doc(sourcePortRange=...)]}}, "neither sourcePortRange"),
        ({"properties": {"securityRules": [rule_doc(destinationAddressPrefix=...)]}}, "no destinationAddressPrefix"),
        ({"properties": {"securityRules": [rule_doc(destinationAddressPrefix="10.0.0.300")]}}, "rule 'r1': destination address"),
        ({"properties": {"securityRules": [rule_doc(sourceAddressPrefix="a b")]}}, "neither an IP/CIDR prefix"),
        ({"properties": {"securityRules": [rule_doc(sourceAddressPrefixes="10.0.0.0/8")]}}, "must be a list of non-empty strings"),
        ({"properties": {"securityRules": [rule_doc(destinationAddressPrefix=7)]}}, "destinationAddressPrefix must be a string"),
        ({"properties": {"securityRules": [rule_doc(description=5)]}}, "description must be a string"),
        ({"properties": {"securityRules": [{"name": "r", "properties": "x"}]}}, "'properties' must be an object"),
    ],
)  # fmt: skip
def test_malformed_documents_give_one_line_errors(doc: Any, expected: str) -> None:
    with pytest.raises(TargetError, match=expected) as info:
        parse_nsg_document(doc, source="nsg.json")
    message = str(info.value)
    assert "\n" not in message and message.startswith("nsg.json")
