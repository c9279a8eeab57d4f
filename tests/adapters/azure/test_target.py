from __future__ import annotations

import pytest

from egress.adapters.azure.target import (
    CLOUD_ENDPOINTS,
    NsgRef,
    parse_nsg_id,
    resolve_endpoint,
    subscription_id,
)
from egress.errors import UsageError

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
ID = (
    f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.Network/networkSecurityGroups/nsg-vm1"
)


@pytest.mark.parametrize(
    "text",
    [
        "azure:" + ID,
        ID,
        ID + "/",
        "  azure:" + ID + "  ",
        "AZURE:" + ID.lower().replace("microsoft.network", "MICROSOFT.NETWORK"),
        ID.lstrip("/"),
    ],
)
def test_parse_accepts_prefixed_bare_and_any_case(text: str) -> None:
    ref = parse_nsg_id(text)
    assert ref.subscription == SUB
    assert ref.resource_group.lower() == "rg-backup" and ref.name.lower() == "nsg-vm1"
    assert ref.resource_id.lower() == ID.lower()


def test_ref_spells_the_canonical_id() -> None:
    ref = NsgRef(SUB, "rg", "nsg")
    assert (
        ref.resource_id
        == f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg"
    )
    assert str(ref) == ref.target == "azure:" + ref.resource_id
    assert parse_nsg_id(ref.target) == ref


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "not an NSG resource id"),
        ("nsg-vm1", "not an NSG resource id"),
        ("azure:" + ID.replace("networkSecurityGroups", "virtualNetworks"), "not an NSG resource id"),
        ("azure:" + ID + "/securityRules/r1", "not an NSG resource id"),
        ("aws:" + ID, "not an NSG resource id"),
        ("azure:" + ID.replace(SUB, "my-subscription"), "is not a subscription id"),
        ("azure:" + ID.replace("nsg-vm1", "nsg-"), "is not a valid NSG name"),
        ("azure:" + ID.replace("nsg-vm1", "n" * 81), "is not a valid NSG name"),
        ("azure:" + ID.replace("rg-backup", "rg."), "is not a valid resource group name"),
        ("azure:" + ID.replace("rg-backup", "rg bad"), "is not a valid resource group name"),
    ],
)
def test_parse_rejects_with_a_clear_message(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says) as info:
        parse_nsg_id(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("cloud", "arm", "authority", "scope"),
    [
        ("public", "https://management.azure.com", "login.microsoftonline.com", "https://management.azure.com/.default"),
        ("usgov", "https://management.usgovcloudapi.net", "login.microsoftonline.us",
         "https://management.usgovcloudapi.net/.default"),
        ("china", "https://management.chinacloudapi.cn", "login.chinacloudapi.cn",
         "https://management.chinacloudapi.cn/.default"),
        ("AzureUSGovernment", "https://management.usgovcloudapi.net", "login.microsoftonline.us",
         "https://management.usgovcloudapi.net/.default"),
    ],
)  # fmt: skip
def test_cloud_endpoints(
    monkeypatch: pytest.MonkeyPatch, cloud: str, arm: str, authority: str, scope: str
) -> None:
    monkeypatch.delenv("EGRESS_ARM_ENDPOINT", raising=False)
    endpoint = resolve_endpoint(cloud, None)
    assert (endpoint.arm, endpoint.authority, endpoint.scope) == (arm, authority, scope)
    assert not endpoint.overridden
    assert set(CLOUD_ENDPOINTS) == {"public", "usgov", "china"}


def test_arm_endpoint_override_keeps_the_clouds_token_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGRESS_ARM_ENDPOINT", "https://127.0.0.1:8443/")
    from_env = resolve_endpoint("usgov", None)
    assert from_env.arm == "https://127.0.0.1:8443" and from_env.overridden
    assert from_env.scope == "https://management.usgovcloudapi.net/.default"
    assert resolve_endpoint("public", "https://arm.example.test").arm == "https://arm.example.test"


@pytest.mark.parametrize(
    "bad", ["http://127.0.0.1:8080", "management.azure.com", "https://x.test/?a=1", "https://"]
)
def test_arm_endpoint_must_be_an_https_base_url(bad: str) -> None:
    with pytest.raises(UsageError, match="https://"):
        resolve_endpoint("public", bad)


def test_unknown_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="unknown cloud 'germany'"):
        resolve_endpoint("germany", None)


def test_subscription_id_is_a_guid_in_lower_case() -> None:
    assert subscription_id(f" {SUB.upper()} ") == SUB
    for bad in ("sub-1", SUB[:-1], SUB + "0", f"{{{SUB}}}", SUB.replace("-", "")):
        with pytest.raises(UsageError, match=r"^--subscription .* is not a subscription id \(a GUID") as info:
            subscription_id(bad)
        assert "\n" not in str(info.value)


def test_fetch_service_tags_checks_the_subscription_before_making_a_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from egress.adapters.azure import credentials
    from egress.adapters.azure.service_tags import fetch_service_tags

    def no_sign_in(*args: object) -> None:
        raise AssertionError("a credential was made")

    monkeypatch.setattr(credentials, "make_credential", no_sign_in)
    with pytest.raises(UsageError, match="^subscription 'sub-1' is not a subscription id"):
        fetch_service_tags("sub-1", "eastus", "public", "environment")
