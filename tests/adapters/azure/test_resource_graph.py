"""load_topology / GraphClient: the real azure-mgmt-resourcegraph and azure-mgmt-network clients on the ARM double.

Request counts are the double's own log: one Graph query per 1,000 rows, one admin-rule call per VNet in use
(plus one per further 20 rules), one rule-collection-group list per firewall policy in use, never a GET per
resource.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from egress.adapters.azure import resolve_endpoint
from egress.adapters.azure.errors import AzureApiError
from egress.adapters.azure.resource_graph import GraphClient, load_topology, quota_resets_after
from egress.core.graph_queries import ADMIN_RULES_TYPE, Scope, parse_scope
from egress.errors import FetchError
from tests.armdouble import ArmDouble
from tests.armdouble.estate import seed_estate
from tests.armdouble.topology import RCG_TYPE

SUB = "00000000-0000-0000-0000-0000000000aa"
SUB2 = "00000000-0000-0000-0000-0000000000bb"


class Clock:
    """One fake time for the double's quotas and the client's sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(arm_double: ArmDouble) -> Clock:
    c = Clock()
    arm_double.clock = c
    return c


@pytest.fixture
def client(arm_double: ArmDouble, fake_credential: Any, clock: Clock) -> Any:
    c = GraphClient(
        resolve_endpoint("public", arm_double.base_url),
        fake_credential,
        sleep=clock.sleep,
        ca_bundle=arm_double.ca_path,
    )
    yield c
    c.close()


def load(double: ArmDouble, client: GraphClient, *scopes: str, **kwargs: Any) -> list[dict[str, Any]]:
    parsed = [parse_scope(s) for s in scopes or (f"azure:/subscriptions/{SUB}",)]
    return load_topology(parsed, endpoint=client.endpoint, client=client, **kwargs)


def kinds(double: ArmDouble) -> Counter[str]:
    return Counter(f"{r.method} {r.kind}" for r in double.requests)


def by_type(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["type"].lower(), []).append(r)
    return out


def test_topology_is_one_query_plus_one_call_per_vnet_and_policy(
    arm_double: ArmDouble, client: GraphClient
) -> None:
    est = seed_estate(arm_double, SUB, vms=6, vnets=3, admin_rules=2, public_ip_every=3)
    rows = load(arm_double, client)

    graph_rows = [r for r in rows if "/" in r["type"] and r["type"] == r["type"].lower()]
    assert [r["id"] for r in graph_rows] == est.graph_ids  # every resource once, ordered by id
    assert {r["type"] for r in graph_rows} >= {
        "microsoft.compute/virtualmachines",
        "microsoft.network/azurefirewalls",
    }
    # Graph's row keeps ARM's properties: the NSG as the double stores it, the VNet's subnets inside it.
    nsg = next(r for r in graph_rows if r["id"] == est.nsgs[0])
    assert nsg["properties"] == arm_double.nsg(est.nsgs[0])["properties"]
    vnet = next(r for r in graph_rows if r["id"] == est.vnets[0])
    assert vnet["properties"]["subnets"][0]["properties"]["routeTable"]["id"].endswith("/routeTables/rt-0")
    assert vnet["subscriptionId"] == SUB and vnet["resourceGroup"] == "rg-net"

    groups = [r for r in rows if r["type"] == "Microsoft.Network/firewallPolicies/ruleCollectionGroups"]
    assert sorted(g["id"] for g in groups) == sorted(est.rule_collection_groups)
    for g in groups:  # exactly ARM's GET answer, nothing lost or added by the SDK's model
        assert g == arm_double.topology.get(g["id"])

    admin = {r["properties"]["virtualNetworkId"]: r for r in rows if r["type"] == ADMIN_RULES_TYPE}
    assert sorted(admin) == sorted(est.vnets[:-1])  # spokes (NICs there); the hub holds none
    for vnet_id, rules in est.admin_rules.items():
        assert admin[vnet_id]["properties"]["value"] == rules

    assert kinds(arm_double) == Counter(
        {"POST graph": 1, "POST admin-rules": 3, "GET rcg-list": 2}  # hub policy + the base it inherits
    )
    assert client.requests == Counter({"graph": 1, "admin-rules": 3, "rule-collection-groups": 2})
    body = next(r.body for r in arm_double.requests if r.kind == "graph")
    assert body["subscriptions"] == [SUB]
    assert body["options"]["$top"] == 1000 and body["options"]["resultFormat"] == "objectArray"
    assert next(r for r in arm_double.requests if r.kind == "graph").query["api-version"] == "2024-04-01"


