"""The double's Resource Graph endpoint against Microsoft's spec and examples (API 2024-04-01)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from tests.armdouble import ArmDouble
from tests.armdouble.topology import PROTECTED_ITEM_TYPE

SPEC = (
    Path(__file__).resolve().parents[1] / "data/microsoft/reference/azure-rest-spec-2025-05-01/resourcegraph"
)
EXAMPLE_SUB = "cfbbd179-59d2-4052-aa06-9270a38aa9d6"


def example(name: str) -> dict[str, Any]:
    return json.loads((SPEC / "examples" / name).read_text())


def response_schema() -> dict[str, Any]:
    spec = json.loads((SPEC / "resourcegraph.json").read_text())
    schema = json.loads(json.dumps(spec["definitions"]["QueryResponse"]))
    # The spec types `data` "object" (a JObject) while its own examples answer objectArray with a JSON array.
    del schema["properties"]["data"]["type"]
    return {**schema, "definitions": spec["definitions"]}


class Graph:
    def __init__(self, double: ArmDouble) -> None:
        self.double = double
        self.session = requests.Session()
        self.session.trust_env = False  # $REQUESTS_CA_BUNDLE would replace the double's CA
        self.session.verify = double.ca_path

    def post(self, body: Any, token: str = "t1", api: str = "2024-04-01") -> requests.Response:
        return self.session.post(
            f"{self.double.base_url}/providers/Microsoft.ResourceGraph/resources?api-version={api}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )


@pytest.fixture
def graph(arm_double: ArmDouble) -> Iterator[Graph]:
    g = Graph(arm_double)
    yield g
    g.session.close()


def seed_example_data(double: ArmDouble, *names: str) -> None:
    """Seed exactly the resources Microsoft's example answers show (their ids, names, types, places, tags)."""
    for name in names:
        for row in example(name)["responses"]["200"]["body"]["data"]:
            doc = {"id": row["id"], "name": row["name"], "location": row.get("location", "eastus")}
            if "tags" in row:
                doc["tags"] = row["tags"]
            t = row.get("type")
            if t:  # Graph lower-cases types; ARM spells them Microsoft.X/y: store them as ARM would
                doc["type"] = "/".join(p[:1].upper() + p[1:] for p in t.split("/"))
            double.topology.seed(doc)


@pytest.mark.parametrize("name", ["ResourcesBasicQuery.json", "ResourcesFilterQuery.json"])
def test_microsofts_examples_answer_as_documented(arm_double: ArmDouble, graph: Graph, name: str) -> None:
    # The filter example also gets the basic example's NIC, VNet and public IP, which its `where` must drop.
    seed_example_data(arm_double, *{name, "ResourcesBasicQuery.json"} if "Filter" in name else {name})
    ex = example(name)
    got = graph.post(ex["parameters"]["query"])
    assert got.status_code == 200, got.text
    body = got.json()
    jsonschema.validate(body, response_schema())
    want = ex["responses"]["200"]["body"]
    assert {k: body[k] for k in ("totalRecords", "count", "resultTruncated", "facets")} == {
        k: want[k] for k in ("totalRecords", "count", "resultTruncated", "facets")
    }
    key = lambda r: r["id"]  # noqa: E731  (the examples do not order their rows)
    assert sorted(body["data"], key=key) == sorted(want["data"], key=key)


