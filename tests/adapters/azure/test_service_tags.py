"""The Service Tag Discovery API through NsgClient, and the conversion to the weekly file's shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from egress.adapters.azure import NsgClient, service_tags_to_weekly
from egress.errors import FetchError, TargetError
from tests.adapters.azure.nsgdata import SUB
from tests.armdouble import ArmDouble

WEEKLY: dict[str, Any] = {
    "changeNumber": 342,
    "cloud": "Public",
    "values": [
        {"name": "AzureBackup", "id": "AzureBackup",
         "properties": {"changeNumber": 40, "region": "", "regionId": 0, "platform": "Azure",
                        "systemService": "AzureBackup", "addressPrefixes": ["20.38.0.0/24", "2603:1000::/40"],
                        "networkFeatures": ["API", "NSG", "UDR", "FW"]}},
        {"name": "AzureBackup.WestEurope", "id": "AzureBackup.WestEurope",
         "properties": {"changeNumber": 5, "region": "westeurope", "regionId": 18, "platform": "Azure",
                        "systemService": "AzureBackup", "addressPrefixes": ["20.38.0.0/26"],
                        "networkFeatures": ["API"]}},
        {"name": "Storage.WestEurope", "id": "Storage.WestEurope",
         "properties": {"changeNumber": 61, "region": "westeurope", "regionId": 18, "platform": "Azure",
                        "systemService": "AzureStorage",
                        "addressPrefixes": ["13.69.40.0/24", "20.38.96.0/19"],
                        "networkFeatures": ["API", "NSG", "UDR", "FW"]}},
    ],
}  # fmt: skip


@pytest.fixture
def tags_file(tmp_path: Path) -> Path:
    path = tmp_path / "ServiceTags_Public_20250120.json"
    path.write_text(json.dumps(WEEKLY))
    return path


@pytest.mark.parametrize("page_size", [None, 1])
def test_list_service_tags_in_the_weekly_shape(
    client: NsgClient, seeded: ArmDouble, tags_file: Path, page_size: int | None
) -> None:
    seeded.set_service_tags(tags_file)
    seeded.service_tags_page_size = page_size
    result = client.list_service_tags(SUB, "westeurope")
    assert result == {
        "changeNumber": 342,
        "cloud": "Public",
        "values": [
            {"name": "AzureBackup", "id": "AzureBackup",
             "properties": {"changeNumber": 40, "region": "", "systemService": "AzureBackup",
                            "addressPrefixes": ["20.38.0.0/24", "2603:1000::/40"]}},
            {"name": "Storage.WestEurope", "id": "Storage.WestEurope",
             "properties": {"changeNumber": 61, "region": "westeurope", "systemService": "AzureStorage",
                            "addressPrefixes": ["13.69.40.0/24", "20.38.96.0/19"]}},
        ],
    }  # fmt: skip
    pages = 2 if page_size else 1
    assert dict(client.requests) == {"GET": pages} == {"GET": seeded.count(kind="service-tags")}
    assert all("/locations/westeurope/serviceTags" in r.path for r in seeded.requests)


def test_next_link_to_another_host_is_not_followed(
    client: NsgClient, seeded: ArmDouble, tags_file: Path
) -> None:
    seeded.set_service_tags(tags_file)
    seeded.service_tags_page_size = 1
    real = seeded.base_url
    seeded.base_url = "https://attacker.example"  # the double now writes nextLinks to another host
    try:
        with pytest.raises(
            FetchError, match=r"refusing to follow the service-tag nextLink to attacker\.example"
        ):
            client.list_service_tags(SUB, "westeurope")
    finally:
        seeded.base_url = real


def test_unknown_subscription_is_a_target_error(client: NsgClient, seeded: ArmDouble) -> None:
    seeded.inject(
        "status", status=404, code="SubscriptionNotFound", message="The subscription was not found."
    )
    with pytest.raises(
        TargetError, match=r"service tags of subscription .* not found .*check the subscription"
    ):
        client.list_service_tags(SUB, "westeurope")


def test_conversion_rejects_non_numeric_change_numbers() -> None:
    page = {
        "changeNumber": "63",
        "cloud": "Public",
        "values": [{"name": "X", "properties": {"changeNumber": "7a"}}],
    }
    with pytest.raises(FetchError, match="changeNumber '7a' for X"):
        service_tags_to_weekly([page])
    with pytest.raises(FetchError, match="names no cloud"):
        service_tags_to_weekly([{"changeNumber": "1", "values": []}])


def test_conversion_of_the_spec_example() -> None:
    example = {
        "name": "public", "id": "/subscriptions/subId/providers/Microsoft.Network/serviceTags/public",
        "type": "Microsoft.Network/serviceTags", "changeNumber": "63", "cloud": "Public",
        "values": [{"name": "ApiManagement", "id": "ApiManagement",
                    "properties": {"changeNumber": "7", "region": "", "systemService": "AzureApiManagement",
                                   "addressPrefixes": ["13.64.39.16/32"]}}],
    }  # fmt: skip
    weekly = service_tags_to_weekly([example])
    assert weekly["changeNumber"] == 63 and weekly["values"][0]["properties"]["changeNumber"] == 7
    assert set(weekly) == {"changeNumber", "cloud", "values"}
