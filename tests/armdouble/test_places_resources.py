"""The double's route tables and rule collection groups, driven with plain HTTPS requests: the shapes of
Microsoft's examples, ETag / If-Match, LRO, busy, and the resource provider's checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.armdouble.firewall_policies import policy_id
from tests.armdouble.route_tables import table_id
from tests.armdouble.server import ArmDouble
from tests.armdouble.test_server import ETAG_RE, SUB, Arm

RT = table_id(SUB, "rg1", "testrt")
POLICY = policy_id(SUB, "rg1", "firewallPolicy")
RCG = f"{POLICY}/ruleCollectionGroups/ruleCollectionGroup1"
EXAMPLES = (
    Path(__file__).resolve().parents[1] / "data" / "microsoft" / "reference" / "azure-rest-spec-2025-05-01"
)


def example(rel: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / rel).read_text())


def route(name: str, prefix: str, hop: str = "Internet", ip: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"addressPrefix": prefix, "nextHopType": hop}
    if ip:
        props["nextHopIpAddress"] = ip
    return {"name": name, "properties": props}


@pytest.fixture
def arm(arm_double: ArmDouble, shared_data: Path) -> Iterator[Arm]:
    arm_double.set_service_tags(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")
    client = Arm(arm_double)
    yield client
    client.session.close()


def keys(value: Any) -> Any:
    """The structure of a document: its keys, recursively (values differ: ids, etags, guids)."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys(v) for v in value[:1]]
    return None


def test_route_table_put_and_get_have_the_examples_shape(arm: Arm) -> None:
    put = example("examples/RouteTableCreateWithRoute.json")
    r = arm("PUT", RT, put["parameters"]["parameters"])
    assert r.status_code == 201 and "Azure-AsyncOperation" in r.headers
    arm.finish(r)
    doc = arm("GET", RT).json()
    expected = put["responses"]["200"]["body"]
    # Microsoft's example plus what a live GET also carries (etags, resourceGuid, the route's type and
    # hasBgpOverride) — never less than the example.
    assert set(keys(expected)) <= set(keys(doc))
    assert set(expected["properties"]) <= set(doc["properties"])
    got_route, want_route = doc["properties"]["routes"][0], expected["properties"]["routes"][0]
    assert set(want_route) <= set(got_route) and set(want_route["properties"]) <= set(got_route["properties"])
    assert got_route["properties"]["nextHopType"] == "VirtualNetworkGateway" and ETAG_RE.match(doc["etag"])
    assert doc["properties"]["disableBgpRoutePropagation"] is True


def test_route_put_through_the_routes_endpoint(arm: Arm) -> None:
    arm.finish(arm("PUT", RT, {"location": "westus", "properties": {"routes": []}}))
    body = example("2026-01-01/examples/RouteTableRouteCreate.json")["parameters"]["routeParameters"]
    r = arm("PUT", f"{RT}/routes/route1", body)
    assert r.status_code == 200 and r.json()["name"] == "route1"
    arm.finish(r)
    got = arm("GET", f"{RT}/routes/route1").json()
    assert got["properties"]["addressPrefix"] == "10.0.3.0/24" and got["id"] == f"{RT}/routes/route1"


def test_stale_if_match_and_busy(arm: Arm) -> None:
    arm.double.route_tables.seed(RT, {"location": "westus"})
    etag = arm("GET", RT).json()["etag"]
    body = {"location": "westus", "properties": {"routes": [route("a", "AzureBackup")]}}
    assert arm("PUT", RT, body, **{"If-Match": 'W/"stale"'}).status_code == 412
    first = arm("PUT", RT, body, **{"If-Match": etag})
    assert first.status_code == 200
    assert arm("PUT", RT, body).json()["error"]["code"] == "AnotherOperationInProgress"
    assert arm.finish(first)["status"] == "Succeeded"


@pytest.mark.parametrize(
    ("routes", "code"),
    [
        ([route("a", "10.0.0.0/8", "VirtualAppliance")], "InvalidNextHopIpAddress"),
        ([route("a", "10.0.0.0/8", "Internet", "10.0.0.4")], "NextHopIpAddressNotAllowed"),
        ([route("a", "10.0.0.0/8", "Router")], "InvalidRequestFormat"),
        ([route("a", "AzureBackup.EastUS")], "InvalidServiceTagForRoute"),  # networkFeatures: null
        ([route("a", "AzureCloud.eastus")], "InvalidServiceTagForRoute"),  # API, NSG only
        ([route("a", "10.0.0.0/8"), route("b", "10.0.0.0/8")], "RouteConflict"),
        ([route("a", "10.0.0.0/8"), route("A", "11.0.0.0/8")], "DuplicateResourceName"),
        ([route(f"r{i}", f"10.{i}.0.0/16") for i in range(401)], "RouteTableExceedsMaxRoutes"),
    ],
)
def test_route_validation(arm: Arm, routes: list[dict[str, Any]], code: str) -> None:
    r = arm("PUT", RT, {"location": "westus", "properties": {"routes": routes}})
    assert r.status_code == 400 and r.json()["error"]["code"] == code
    assert arm.double.route_tables.get(RT) is None