def test_more_than_1000_rows_take_one_query_per_1000(arm_double: ArmDouble, client: GraphClient) -> None:
    est = seed_estate(arm_double, SUB, vms=600, vnets=2, admin_rules=1)
    rows = load(arm_double, client)
    n = len(est.graph_ids)
    assert n > 1200
    assert [r["id"] for r in rows if r["type"] == r["type"].lower()] == est.graph_ids
    graph = [r for r in arm_double.requests if r.kind == "graph"]
    assert len(graph) == math.ceil(n / 1000) == 2
    # The second page is asked with the first page's token and nothing else.
    assert "$top" not in graph[1].body["options"] and graph[1].body["options"]["$skipToken"]
    assert kinds(arm_double) == Counter({"POST graph": 2, "POST admin-rules": 2, "GET rcg-list": 2})


def test_admin_rules_page_by_20_with_skip_token(arm_double: ArmDouble, client: GraphClient) -> None:
    est = seed_estate(arm_double, SUB, vms=1, vnets=1, admin_rules=45)
    rows = load(arm_double, client)
    record = next(r for r in rows if r["type"] == ADMIN_RULES_TYPE)
    assert record["properties"]["value"] == est.admin_rules[est.vnets[0]]
    calls = [r for r in arm_double.requests if r.kind == "admin-rules"]
    assert [c.query.get("$top") for c in calls] == ["20", "20", "20"]
    assert calls[0].body == {} and all(c.body.get("skipToken") for c in calls[1:])


def test_protected_by_backup_keeps_only_protected_vms(arm_double: ArmDouble, client: GraphClient) -> None:
    est = seed_estate(arm_double, SUB, vms=5, protected=[1, 4])
    rows = load(arm_double, client, protected_only=True)
    vms = [r["id"] for r in rows if r["type"] == "microsoft.compute/virtualmachines"]
    assert vms == est.protected
    assert len([r for r in rows if r["type"] == "microsoft.network/networkinterfaces"]) == 5
    assert "RecoveryServicesResources" in arm_double.graph.queries[-1]


def test_resource_group_scope_narrows_vms_not_the_network(arm_double: ArmDouble, client: GraphClient) -> None:
    est = seed_estate(arm_double, SUB, vms=2)
    assert [
        r["type"] for r in load(arm_double, client, f"azure:/subscriptions/{SUB}/resourceGroups/rg-net")
    ].count("microsoft.compute/virtualmachines") == 0
    rows = load(arm_double, client, f"azure:/subscriptions/{SUB}/resourceGroups/RG-APP")
    assert [r["id"] for r in rows if r["type"] == "microsoft.compute/virtualmachines"] == est.vms
    assert any(r["type"] == "microsoft.network/virtualnetworks" for r in rows)


def test_two_subscriptions_in_one_query(arm_double: ArmDouble, client: GraphClient, arm_estate: Any) -> None:
    a = arm_estate(SUB, vms=1)
    b = arm_estate(SUB2, vms=1)
    rows = load(arm_double, client, f"azure:/subscriptions/{SUB2}", f"azure:/subscriptions/{SUB}")
    assert sorted(r["id"] for r in rows if r["type"] == "microsoft.compute/virtualmachines") == a.vms + b.vms
    assert kinds(arm_double)["POST graph"] == 1
    assert next(r.body for r in arm_double.requests if r.kind == "graph")["subscriptions"] == [SUB, SUB2]


