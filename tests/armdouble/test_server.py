"""The ARM double itself, driven with plain HTTPS requests (SDK-driven tests live in tests/adapters/azure)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.armdouble.server import ArmDouble, nsg_id

SUB = "11111111-2222-3333-4444-555555555555"
NSG = nsg_id(SUB, "rg1", "nsg1")
API = {"api-version": "2026-01-01"}
ETAG_RE = re.compile(r'^W/"[0-9a-f-]{36}"$')


def rule(name: str, priority: int, **props: Any) -> dict[str, Any]:
    base = {
        "protocol": "Tcp",
        "access": "Allow",
        "priority": priority,
        "direction": "Outbound",
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "AzureBackup",
        "destinationPortRange": "443",
    }
    base.update(props)
    return {"name": name, "properties": base}


class Arm:
    """A minimal ARM client: bearer header, api-version, the double's CA."""

    def __init__(self, double: ArmDouble) -> None:
        self.double = double
        self.session = requests.Session()
        self.session.verify = double.ca_path
        self.session.trust_env = False
        self.session.headers["Authorization"] = "Bearer test-token"

    def __call__(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        url = path if path.startswith("https://") else self.double.base_url + path
        params = None if "api-version=" in url else API
        return self.session.request(
            method, url, params=params, json=body, headers=headers or None, timeout=10
        )

    def put_nsg(
        self, rules: list[dict[str, Any]], etag: str | None = None, path: str = NSG
    ) -> requests.Response:
        headers = {"If-Match": etag} if etag else {}
        return self(
            "PUT", path, {"location": "westeurope", "properties": {"securityRules": rules}}, **headers
        )

    def finish(self, response: requests.Response) -> dict[str, Any]:
        """Poll the Azure-AsyncOperation URL to the end; return the last status body."""
        url = response.headers["Azure-AsyncOperation"]
        for _ in range(20):
            status = self("GET", url).json()
            if status["status"] != "InProgress":
                return status
        raise AssertionError("operation never finished")


@pytest.fixture
def arm(arm_double: ArmDouble) -> Iterator[Arm]:
    arm_double.seed_nsg(NSG, {"location": "westeurope", "properties": {"securityRules": [rule("keep", 200)]}})
    client = Arm(arm_double)
    yield client
    client.session.close()


def test_get_has_the_spec_example_shape(arm: Arm) -> None:
    r = arm("GET", NSG)
    assert r.status_code == 200
    doc = r.json()
    assert (
        doc["id"] == NSG
        and doc["name"] == "nsg1"
        and doc["type"] == "Microsoft.Network/networkSecurityGroups"
    )
    assert doc["location"] == "westeurope" and ETAG_RE.match(doc["etag"]) and r.headers["ETag"] == doc["etag"]
    props = doc["properties"]
    assert props["provisioningState"] == "Succeeded" and re.match(r"^[0-9a-f-]{36}$", props["resourceGuid"])
    (keep,) = props["securityRules"]
    assert keep["id"] == f"{NSG}/securityRules/keep" and keep["etag"] == doc["etag"]
    assert keep["type"] == "Microsoft.Network/networkSecurityGroups/securityRules"
    assert keep["properties"]["provisioningState"] == "Succeeded"
    assert keep["properties"]["sourceAddressPrefixes"] == []  # unset plurals come back empty, as from Azure
    defaults = {
        (d["name"], d["properties"]["direction"], d["properties"]["priority"])
        for d in props["defaultSecurityRules"]
    }
    assert defaults == {
        ("AllowVnetInBound", "Inbound", 65000),
        ("AllowAzureLoadBalancerInBound", "Inbound", 65001),
        ("DenyAllInBound", "Inbound", 65500),
        ("AllowVnetOutBound", "Outbound", 65000),
        ("AllowInternetOutBound", "Outbound", 65001),
        ("DenyAllOutBound", "Outbound", 65500),
    }


def test_put_runs_a_long_running_operation_and_changes_the_etag(arm: Arm) -> None:
    arm.double.lro_polls = 2
    before = arm("GET", NSG).json()["etag"]
    r = arm.put_nsg([rule("a", 100, protocol="tcp")], etag=before)
    assert r.status_code == 200
    assert r.json()["properties"]["provisioningState"] == "Updating"
    assert r.headers["Retry-After"] == "0"
    op_url = r.headers["Azure-AsyncOperation"]
    assert op_url.startswith(
        arm.double.base_url + f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/"
    )
    assert [arm("GET", op_url).json()["status"] for _ in range(4)] == [
        "InProgress",
        "InProgress",
        "Succeeded",
        "Succeeded",
    ]
    after = arm("GET", NSG).json()
    assert after["etag"] != before and after["properties"]["provisioningState"] == "Succeeded"
    assert [x["name"] for x in after["properties"]["securityRules"]] == ["a"]  # the PUT replaced the list
    assert after["properties"]["securityRules"][0]["properties"]["protocol"] == "Tcp"  # Azure's casing


def test_put_creates_with_201_and_requires_a_location(arm: Arm) -> None:
    path = nsg_id(SUB, "rg1", "fresh")
    assert arm("PUT", path, {"properties": {}}).json()["error"]["code"] == "LocationRequired"
    r = arm.put_nsg([], path=path)
    assert r.status_code == 201 and r.json()["name"] == "fresh"


def test_stale_if_match_gets_412_and_changes_nothing(arm: Arm) -> None:
    etag = arm("GET", NSG).json()["etag"]
    arm.finish(arm.put_nsg([rule("a", 100)], etag=etag))
    stale = arm.put_nsg([rule("b", 101)], etag=etag)
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "PreconditionFailed"
    assert arm("DELETE", NSG, **{"If-Match": etag}).status_code == 412
    assert [x["name"] for x in arm.double.nsg(NSG)["properties"]["securityRules"]] == ["a"]


def test_a_write_while_one_is_running_is_refused(arm: Arm) -> None:
    first = arm.put_nsg([rule("a", 100)])
    second = arm.put_nsg([rule("b", 100)])
    assert second.status_code == 409 and second.json()["error"]["code"] == "AnotherOperationInProgress"
    arm.finish(first)
    assert arm.put_nsg([rule("b", 100)]).status_code == 200


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ([rule("a", 100), rule("b", 100)], "SecurityRuleConflict"),
        ([rule("a", 100, destinationAddressPrefixes=["10.0.0.0/8", "2001:db8::/32"],
               destinationAddressPrefix=None)],
         "ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies"),
        ([rule("a", 100, sourceAddressPrefix="10.0.0.1", destinationAddressPrefix="2001:db8::1")],
         "ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies"),
        ([rule("a", 100, destinationAddressPrefixes=["10.0.0.0/8", "Storage"],
               destinationAddressPrefix=None)],
         "SecurityRuleParameterContainsUnsupportedValue"),
        ([rule("a", 100, destinationAddressPrefixes=[f"10.{i // 256}.{i % 256}.0/24" for i in range(4001)],
               destinationAddressPrefix=None)],
         "SecurityRuleAddressesOrPortsPerSecurityGroupLimitReached"),
        ([rule("a", 99)], "SecurityRuleInvalidPriority"),
        ([rule("a", 4097)], "SecurityRuleInvalidPriority"),
        ([rule("x" * 81, 100)], "InvalidResourceName"),
        ([rule("ends-with-dash-", 100)], "InvalidResourceName"),
        ([rule("a", 100, description="d" * 141)], "SecurityRuleDescriptionTooLong"),
        ([rule(f"r{i}", 100 + i) for i in range(1001)], "SecurityRuleCountLimitReached"),
        ([rule("a", 100, destinationAddressPrefix=None)], "SecurityRuleParametersMissing"),
    ],
)  # fmt: skip
def test_validation_answers_with_azures_codes(arm: Arm, rules: list[dict[str, Any]], code: str) -> None:
    for r in rules:
        r["properties"] = {k: v for k, v in r["properties"].items() if v is not None}
    before = arm.double.nsg(NSG)
    response = arm.put_nsg(rules)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert arm.double.nsg(NSG) == before


