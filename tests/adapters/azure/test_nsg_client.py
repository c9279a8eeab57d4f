"""NsgClient with the real azure-mgmt-network client, against the ARM double."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from egress.adapters.azure import AzureApiError, NsgClient, PreconditionFailedError, resolve_endpoint
from egress.errors import AzureError, ConflictError, TargetError
from tests.adapters.azure.nsgdata import REF, rule
from tests.armdouble import ArmDouble, RecordedRequest

NSG_PATH = "*/networksecuritygroups/nsg-vm1"


def names(doc: dict[str, Any]) -> list[str]:
    return [r["name"] for r in doc["properties"]["securityRules"]]


def with_rules(doc: dict[str, Any], *rules: dict[str, Any]) -> dict[str, Any]:
    """`doc` with `rules` added, as a planner would build the next version of the NSG."""
    out = copy.deepcopy(doc)
    out["properties"]["securityRules"].extend(copy.deepcopy(list(rules)))
    return out


def wire(double: ArmDouble, method: str | None = None) -> list[RecordedRequest]:
    return [r for r in double.requests if method is None or r.method == method]


def test_get_returns_the_nsg_as_azure_sent_it(
    client: NsgClient, seeded: ArmDouble, fake_credential: Any
) -> None:
    doc, etag = client.get()
    assert doc == seeded.nsg(REF.resource_id)
    assert etag == doc["etag"] and etag.startswith('W/"')
    assert names(doc) == ["NRMS-Rule-101"]
    assert doc["properties"]["securityRules"][0]["properties"]["priority"] == 101  # camelCase, untouched
    assert len(doc["properties"]["defaultSecurityRules"]) == 6
    assert dict(client.requests) == {"GET": 1} and client.polls == 0 and client.retries == 0
    (request,) = seeded.requests
    assert request.authorized and request.token == fake_credential.token
    assert request.query["api-version"]
    assert fake_credential.scopes == [("https://management.azure.com/.default",)]


@pytest.mark.parametrize("in_progress", [0, 1, 3])
def test_put_sends_if_match_follows_the_lro_and_returns_the_result(
    make_client: Callable[..., NsgClient], seeded: ArmDouble, in_progress: int
) -> None:
    seeded.lro_polls = in_progress
    client = make_client()
    doc, etag = client.get()
    result = client.put(with_rules(doc, rule("egress-backup", 200)), etag)

    assert names(result) == ["NRMS-Rule-101", "egress-backup"]
    assert result["properties"]["provisioningState"] == "Succeeded"
    assert result["etag"] != etag and result == seeded.nsg(REF.resource_id)
    (put,) = wire(seeded, "PUT")
    assert put.if_match == etag
    # Documented accounting: get = 1 GET; put = 1 PUT + (k + 1) polls + 1 final GET.
    assert client.requests["PUT"] == 1
    assert client.polls == in_progress + 1
    assert client.requests["GET"] == 1 + (in_progress + 1) + 1
    assert seeded.count(kind="poll") == client.polls and seeded.count() == sum(client.requests.values())
    assert all(r.if_match is None for r in seeded.requests if r.is_poll)
    assert wire(seeded)[-1].kind == "nsg" and wire(seeded)[-1].method == "GET"


def test_put_body_leaves_read_only_fields_to_the_sdk(client: NsgClient, seeded: ArmDouble) -> None:
    doc, etag = client.get()
    client.put(with_rules(doc, rule("egress-backup", 200)), etag)
    (put,) = wire(seeded, "PUT")
    body = put.body
    assert "etag" not in body and "type" not in body
    assert set(body["properties"]) == {"securityRules"}  # no provisioningState / resourceGuid / defaults
    sent = body["properties"]["securityRules"]
    assert [r["name"] for r in sent] == ["NRMS-Rule-101", "egress-backup"]
    assert all("etag" not in r and "provisioningState" not in r["properties"] for r in sent)
    assert sent[1]["properties"]["destinationAddressPrefix"] == "AzureBackup"
    assert doc["etag"] == etag  # the caller's dict is not modified


def test_stale_etag_raises_precondition_failed_and_writes_nothing(
    client: NsgClient, seeded: ArmDouble
) -> None:
    doc, etag = client.get()
    seeded.edit_nsg(REF.resource_id, lambda d: d["properties"]["securityRules"].append(rule("theirs", 300)))
    before = seeded.nsg(REF.resource_id)
    with pytest.raises(PreconditionFailedError, match="changed since it was read") as info:
        client.put(with_rules(doc, rule("egress-backup", 200)), etag)
    assert isinstance(info.value, ConflictError) and info.value.etag == etag
    assert seeded.nsg(REF.resource_id) == before
    assert client.requests["PUT"] == 1 and client.retries == 0  # a 412 is final, not retried


def test_concurrent_editor_then_reread_and_replan_succeeds(client: NsgClient, seeded: ArmDouble) -> None:
    def editor(request: RecordedRequest) -> None:
        if request.method == "PUT":
            remove()
            seeded.edit_nsg(
                REF.resource_id, lambda d: d["properties"]["securityRules"].append(rule("theirs", 300))
            )

    remove = seeded.on_request(editor)
    doc, etag = client.get()
    with pytest.raises(PreconditionFailedError):
        client.put(with_rules(doc, rule("egress-backup", 200)), etag)
    doc, etag = client.get()  # what a caller does on PreconditionFailedError
    result = client.put(with_rules(doc, rule("egress-backup", 200)), etag)
    assert names(result) == ["NRMS-Rule-101", "theirs", "egress-backup"]


@pytest.mark.parametrize(
    ("fault", "retry_after", "expected_sleep"),
    [
        ("throttle", "7", [7.0]),
        ("busy", None, []),  # 409 AnotherOperationInProgress without Retry-After: immediate first retry
        ("busy", "3", [3.0]),
        ("error", None, []),
        ("drop", None, []),
    ],
)
def test_transient_put_faults_are_retried(
    client: NsgClient, seeded: ArmDouble, sleeps: list[float], fault: str, retry_after: str | None,
    expected_sleep: list[float],
) -> None:  # fmt: skip
    doc, etag = client.get()
    seeded.inject(fault, method="PUT", path=NSG_PATH, retry_after=retry_after)
    result = client.put(with_rules(doc, rule("egress-backup", 200)), etag)
    assert names(result) == ["NRMS-Rule-101", "egress-backup"]
    assert client.requests["PUT"] == 2 and client.retries == 1
    assert [r.fault for r in wire(seeded, "PUT")] == [fault, None]
    assert sleeps == expected_sleep


def test_faults_during_polling_and_reads_are_retried(client: NsgClient, seeded: ArmDouble) -> None:
    seeded.inject("drop", method="GET", path=NSG_PATH)
    doc, etag = client.get()
    seeded.inject("throttle", method="GET", path="*/operations/*", retry_after="1")
    seeded.inject("error", method="GET", path="*/operations/*")
    result = client.put(with_rules(doc, rule("egress-backup", 200)), etag)
    assert names(result) == ["NRMS-Rule-101", "egress-backup"]
    assert client.retries == 3 and client.polls == 2 + 2


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("throttle", r"after 3 attempts \(429 TooManyRequests\)"),
        ("busy", r"after 3 attempts \(409 AnotherOperationInProgress\)"),
        ("error", r"after 3 attempts \(500 InternalServerError\)"),
        ("drop", r"could not reach Azure Resource Manager at https://127\.0\.0\.1:\d+ after 3 attempts"),
    ],
)
def test_persistent_faults_give_up_after_max_attempts(
    make_client: Callable[..., NsgClient], seeded: ArmDouble, sleeps: list[float], fault: str, says: str
) -> None:
    client = make_client(max_attempts=3)
    doc, etag = client.get()
    before = seeded.nsg(REF.resource_id)
    seeded.inject(
        fault, method="PUT", path=NSG_PATH, times=10, retry_after="2" if fault == "throttle" else None
    )
    with pytest.raises(AzureApiError, match=says):
        client.put(with_rules(doc, rule("egress-backup", 200)), etag)
    assert seeded.nsg(REF.resource_id) == before
    assert client.requests["PUT"] == 3 and client.retries == 2
    assert sleeps == ([2.0, 2.0] if fault == "throttle" else [1.6])  # Retry-After, else backoff 0 then 1.6 s


def test_retry_after_is_capped(client: NsgClient, seeded: ArmDouble, sleeps: list[float]) -> None:
    seeded.inject("throttle", method="GET", retry_after="86400")
    client.get()
    assert sleeps == [120.0]


def test_one_attempt_means_no_retry(make_client: Callable[..., NsgClient], seeded: ArmDouble) -> None:
    client = make_client(max_attempts=1)
    seeded.inject("error", method="GET")
    with pytest.raises(AzureApiError, match="after 1 attempts"):
        client.get()
    assert client.requests["GET"] == 1


def test_lost_put_answer_surfaces_as_precondition_failed(client: NsgClient, seeded: ArmDouble) -> None:
    # Azure applied the PUT but the answer never arrived: the SDK retries with the same etag and gets 412.
    doc, etag = client.get()
    seeded.inject("drop-after", method="PUT", path=NSG_PATH)
    with pytest.raises(PreconditionFailedError):
        client.put(with_rules(doc, rule("egress-backup", 200)), etag)
    reread, _ = client.get()
    assert names(reread) == ["NRMS-Rule-101", "egress-backup"]


def test_failed_operation_is_an_azure_error_with_its_code(client: NsgClient, seeded: ArmDouble) -> None:
    doc, etag = client.get()
    seeded.inject(
        "lro-failed", method="PUT", code="NetworkSecurityGroupUpdateFailed", message="Backend said no."
    )
    with pytest.raises(AzureApiError, match="NetworkSecurityGroupUpdateFailed: Backend said no") as info:
        client.put(with_rules(doc, rule("egress-backup", 200)), etag)
    assert info.value.code == "NetworkSecurityGroupUpdateFailed"
    assert names(seeded.nsg(REF.resource_id)) == ["NRMS-Rule-101"]
    assert client.requests["PUT"] == 1 and client.retries == 0


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ([rule("egress-backup", 101, access="Allow")], "SecurityRuleConflict"),
        ([rule("egress-backup", 5000)], "SecurityRuleInvalidPriority"),
        ([rule("egress-backup", 200, destinationAddressPrefix=None, destinationAddressPrefixes=["Storage"])],
         "SecurityRuleParameterContainsUnsupportedValue"),
    ],
)  # fmt: skip
def test_validation_errors_carry_azures_code_and_message(
    client: NsgClient, seeded: ArmDouble, rules: list[dict[str, Any]], code: str
) -> None:
    doc, etag = client.get()
    for r in rules:
        r["properties"] = {k: v for k, v in r["properties"].items() if v is not None}
    with pytest.raises(AzureApiError, match=f"Azure refused to update .*nsg-vm1 \\(400 {code}\\): ") as info:
        client.put(with_rules(doc, *rules), etag)
    assert info.value.code == code and info.value.status == 400
    assert "\n" not in str(info.value)
    assert client.requests["PUT"] == 1


def test_missing_nsg_is_a_target_error(client: NsgClient, seeded: ArmDouble) -> None:
    seeded.remove_nsg(REF.resource_id)
    with pytest.raises(TargetError, match=r"nsg-vm1 was not found .*check the subscription") as info:
        client.get()
    assert not isinstance(info.value, AzureError)


@pytest.mark.parametrize(
    ("status", "code", "says"),
    [
        (401, "InvalidAuthenticationToken", "sign in again"),
        (403, "AuthorizationFailed", "needs the Network Contributor role"),
    ],
)
def test_auth_failures_say_what_to_do(
    client: NsgClient, seeded: ArmDouble, status: int, code: str, says: str
) -> None:
    seeded.inject("status", status=status, code=code, message="nope")
    with pytest.raises(AzureApiError, match=says) as info:
        client.get()
    assert (info.value.status, info.value.code) == (status, code)
    assert client.requests["GET"] == 1


def test_tls_trust_can_come_from_the_environment(arm_env: ArmDouble, fake_credential: Any) -> None:
    # arm_env sets EGRESS_ARM_ENDPOINT and REQUESTS_CA_BUNDLE, as a CLI run against the double would see them.
    arm_env.seed_nsg(REF.resource_id, {"location": "westeurope"})
    with NsgClient(REF, resolve_endpoint("public", None), fake_credential, polling_interval=0) as client:
        doc, _ = client.get()
    assert doc["name"] == REF.name


def test_an_untrusted_certificate_is_refused(
    make_client: Callable[..., NsgClient], seeded: ArmDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = make_client(ca_bundle=None, max_attempts=1)
    with pytest.raises(AzureApiError, match=r"could not reach .*CERTIFICATE_VERIFY_FAILED"):
        client.get()