# -- faults ------------------------------------------------------------------------------------------------------


def test_graph_429_with_retry_after_is_waited_out(
    arm_double: ArmDouble, client: GraphClient, clock: Clock
) -> None:
    seed_estate(arm_double, SUB, vms=1)
    arm_double.inject(
        "throttle", path="/providers/Microsoft.ResourceGraph/resources", retry_after="7", times=2
    )
    rows = load(arm_double, client)
    assert any(r["type"] == "microsoft.compute/virtualmachines" for r in rows)
    assert [r.status for r in arm_double.requests if r.kind == "graph"] == [429, 429, 200]
    assert clock.sleeps == [7.0, 7.0] and client.retries == 2


def test_graph_quota_paces_pages_instead_of_meeting_429(
    arm_double: ArmDouble, client: GraphClient, clock: Clock
) -> None:
    arm_double.graph.quota, arm_double.graph.quota_window = 2, 5.0
    seed_estate(arm_double, SUB, vms=1200, vnets=1)
    load(arm_double, client)
    statuses = [r.status for r in arm_double.requests if r.kind == "graph"]
    assert statuses == [200, 200, 200]  # three pages, no 429
    assert clock.sleeps == [5.0]  # after page 2 the quota read 0 for 00:00:05


def test_graph_429_without_retry_after_waits_for_the_quota_window(
    arm_double: ArmDouble, client: GraphClient, clock: Clock
) -> None:
    arm_double.graph.quota, arm_double.graph.quota_window = 1, 3.0
    seed_estate(arm_double, SUB, vms=1)
    client.query("Resources | project id | order by id asc", [SUB])  # someone used the quota
    load(arm_double, client)
    graph = [r for r in arm_double.requests if r.kind == "graph"]
    assert [r.status for r in graph] == [200, 429, 200]
    assert clock.sleeps == [3.0]


def test_quota_header_parsing() -> None:
    assert quota_resets_after("00:00:05") == 5.0
    assert quota_resets_after("01:02:03.5") == 3723.5
    assert quota_resets_after("soon") is None and quota_resets_after(None) is None


def test_subscription_without_access_is_noted_not_guessed(arm_double: ArmDouble, client: GraphClient) -> None:
    seed_estate(arm_double, SUB, vms=1)
    seed_estate(arm_double, SUB2, vms=1)
    arm_double.deny_subscription(SUB2)
    notes: list[str] = []
    rows = load(
        arm_double, client, f"azure:/subscriptions/{SUB}", f"azure:/subscriptions/{SUB2}", note=notes.append
    )
    assert {r.get("subscriptionId") for r in rows if "subscriptionId" in r} == {SUB}
    assert notes == [
        f"Resource Graph showed nothing in subscription {SUB2}: it is empty, or the signed-in identity cannot read it."
    ]


def test_admin_rules_403_is_one_line(arm_double: ArmDouble, client: GraphClient) -> None:
    seed_estate(arm_double, SUB, vms=1)
    arm_double.inject(
        "status",
        path="*/listNetworkManagerEffectiveSecurityAdminRules",
        status=403,
        code="AuthorizationFailed",
        message="The client does not have authorization\nto perform action.",
    )
    with pytest.raises(AzureApiError) as err:
        load(arm_double, client)
    text = str(err.value)
    assert "\n" not in text and err.value.status == 403
    assert text.startswith("Azure refused to list the effective admin rules of /subscriptions/")
    assert "(403 AuthorizationFailed)" in text and "needs Reader" in text