def test_limits_are_inclusive(arm: Arm) -> None:
    prefixes = [f"10.{i // 256}.{i % 256}.0/24" for i in range(4000)]
    rules = [rule("a", 100, destinationAddressPrefixes=prefixes)]
    del rules[0]["properties"]["destinationAddressPrefix"]
    rules += [rule("b", 4096, description="d" * 140, direction="Inbound"), rule("c" * 80, 101)]
    assert arm.put_nsg(rules).status_code == 200


def test_security_rule_endpoints(arm: Arm) -> None:
    created = arm("PUT", f"{NSG}/securityRules/new", {"properties": rule("new", 300)["properties"]})
    assert created.status_code == 201 and created.json()["id"] == f"{NSG}/securityRules/new"
    arm.finish(created)
    conflict = arm("PUT", f"{NSG}/securityRules/dup", {"properties": rule("dup", 300)["properties"]})
    assert conflict.json()["error"]["code"] == "SecurityRuleConflict"
    names = [r["name"] for r in arm("GET", f"{NSG}/securityRules").json()["value"]]
    assert names == ["keep", "new"]
    assert arm("GET", f"{NSG}/securityRules/new").json()["properties"]["priority"] == 300
    gone = arm("DELETE", f"{NSG}/securityRules/new")
    assert gone.status_code == 202 and "Location" in gone.headers
    arm.finish(gone)
    assert arm("GET", f"{NSG}/securityRules/new").status_code == 404
    assert arm("DELETE", f"{NSG}/securityRules/new").status_code == 204
    defaults = arm("GET", f"{NSG}/defaultSecurityRules").json()["value"]
    assert len(defaults) == 6
    assert arm("GET", f"{NSG}/defaultSecurityRules/DenyAllOutBound").json()["properties"]["access"] == "Deny"