def test_first_next_and_random_pages_follow_the_examples(arm_double: ArmDouble, graph: Graph) -> None:
    for n in range(12):
        arm_double.topology.seed(
            {
                "id": f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/RG1/providers/Microsoft.Compute/disks/test{n:02d}"
            }
        )
    arm_double.topology.seed(
        {"id": f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/RG1/providers/Microsoft.Compute/disks/other"}
    )
    first = example("ResourcesFirstPageQuery.json")["parameters"]["query"]  # $top 3, $skip 0
    query = first["query"] + " | order by id asc"
    a = graph.post({**first, "query": query}).json()
    assert (a["totalRecords"], a["count"], a["resultTruncated"]) == (12, 3, "false")
    assert [r["name"] for r in a["data"]] == ["test00", "test01", "test02"]
    nxt = example("ResourcesNextPageQuery.json")["parameters"]["query"]
    b = graph.post({**nxt, "query": query, "options": {"$skipToken": a["$skipToken"]}}).json()
    assert [r["name"] for r in b["data"]] == ["test03", "test04", "test05"]  # the token keeps $top 3
    rnd = example("ResourcesRandomPageQuery.json")["parameters"]["query"]  # $top 2, $skip 10
    c = graph.post({**rnd, "query": query}).json()
    assert [r["name"] for r in c["data"]] == ["test10", "test11"] and "$skipToken" not in c
    # A token only works with the query and scopes it came with.
    bad = graph.post({**nxt, "query": query + " | project id", "options": {"$skipToken": a["$skipToken"]}})
    assert bad.status_code == 400 and bad.json()["error"]["details"][-1]["code"] == "InvalidSkipToken"


def test_results_without_id_or_with_limit_are_not_paged(arm_double: ArmDouble, graph: Graph) -> None:
    for n in range(5):
        arm_double.topology.seed(
            {"id": f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/g/providers/A.B/c/n{n}"}
        )
    no_id = graph.post({"query": "Resources | project name", "options": {"$top": 2}}).json()
    assert (no_id["count"], no_id["resultTruncated"]) == (2, "true") and "$skipToken" not in no_id
    limited = graph.post({"query": "Resources | project id | limit 4", "options": {"$top": 2}}).json()
    assert (limited["totalRecords"], limited["resultTruncated"]) == (
        4,
        "true",
    ) and "$skipToken" not in limited
    default = graph.post({"query": "Resources | project id"}).json()
    assert default["count"] == 5 and "$skipToken" not in default  # default page: 100 rows


def test_table_format(arm_double: ArmDouble, graph: Graph) -> None:
    arm_double.topology.seed(
        {"id": f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/g/providers/A.B/c/n", "tags": {"a": "b"}}
    )
    body = graph.post({"query": "Resources | project id, tags", "options": {"resultFormat": "table"}}).json()
    jsonschema.validate(body, response_schema())
    assert body["data"]["columns"] == [{"name": "id", "type": "string"}, {"name": "tags", "type": "object"}]
    assert body["data"]["rows"] == [
        [f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/g/providers/A.B/c/n", {"a": "b"}]
    ]


def test_graph_serves_every_store_nsgs_included(arm_double: ArmDouble, graph: Graph) -> None:
    nsg = f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg1"
    arm_double.seed_nsg(nsg, {"location": "West Europe", "tags": {"egress": "managed"}})
    extra = {
        "id": f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt9"
    }
    arm_double.resource_sources.append(
        lambda: [{**extra, "type": "Microsoft.Network/routeTables", "name": "rt9"}]
    )
    q = "Resources | where type in~ ('Microsoft.Network/networkSecurityGroups', 'microsoft.network/routetables') | order by id asc"
    rows = graph.post({"subscriptions": [EXAMPLE_SUB], "query": q}).json()["data"]
    assert [r["id"] for r in rows] == [nsg, extra["id"]]
    assert (
        rows[0]["type"] == "microsoft.network/networksecuritygroups" and rows[0]["location"] == "westeurope"
    )
    assert rows[0]["resourceGroup"] == "rg" and rows[0]["tags"] == {"egress": "managed"}
    assert rows[0]["properties"] == arm_double.nsg(nsg)["properties"]
    assert "etag" not in rows[0]  # Graph's Resources table has no etag column


def test_scope_tables_and_denied_subscriptions(arm_double: ArmDouble, graph: Graph) -> None:
    other = "00000000-0000-0000-0000-0000000000bb"
    for sub in (EXAMPLE_SUB, other):
        arm_double.topology.seed(
            {"id": f"/subscriptions/{sub}/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm"}
        )
    vault = f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v"
    arm_double.topology.seed_protected_item(
        f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm", vault
    )
    q = {"query": "Resources | project id | order by id asc"}
    assert len(graph.post({**q, "subscriptions": [EXAMPLE_SUB]}).json()["data"]) == 1
    assert len(graph.post(q).json()["data"]) == 2  # no subscriptions: all the caller may read
    arm_double.deny_subscription(other)
    assert len(graph.post(q).json()["data"]) == 1
    items = graph.post(
        {"query": "RecoveryServicesResources | project id, type, properties.sourceResourceId"}
    ).json()
    assert items["data"][0]["type"] == PROTECTED_ITEM_TYPE.lower()
    assert items["data"][0]["properties_sourceResourceId"].endswith("/virtualMachines/vm")
    denied = graph.session.get(
        f"{arm_double.base_url}/subscriptions/{other}/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm"
        "?api-version=2024-07-01",
        headers={"Authorization": "Bearer t"},
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "AuthorizationFailed"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"query": "Resources", "options": {"$top": 0}}, "InvalidTop"),
        ({"query": "Resources", "options": {"$top": 1001}}, "InvalidTop"),
        ({"query": "Resources", "options": {"$skip": -1}}, "InvalidSkip"),
        ({"query": "Resources", "options": {"resultFormat": "csv"}}, "InvalidResultFormat"),
        ({"subscriptions": ["a"]}, "MissingQuery"),
        ({"query": "Resources", "managementGroups": ["mg"]}, "UnsupportedScope"),
        (example("ResourcesFacetQuery.json")["parameters"]["query"], "UnsupportedFacets"),
        (example("ResourcesSummarizeQuery.json")["parameters"]["query"], "UnsupportedOperator"),
        ([1], "InvalidRequestContent"),
    ],
)
def test_bad_requests_get_graphs_error_shape(graph: Graph, body: Any, detail: str) -> None:
    got = graph.post(body)
    assert got.status_code == 400
    error = got.json()["error"]
    assert error["code"] == "BadRequest" and error["message"].startswith("Please provide below info")
    assert error["details"][-1]["code"] == detail
    if detail == "UnsupportedOperator":
        assert error["details"][0]["code"] == "InvalidQuery"


def test_user_quota_headers_and_429(arm_double: ArmDouble, graph: Graph) -> None:
    now = [100.0]
    arm_double.clock = lambda: now[0]
    q = {"query": "Resources | project id"}
    heads = [graph.post(q).headers for _ in range(15)]
    assert [h["x-ms-user-quota-remaining"] for h in heads[:3]] == ["14", "13", "12"]
    assert heads[0]["x-ms-user-quota-resets-after"] == "00:00:05"
    throttled = graph.post(q)
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "RateLimiting"
    assert throttled.headers["x-ms-user-quota-remaining"] == "0" and "Retry-After" not in throttled.headers
    assert graph.post(q, token="another-user").status_code == 200  # per user
    now[0] += 5.0
    assert graph.post(q).headers["x-ms-user-quota-remaining"] == "14"


def test_arm_rate_limit_headers_and_enforced_429(arm_double: ArmDouble, graph: Graph) -> None:
    now = [0.0]
    arm_double.clock = lambda: now[0]
    nsg = (
        f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n"
    )
    arm_double.seed_nsg(nsg)
    url = f"{arm_double.base_url}{nsg}?api-version=2024-05-01"
    auth = {"Authorization": "Bearer t"}
    first = graph.session.get(url, headers=auth)
    assert first.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
    arm_double.limits.buckets["reads"] = (2, 1.0)
    other = f"{arm_double.base_url}/subscriptions/00000000-0000-0000-0000-0000000000cc/providers/Microsoft.Network/networkSecurityGroups?api-version=1"
    assert [
        graph.session.get(other, headers=auth).headers["x-ms-ratelimit-remaining-subscription-reads"]
        for _ in range(3)
    ] == ["1", "0", "0"]
    arm_double.limits.enforce = True
    refused = graph.session.get(other, headers=auth)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    now[0] += 1.0
    assert graph.session.get(other, headers=auth).status_code == 200
    deleted = graph.session.delete(url, headers=auth)
    assert deleted.headers["x-ms-ratelimit-remaining-subscription-deletes"] == "199"