def test_graph_throttled_past_max_attempts_is_one_line(arm_double: ArmDouble, client: GraphClient) -> None:
    arm_double.inject(
        "throttle", path="/providers/Microsoft.ResourceGraph/resources", times=10, retry_after="1"
    )
    with pytest.raises(AzureApiError, match=r"after 5 attempts \(429 TooManyRequests\).*try again later"):
        load(arm_double, client)
    assert arm_double.count(kind="graph") == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": {"code": "x", "message": "y"}}, "has no list of rows"),
        ({"totalRecords": 1, "count": 2, "resultTruncated": "false", "data": [{"id": "a"}]}, "says count 2"),
        ({"totalRecords": 1, "count": 1, "resultTruncated": "true", "data": [{"id": "a"}]}, "is truncated"),
        (
            {
                "totalRecords": 9,
                "count": 1,
                "resultTruncated": "false",
                "data": [{"id": "a"}],
                "$skipToken": 5,
            },
            "not a string",
        ),
    ],
)
def test_malformed_second_page_is_one_line(
    arm_double: ArmDouble, client: GraphClient, monkeypatch: pytest.MonkeyPatch, body: Any, message: str
) -> None:
    seed_estate(arm_double, SUB, vms=600, vnets=1)
    real = arm_double.graph.handle
    calls = []

    def second_page_broken(req_body: Any, token: str) -> Any:
        calls.append(1)
        return real(req_body, token) if len(calls) == 1 else (200, body, {})

    monkeypatch.setattr(arm_double.graph, "handle", second_page_broken)
    with pytest.raises(FetchError, match=f"page 2 of the Resource Graph answer .*{message}") as err:
        load(arm_double, client)
    assert "\n" not in str(err.value)


def test_a_query_outside_the_doubles_kql_fails_loudly(arm_double: ArmDouble, client: GraphClient) -> None:
    with pytest.raises(AzureApiError) as err:
        client.query("Resources | summarize count() by type", [SUB])
    assert err.value.status == 400 and err.value.code == "BadRequest"
    with pytest.raises(AzureApiError, match="Failed to resolve scalar expression named 'etag'"):
        client.query("Resources | project id, etag", [SUB])


def test_scope_objects_are_what_load_topology_takes() -> None:
    with pytest.raises(ValueError):
        load_topology([], endpoint=resolve_endpoint("public", None))
    assert Scope(SUB) == parse_scope(f"/subscriptions/{SUB}")


def test_microsofts_examples_come_back_exactly(arm_double: ArmDouble, client: GraphClient) -> None:
    """The RCG and admin-rule examples of the spec, served by the double, read back unchanged by the SDKs."""
    import json
    from pathlib import Path

    ref = (
        Path(__file__).resolve().parents[2] / "data/microsoft/reference/azure-rest-spec-2025-05-01/2026-01-01"
    )
    rcg = json.loads((ref / "examples/FirewallPolicyRuleCollectionGroupGet.json").read_text())
    group = rcg["responses"]["200"]["body"]
    admin = json.loads((ref / "examples/NetworkManagerEffectiveSecurityAdminRulesList.json").read_text())
    items = admin["responses"]["200"]["body"]["value"]
    sub = "00000000-0000-0000-0000-0000000000aa"
    policy = group["id"].replace("/subid/", f"/{sub}/").rsplit("/ruleCollectionGroups/", 1)[0]
    arm_double.topology.seed({"id": policy})
    arm_double.topology.seed({**group, "id": group["id"].replace("/subid/", f"/{sub}/")})
    vnet = f"/subscriptions/{sub}/resourceGroups/myResourceGroup/providers/Microsoft.Network/virtualNetworks/testVirtualNetwork"
    arm_double.topology.seed({"id": vnet})
    arm_double.topology.seed_admin_rules(vnet, items)

    got = client.rule_collection_groups(policy)
    assert got == [{**group, "id": group["id"].replace("/subid/", f"/{sub}/"), "type": RCG_TYPE}]
    assert got[0]["properties"]["size"] == "1.2MB"  # a read-only field the model knows, kept as sent
    assert client.admin_rules(vnet) == items  # kind Default with its `flag`, as listed