def test_list_and_delete_nsgs(arm: Arm) -> None:
    arm.double.seed_nsg(nsg_id(SUB, "rg2", "other"), {"location": "eastus"})
    in_rg = arm(
        "GET", f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups"
    )
    assert [d["name"] for d in in_rg.json()["value"]] == ["nsg1"]
    everywhere = arm("GET", f"/subscriptions/{SUB}/providers/Microsoft.Network/networkSecurityGroups")
    assert sorted(d["name"] for d in everywhere.json()["value"]) == ["nsg1", "other"]
    gone = arm("DELETE", NSG)
    assert gone.status_code == 202
    assert arm("GET", gone.headers["Location"]).status_code in (202, 204)
    assert arm("GET", NSG).json()["error"]["code"] == "ResourceNotFound"


def test_requests_need_a_bearer_token_and_an_api_version(arm: Arm) -> None:
    arm.session.headers.pop("Authorization")
    r = arm("GET", NSG)
    assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationFailed"
    arm.session.headers["Authorization"] = "Bearer x"
    r = arm.session.get(arm.double.base_url + NSG, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
    recorded = arm.double.requests
    assert [x.authorized for x in recorded] == [False, True]
    assert recorded[1].token == "x"


@pytest.mark.parametrize(
    ("kind", "status", "code", "retry_after"),
    [
        ("throttle", 429, "TooManyRequests", "1"),
        ("busy", 409, "AnotherOperationInProgress", None),
        ("error", 500, "InternalServerError", None),
    ],
)
def test_injected_faults_are_consumed_in_order(
    arm: Arm, kind: str, status: int, code: str, retry_after: str | None
) -> None:
    arm.double.inject(kind, method="PUT", path="*/networksecuritygroups/nsg1", times=2)
    assert arm("GET", NSG).status_code == 200  # another method does not consume it
    for _ in range(2):
        r = arm.put_nsg([])
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
        assert r.headers.get("Retry-After") == retry_after
    assert arm.put_nsg([]).status_code == 200
    assert [x.fault for x in arm.double.requests] == [None, kind, kind, None]


def test_dropped_connection_leaves_state_alone(arm: Arm) -> None:
    before = arm.double.nsg(NSG)
    arm.double.inject("drop", method="PUT")
    with pytest.raises(requests.ConnectionError):
        arm.put_nsg([])
    assert arm.double.nsg(NSG) == before
    assert arm.double.requests[-1].status is None


def test_drop_after_applies_the_write_but_loses_the_answer(arm: Arm) -> None:
    etag = arm.double.nsg(NSG)["etag"]
    arm.double.inject("drop-after", method="PUT")
    with pytest.raises(requests.ConnectionError):
        arm.put_nsg([rule("a", 100)], etag=etag)
    assert arm.double.nsg(NSG)["etag"] != etag


def test_failed_operation_restores_the_rules(arm: Arm) -> None:
    arm.double.inject("lro-failed", method="PUT", code="NetworkSecurityGroupUpdateFailed", message="no")
    status = arm.finish(arm.put_nsg([rule("a", 100)]))
    assert status["status"] == "Failed"
    assert status["error"] == {"code": "NetworkSecurityGroupUpdateFailed", "message": "no", "details": []}
    doc = arm.double.nsg(NSG)
    assert [x["name"] for x in doc["properties"]["securityRules"]] == ["keep"]
    assert doc["properties"]["provisioningState"] == "Failed"


def test_hook_can_play_a_concurrent_editor(arm: Arm) -> None:
    etag = arm("GET", NSG).json()["etag"]

    def editor(request: Any) -> None:
        if request.method == "PUT":
            arm.double.edit_nsg(
                NSG, lambda doc: doc["properties"]["securityRules"].append(rule("theirs", 150))
            )
            remove()

    remove = arm.double.on_request(editor)
    assert arm.put_nsg([rule("mine", 100)], etag=etag).status_code == 412
    names = [x["name"] for x in arm("GET", NSG).json()["properties"]["securityRules"]]
    assert names == ["keep", "theirs"]


def test_requests_are_recorded_for_counting(arm: Arm) -> None:
    etag = arm("GET", NSG).json()["etag"]
    arm.finish(arm.put_nsg([], etag=etag))
    assert (
        arm.double.count("GET") == 3 and arm.double.count("PUT") == 1 and arm.double.count(kind="poll") == 2
    )
    put = next(x for x in arm.double.requests if x.method == "PUT")
    assert put.if_match == etag and put.body["location"] == "westeurope" and put.query == API


def _weekly(tmp_path: Path) -> Path:
    data = {
        "changeNumber": 342,
        "cloud": "Public",
        "values": [
            {"name": "AzureBackup", "id": "AzureBackup",
             "properties": {"changeNumber": 40, "region": "", "regionId": 0, "platform": "Azure",
                            "systemService": "AzureBackup",
                            "addressPrefixes": ["20.1.0.0/24", "2603:1000::/40"],
                            "networkFeatures": ["API", "NSG", "UDR"]}},
            {"name": "AzureBackup.EastUS", "id": "AzureBackup.EastUS",
             "properties": {"changeNumber": 3, "region": "eastus", "regionId": 32, "platform": "Azure",
                            "systemService": "AzureBackup", "addressPrefixes": ["20.1.0.0/26"],
                            "networkFeatures": ["API"]}},
            {"name": "Storage.EastUS", "id": "Storage.EastUS",
             "properties": {"changeNumber": 48, "region": "eastus", "systemService": "AzureStorage",
                            "addressPrefixes": ["13.68.163.32/28"]}},
        ],
    }  # fmt: skip
    path = tmp_path / "ServiceTags_Public_20250120.json"
    path.write_text(json.dumps(data))
    return path


def test_service_tags_discovery_api(arm: Arm, tmp_path: Path) -> None:
    path = f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westeurope/serviceTags"
    assert arm("GET", path).status_code == 501  # not configured
    arm.double.set_service_tags(_weekly(tmp_path))
    body = arm("GET", path).json()
    assert body["changeNumber"] == "342" and body["cloud"] == "Public" and body["name"] == "public"
    assert body["type"] == "Microsoft.Network/serviceTags"
    assert [v["name"] for v in body["values"]] == ["AzureBackup", "Storage.EastUS"]  # only NSG-usable tags
    assert body["values"][0]["properties"] == {
        "changeNumber": "40",
        "region": "",
        "systemService": "AzureBackup",
        "addressPrefixes": ["20.1.0.0/24", "2603:1000::/40"],
    }


def test_service_tags_paging(arm: Arm, tmp_path: Path) -> None:
    arm.double.set_service_tags(_weekly(tmp_path))
    arm.double.service_tags_page_size = 1
    first = arm(
        "GET", f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/eastus/serviceTags"
    ).json()
    second = arm("GET", first["nextLink"]).json()
    assert [v["name"] for v in first["values"] + second["values"]] == ["AzureBackup", "Storage.EastUS"]
    assert "nextLink" not in second


def test_known_service_tags_are_checked_once_a_file_is_loaded(arm: Arm, tmp_path: Path) -> None:
    arm.double.set_service_tags(_weekly(tmp_path))
    bad = arm.put_nsg([rule("a", 100, destinationAddressPrefix="AzureBackup.EastUS")])  # not usable in NSGs
    assert bad.json()["error"]["code"] == "SecurityRuleInvalidAddressPrefix"
    assert arm.put_nsg([rule("a", 100, destinationAddressPrefix="storage.eastus")]).status_code == 200


def test_network_guard_refuses_non_loopback(_loopback_only: list[str]) -> None:
    with pytest.raises(OSError, match="loopback"):
        socket.create_connection(("169.254.169.254", 80), timeout=1)
    with pytest.raises(OSError, match="loopback"):
        socket.getaddrinfo("management.azure.com", 443)
    assert len(_loopback_only) == 2
    _loopback_only.clear()  # the refusals above were the point of this test
