"""ARM's resource protocol (resources.py) holds the same for every type the double writes: NSGs, route tables and
rule collection groups, driven with plain HTTPS requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.armdouble.firewall_policies import policy_id
from tests.armdouble.route_tables import table_id
from tests.armdouble.server import ArmDouble, nsg_id
from tests.armdouble.test_server import ETAG_RE, SUB, Arm, rule

POLICY = policy_id(SUB, "rg1", "policy1")


@dataclass(frozen=True)
class Kind:
    """One writable type: where it lives, a body that creates it, a body that changes it, what to compare."""

    path: str
    body: dict[str, Any]
    changed: dict[str, Any]
    content: Callable[[dict[str, Any]], Any]
    children: str | None = None  # the child resources' URL segment, when it has any


def _route(name: str, prefix: str) -> dict[str, Any]:
    return {"name": name, "properties": {"addressPrefix": prefix, "nextHopType": "Internet"}}


KINDS = {
    "nsg": Kind(
        nsg_id(SUB, "rg1", "nsg-new"),
        {"location": "westus", "properties": {"securityRules": [rule("a", 200)]}},
        {"location": "westus", "properties": {"securityRules": [rule("a", 200), rule("b", 300)]}},
        lambda d: [r["name"] for r in d["properties"]["securityRules"]],
        "securityRules",
    ),
    "route-table": Kind(
        table_id(SUB, "rg1", "rt-new"),
        {"location": "westus", "properties": {"routes": [_route("a", "10.0.0.0/8")]}},
        {
            "location": "westus",
            "properties": {"routes": [_route("a", "10.0.0.0/8"), _route("b", "11.0.0.0/8")]},
        },
        lambda d: [r["name"] for r in d["properties"]["routes"]],
        "routes",
    ),
    "rule-collection-group": Kind(
        f"{POLICY}/ruleCollectionGroups/rcg-new",
        {"properties": {"priority": 300, "ruleCollections": []}},
        {"properties": {"priority": 400, "ruleCollections": []}},
        lambda d: d["properties"]["priority"],
    ),
}


@pytest.fixture
def arm(arm_double: ArmDouble) -> Iterator[Arm]:
    arm_double.firewall_policies.seed_policy(POLICY, location="westus")
    client = Arm(arm_double)
    yield client
    client.session.close()


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


def test_a_create_runs_an_operation_to_succeeded(arm: Arm, kind: Kind) -> None:
    r = arm("PUT", kind.path, kind.body)
    assert r.status_code == 201 and r.json()["properties"]["provisioningState"] == "Updating"
    assert r.headers["Azure-AsyncOperation"].startswith(arm.double.base_url) and "Location" not in r.headers
    assert arm("GET", kind.path).json()["properties"]["provisioningState"] == "Updating"
    assert arm.finish(r)["status"] == "Succeeded"
    got = arm("GET", kind.path)
    assert got.json()["properties"]["provisioningState"] == "Succeeded"
    assert ETAG_RE.match(got.headers["ETag"]) and got.headers["ETag"] == got.json()["etag"]
    assert kind.content(got.json()) == kind.content(kind.body)


def test_every_write_moves_the_etag_and_a_stale_one_is_refused(arm: Arm, kind: Kind) -> None:
    arm.finish(arm("PUT", kind.path, kind.body))
    first = arm("GET", kind.path).json()["etag"]
    assert arm("PUT", kind.path, kind.body, **{"If-None-Match": "*"}).status_code == 412
    arm.finish(arm("PUT", kind.path, kind.changed, **{"If-Match": first}))
    second = arm("GET", kind.path).json()
    assert second["etag"] != first and kind.content(second) == kind.content(kind.changed)
    stale = arm("PUT", kind.path, kind.body, **{"If-Match": first})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "PreconditionFailed"
    assert arm("GET", kind.path).json() == second


def test_a_write_while_one_runs_is_busy(arm: Arm, kind: Kind) -> None:
    arm.finish(arm("PUT", kind.path, kind.body))
    running = arm("PUT", kind.path, kind.changed)
    busy = arm("PUT", kind.path, kind.body)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "AnotherOperationInProgress"
    arm.finish(running)
    assert arm("PUT", kind.path, kind.body).status_code == 200


def test_a_failed_update_restores_the_resource_marked_failed(arm: Arm, kind: Kind) -> None:
    arm.finish(arm("PUT", kind.path, kind.body))
    before = arm("GET", kind.path).json()
    arm.double.inject("lro-failed", method="PUT", code="InternalServerError")
    status = arm.finish(arm("PUT", kind.path, kind.changed))
    assert status["status"] == "Failed" and status["error"]["code"] == "InternalServerError"
    after = arm("GET", kind.path).json()
    assert kind.content(after) == kind.content(before) and after["etag"] != before["etag"]
    assert after["properties"]["provisioningState"] == "Failed"


def test_a_failed_create_leaves_nothing(arm: Arm, kind: Kind) -> None:
    arm.double.inject("lro-failed", method="PUT")
    assert arm.finish(arm("PUT", kind.path, kind.body))["status"] == "Failed"
    assert arm("GET", kind.path).status_code == 404
    policy = arm("GET", POLICY).json()
    assert policy["properties"]["ruleCollectionGroups"] == []  # a group that failed is not listed either


@pytest.mark.parametrize("name", ["nsg", "route-table"])
def test_child_writes_are_conditional_and_deletes_answer_202(arm: Arm, name: str) -> None:
    kind = KINDS[name]
    arm.finish(arm("PUT", kind.path, kind.body))
    child = f"{kind.path}/{kind.children}/a"
    etag = arm("GET", child).headers["ETag"]
    props = arm("GET", child).json()["properties"]
    assert arm("PUT", child, {"properties": props}, **{"If-Match": 'W/"stale"'}).status_code == 412
    arm.finish(arm("PUT", child, {"properties": props}, **{"If-Match": etag}))
    gone = arm("DELETE", child)
    assert gone.status_code == 202 and "operationResults" in gone.headers["Location"]
    arm.finish(gone)
    assert arm("GET", child).status_code == 404 and kind.content(arm("GET", kind.path).json()) == []
    assert arm("DELETE", child).status_code == 204


def test_a_route_table_can_be_deleted(arm: Arm) -> None:
    kind = KINDS["route-table"]
    arm.finish(arm("PUT", kind.path, kind.body))
    r = arm("DELETE", kind.path)
    assert r.status_code == 202 and {"Azure-AsyncOperation", "Location"} <= set(r.headers)
    assert arm.finish(r)["status"] == "Succeeded"
    missing = arm("GET", kind.path)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"
    assert arm("DELETE", kind.path).status_code == 204