def test_service_tag_route_limit_is_25(arm: Arm, shared_data: Path) -> None:
    data = json.loads((shared_data / "servicetags" / "ServiceTags_Public_20250127.json").read_text())
    udr = [v["name"] for v in data["values"] if "UDR" in (v["properties"].get("networkFeatures") or [])]
    ok = [route(f"r{i}", tag) for i, tag in enumerate(udr[:25])]
    first = arm("PUT", RT, {"location": "westus", "properties": {"routes": ok}})
    assert first.status_code == 201
    arm.finish(first)
    over = [route(f"r{i}", tag) for i, tag in enumerate(udr[:26])]
    r = arm("PUT", RT, {"location": "westus", "properties": {"routes": over}})
    assert r.json()["error"]["code"] == "RouteTableExceedsMaxServiceTagRoutes"


def test_rule_collection_group_has_the_examples_shape(arm: Arm) -> None:
    put = example("2026-01-01/examples/FirewallPolicyRuleCollectionGroupPut.json")
    assert arm("PUT", RCG, put["parameters"]["parameters"]).status_code == 404  # no policy yet
    arm.double.firewall_policies.seed_policy(POLICY)
    r = arm("PUT", RCG, put["parameters"]["parameters"])
    assert r.status_code == 201
    arm.finish(r)
    doc = arm("GET", RCG).json()
    expected = example("2026-01-01/examples/FirewallPolicyRuleCollectionGroupGet.json")["responses"]["200"][
        "body"
    ]
    # The example's keys, plus `type`, which the spec defines (read-only) and the example leaves out.
    assert (
        set(doc) == {*expected, "type"}
        and doc["type"] == "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
    )
    assert keys(doc["properties"]) == keys(expected["properties"])
    assert (
        doc["properties"]["ruleCollections"]
        == put["parameters"]["parameters"]["properties"]["ruleCollections"]
    )
    policy = arm("GET", POLICY).json()
    assert policy["properties"]["ruleCollectionGroups"] == [{"id": RCG}]


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (lambda p: p.__setitem__("priority", 99), "InvalidPriority"),
        (lambda p: p["ruleCollections"].append({**p["ruleCollections"][0], "name": "x"}), "RuleCollectionPriorityNotUnique"),
        (lambda p: p["ruleCollections"][0]["action"].__setitem__("type", "DNAT"), "InvalidRuleCollectionAction"),
        (lambda p: p["ruleCollections"][0]["rules"][0].__setitem__("ipProtocols", ["SCTP"]), "InvalidNetworkRuleProtocol"),
        (lambda p: p["ruleCollections"][0]["rules"][0].__setitem__("destinationAddresses", ["AzureCloud.eastus"]),
         "InvalidServiceTagInNetworkRule"),
        (lambda p: p["ruleCollections"][0]["rules"].append(
            {"ruleType": "ApplicationRule", "name": "app", "protocols": [{"protocolType": "Https", "port": 443}],
             "fqdnTags": ["NotATag"]}), "InvalidFqdnTag"),
        (lambda p: p["ruleCollections"][0]["rules"].append(
            {"ruleType": "ApplicationRule", "name": "app", "protocols": [{"protocolType": "Https", "port": 443}]}),
         "ApplicationRuleTargetRequired"),
    ],
)  # fmt: skip
def test_rule_collection_group_validation(arm: Arm, edit: Any, code: str) -> None:
    arm.double.firewall_policies.seed_policy(POLICY)
    body = json.loads(
        json.dumps(
            example("2026-01-01/examples/FirewallPolicyRuleCollectionGroupPut.json")["parameters"][
                "parameters"
            ]
        )
    )
    edit(body["properties"])
    r = arm("PUT", RCG, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == code


def test_group_priorities_are_unique_in_a_policy(arm: Arm) -> None:
    arm.double.firewall_policies.seed_policy(POLICY)
    arm.double.firewall_policies.seed_group(POLICY, "other", {"priority": 100, "ruleCollections": []})
    body = example("2026-01-01/examples/FirewallPolicyRuleCollectionGroupPut.json")["parameters"][
        "parameters"
    ]
    r = arm("PUT", RCG, body)
    assert r.json()["error"]["code"] == "RuleCollectionGroupPriorityNotUnique"


def test_a_table_seeded_in_the_topology_store_is_read_and_written(arm: Arm) -> None:
    seeded = arm.double.topology.seed(
        {"id": RT, "location": "westus", "properties": {"routes": [route("theirs", "10.1.0.0/16", "None")]}}
    )
    got = arm("GET", RT)
    assert got.status_code == 200 and got.json()["etag"] == seeded["etag"]
    body = {
        "location": "westus",
        "properties": {"routes": [*got.json()["properties"]["routes"], route("a", "AzureBackup")]},
    }
    assert arm("PUT", RT, body, **{"If-Match": 'W/"stale"'}).status_code == 412
    arm.finish(arm("PUT", RT, body, **{"If-Match": seeded["etag"]}))
    after = arm("GET", RT).json()
    assert [r["name"] for r in after["properties"]["routes"]] == ["theirs", "a"]
    assert arm.double.topology.get(RT) is None  # written here from now on, listed once
    assert [d["id"] for d in arm.double.all_resources() if d["id"] == RT] == [RT]
