"""Browsing queries: filters, prefix listing and merge, address lookup (checked against brute force)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from egress.core.model import Dataset
from egress.core.parse import parse_dataset
from egress.core.tag_query import (
    NSG_NO,
    NSG_YES,
    lookup,
    nsg_status,
    parse_query,
    select_tags,
    summarize,
    tag_prefixes,
)
from egress.errors import UnknownTagError, UsageError


@pytest.fixture(scope="module")
def raw(shared_data: Path) -> dict:
    return json.loads((shared_data / "servicetags" / "ServiceTags_Public_20250127.json").read_bytes())


@pytest.fixture(scope="module")
def ds(raw: dict) -> Dataset:
    return parse_dataset(json.dumps(raw).encode(), source="ServiceTags_Public_20250127.json")


def test_lookup_agrees_with_brute_force(ds: Dataset, raw: dict) -> None:
    networks = [
        (v["name"], p, ipaddress.ip_network(p))
        for v in raw["values"]
        for p in v["properties"]["addressPrefixes"]
    ]
    # Addresses inside real prefixes (first and last address, both families), plus some outside Azure.
    picks = networks[:: len(networks) // 4]
    queries = [str(n[2].network_address) for n in picks] + [str(n[2].broadcast_address) for n in picks[:2]]
    queries += ["10.0.0.1", "192.0.2.1", "::1"]
    v6 = next(n for n in networks if n[2].version == 6)
    queries.append(str(v6[2].network_address + 1))

    results = lookup(ds, queries)
    for query, result in zip(queries, results, strict=True):
        addr = ipaddress.ip_address(query)
        expected = {(name, p) for name, p, net in networks if addr in net}
        assert {(m.tag, m.prefix) for m in result.matches} == expected, query
    assert results[-4].matches == () and results[-2].matches == ()
    assert any(len(r.matches) >= 2 for r in results)


def test_lookup_of_a_prefix_finds_containing_prefixes(ds: Dataset) -> None:
    storage = ds.get("Storage.EastUS")
    first_v4 = storage.ipv4()[0]
    (result,) = lookup(ds, [first_v4])
    tags = {m.tag for m in result.matches}
    assert {"Storage.EastUS", "Storage"} <= tags
    for match in result.matches:
        assert ipaddress.ip_network(first_v4).subnet_of(ipaddress.ip_network(match.prefix))  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["1.2.3", "300.1.1.1", "eastus", "", "10.0.0.0/33", "2603::zz"])
def test_malformed_queries_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="is not an IP address or prefix"):
        parse_query(bad)


def test_select_by_region_service_and_nsg(ds: Dataset, raw: dict) -> None:
    eastus = select_tags(ds, region="EastUS")
    assert {t.name for t in eastus} == {
        v["name"] for v in raw["values"] if v["properties"]["region"] == "eastus"
    }
    backup = select_tags(ds, service="azurebackup")
    assert {t.name for t in backup} == {
        v["name"]
        for v in raw["values"]
        if v["name"].split(".")[0] == "AzureBackup" or v["properties"]["systemService"] == "AzureBackup"
    }
    usable = select_tags(ds, service="AzureBackup", nsg_usable=True)
    assert [t.name for t in usable] == [
        t.name for t in backup if "NSG" in (ds.get(t.name).network_features or ())
    ]
    assert "AzureBackup.EastUS" not in {t.name for t in usable}
    assert select_tags(ds, service="Storage*", region="eastus")[0].name == "Storage.EastUS"


def test_unknown_filters_suggest(ds: Dataset) -> None:
    with pytest.raises(UnknownTagError, match="did you mean AzureBackup"):
        select_tags(ds, service="AzureBackp")
    with pytest.raises(UnknownTagError, match=r"unknown region 'eastuss'.*eastus"):
        select_tags(ds, region="eastuss")


def test_summary_counts_families(ds: Dataset, raw: dict) -> None:
    entry = next(v for v in raw["values"] if v["name"] == "AzureBackup.EastUS")
    row = summarize(ds.get("azurebackup.eastus"))
    prefixes = entry["properties"]["addressPrefixes"]
    assert (row.ipv4, row.ipv6) == (
        sum(1 for p in prefixes if ipaddress.ip_network(p).version == 4),
        sum(1 for p in prefixes if ipaddress.ip_network(p).version == 6),
    )
    assert row.nsg == NSG_NO and row.to_dict()["nsgUsable"] is False
    assert nsg_status(ds.get("AzureBackup")) == NSG_YES


@pytest.mark.parametrize("tag", ["AzureCloud.eastus", "Storage.EastUS", "AzureBackup"])
def test_merge_covers_exactly_the_same_addresses(ds: Dataset, tag: str) -> None:
    t = ds.get(tag)
    merged = tag_prefixes(t, merge=True)
    for version, family in ((4, "ipv4"), (6, "ipv6")):
        original = [ipaddress.ip_network(p) for p in t.prefixes if ipaddress.ip_network(p).version == version]
        oracle = sorted(ipaddress.collapse_addresses(original))  # type: ignore[type-var]
        assert [ipaddress.ip_network(p) for p in tag_prefixes(t, family=family, merge=True)] == oracle
    assert len(merged) <= len(set(t.prefixes))


def test_prefixes_are_sorted_numerically_ipv4_first(ds: Dataset) -> None:
    listed = tag_prefixes(ds.get("AzureCloud.eastus"))
    nets = [ipaddress.ip_network(p) for p in listed]
    assert nets == sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    assert len(listed) == len(set(ds.get("AzureCloud.eastus").prefixes))
    assert all(":" not in p for p in tag_prefixes(ds.get("AzureCloud.eastus"), family="ipv4"))
    assert all(":" in p for p in tag_prefixes(ds.get("AzureCloud.eastus"), family="ipv6"))
