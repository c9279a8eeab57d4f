"""Parsing Microsoft's real files (every one in tests/data/microsoft) and crafted variants of them."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from pathlib import Path

import pytest

from egress.core.model import CLOUDS
from egress.core.parse import (
    detect_format,
    file_date_from_name,
    parse_dataset,
    validate_dataset,
)
from egress.core.tag_query import NSG_UNKNOWN, nsg_status
from egress.errors import DataError
from tests.conftest import SHARED_DATA


def _shared(pattern: str) -> list[object]:
    found = sorted(SHARED_DATA.glob(pattern))
    assert found, f"no {pattern} under {SHARED_DATA}"
    return [pytest.param(p, id=p.name) for p in found]


def _load(path: Path):  # type: ignore[no-untyped-def]
    return parse_dataset(path.read_bytes(), source=str(path))


@pytest.mark.parametrize("path", _shared("servicetags/ServiceTags_*.json"))
def test_every_weekly_file_loads_with_the_files_own_counts(path: Path) -> None:
    raw_bytes = path.read_bytes()
    raw = json.loads(raw_bytes)
    dataset = parse_dataset(raw_bytes, source=str(path))

    prov = dataset.provenance
    assert prov.cloud == raw["cloud"] and prov.cloud in CLOUDS.values()
    assert prov.change_number == raw["changeNumber"]
    assert prov.sha256 == hashlib.sha256(raw_bytes).hexdigest()
    assert prov.file_date == "-".join(re.search(r"(\d{4})(\d{2})(\d{2})", path.name).groups())  # type: ignore[union-attr]
    assert len(dataset) == len(raw["values"])
    assert dataset.prefix_count() == sum(len(v["properties"]["addressPrefixes"]) for v in raw["values"])
    for entry in raw["values"][:: max(1, len(raw["values"]) // 50)]:
        tag = dataset.get(entry["name"].upper())  # any case finds it ...
        assert tag.name == entry["name"]  # ... and it comes back in the file's spelling
        props = entry["properties"]
        assert tag.prefixes == tuple(props["addressPrefixes"])
        assert tag.change_number == props["changeNumber"]
        assert tag.region == props["region"]
        assert tag.nsg_usable == ("NSG" in (props.get("networkFeatures") or []))
    validate_dataset(dataset, expect_cloud=raw["cloud"])


def test_public_20250127_spot_check(shared_data: Path) -> None:
    dataset = _load(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")
    assert len(dataset) == 2647 and dataset.provenance.change_number == 343
    backup = dataset.get("azurebackup.eastus")
    assert backup.name == "AzureBackup.EastUS" and backup.region == "eastus"
    assert not backup.nsg_usable  # regional AzureBackup tags lack NSG: expand them to CIDRs instead
    assert dataset.get("Storage.EastUS").system_service == "AzureStorage"
    assert dataset.get("AzureCloud.eastus").name == "AzureCloud.eastus"  # case differs between tags


@pytest.mark.parametrize("path", _shared("legacy/PublicIPs_*.xml"))
def test_legacy_xml_becomes_region_pseudo_tags(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    regions = re.findall(r'<Region Name="([^"]+)"', text)
    subnets = re.findall(r'Subnet="([^"]+)"', text)
    dataset = _load(path)

    # The 2020-08-26 file: 45 <Region> elements -> 45 pseudo-tags plus the AzureCloud union = 46 tags.
    assert len(regions) == len(set(regions)) == 45
    assert len(dataset) == len(regions) + 1 == 46
    assert {t.name for t in dataset} == {f"AzureCloud.{r}" for r in regions} | {"AzureCloud"}
    assert set(dataset.get("AzureCloud").prefixes) == set(subnets)
    assert dataset.get("azurecloud.EUROPEWEST").region == "europewest"
    assert all(ipaddress.ip_network(p).version == 4 for p in subnets)
    assert dataset.provenance.kind == "legacy-xml" and dataset.provenance.change_number is None
    assert nsg_status(dataset.get("AzureCloud.useast")) == NSG_UNKNOWN
    validate_dataset(dataset)


def _crafted(shared_data: Path, name: str = "ServiceTags_Public_20250127.json") -> dict:
    return json.loads((shared_data / "servicetags" / name).read_bytes())


def test_2019_style_file_without_region_id_and_network_features(shared_data: Path, tmp_path: Path) -> None:
    raw = _crafted(shared_data)
    for entry in raw["values"]:
        entry["properties"].pop("regionId")
        entry["properties"].pop("networkFeatures", None)
    path = tmp_path / "ServiceTags_Public_20191021.json"
    path.write_text(json.dumps(raw))
    dataset = _load(path)
    assert len(dataset) == len(raw["values"])
    assert all(t.network_features is None and t.region_id is None for t in dataset)
    assert {nsg_status(t) for t in dataset} == {NSG_UNKNOWN}
    assert dataset.get("AzureBackup.EastUS").nsg_usable  # unknown is treated as usable by the model
    assert dataset.provenance.file_date == "2019-10-21"


def test_null_network_features_means_not_nsg_usable(shared_data: Path) -> None:
    raw = _crafted(shared_data)
    raw["values"][0]["properties"]["networkFeatures"] = None
    dataset = parse_dataset(json.dumps(raw).encode(), source="x.json")
    tag = dataset.get(raw["values"][0]["name"])
    assert tag.network_features == () and not tag.nsg_usable


def test_azure_germany_file(shared_data: Path, tmp_path: Path) -> None:
    raw = _crafted(shared_data, "ServiceTags_AzureGovernment_20260713.json")
    raw["cloud"] = "AzureGermany"
    path = tmp_path / "ServiceTags_AzureGermany_20200601.json"
    path.write_text(json.dumps(raw))
    dataset = _load(path)
    assert dataset.provenance.cloud == "AzureGermany" and len(dataset) == len(raw["values"])
    validate_dataset(dataset, expect_cloud="AzureGermany")
    with pytest.raises(DataError, match="cloud 'AzureGermany', expected 'Public'"):
        validate_dataset(dataset, expect_cloud="Public")


def test_discovery_api_answer_with_string_change_numbers() -> None:
    # The shape of the REST spec's ServiceTagsList example (changeNumber strings, extra top-level fields).
    answer = {
        "name": "public",
        "id": "/subscriptions/subId/providers/Microsoft.Network/serviceTags/public",
        "type": "Microsoft.Network/serviceTags",
        "changeNumber": "63",
        "cloud": "Public",
        "values": [
            {
                "name": "ApiManagement.AustraliaCentral",
                "id": "ApiManagement.AustraliaCentral",
                "properties": {
                    "changeNumber": "2",
                    "region": "australiacentral",
                    "systemService": "AzureApiManagement",
                    "addressPrefixes": ["20.36.106.68/31", "20.36.107.176/28"],
                },
            }
        ],
    }
    dataset = parse_dataset(json.dumps(answer).encode(), source="api:subId/westcentralus", kind="api")
    assert dataset.provenance.change_number == 63 and dataset.provenance.kind == "api"
    tag = dataset.get("apimanagement.australiacentral")
    assert tag.change_number == 2 and tag.prefixes == ("20.36.106.68/31", "20.36.107.176/28")
    validate_dataset(dataset, expect_cloud="Public")


def test_odd_change_numbers_are_unknown_not_a_crash() -> None:
    # "²" is a digit to str.isdigit() yet not to int(); "１２" (full-width) is a number to both.
    entry = {"name": "A", "properties": {"changeNumber": "²", "regionId": "１２", "addressPrefixes": []}}
    dataset = parse_dataset(
        json.dumps({"cloud": "Public", "changeNumber": "12", "values": [entry]}).encode(), source="f"
    )
    assert dataset.provenance.change_number == 12
    assert dataset.get("a").change_number is None and dataset.get("a").region_id == 12


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "has no `changeNumber`"),
        ("abc", "invalid `changeNumber` ('abc')"),
        ("³", "invalid"),
        (True, "invalid"),
        (-3, "invalid"),
        (3.5, "invalid"),
        ({"n": 1}, "invalid"),
    ],
)
def test_a_file_without_a_whole_change_number_is_refused(value: object, shown: str) -> None:
    # Issue 15: such a file was accepted and slipped past "never move backwards".
    doc: dict[str, object] = {
        "cloud": "Public",
        "values": [{"name": "A", "properties": {"addressPrefixes": []}}],
    }
    if value is not None:
        doc["changeNumber"] = value
    with pytest.raises(DataError, match=re.escape(shown)):
        parse_dataset(json.dumps(doc).encode(), source="f.json")


BAD_INPUTS = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00", "not a service-tag file"),
    "empty": (b"", "not a service-tag file"),
    "json-array": (b"[1, 2]", "not a service-tag file"),
    "json-other-shape": (b'{"name": "x", "items": []}', "no `values` list"),
    "no-cloud": (b'{"values": []}', "no `cloud` field"),
    "values-not-objects": (b'{"cloud": "Public", "values": [1]}', "not an object"),
    "entry-without-name": (b'{"cloud": "Public", "values": [{"properties": {}}]}', "no name or properties"),
    "prefixes-not-list": (
        b'{"cloud": "Public", "values": [{"name": "A", "properties": {"addressPrefixes": "1.2.3.0/24"}}]}',
        "not a list of strings",
    ),
    "duplicate-tag": (
        b'{"cloud": "Public", "values": [{"name": "A.x", "properties": {}}, {"name": "a.X", "properties": {}}]}',
        "appears twice",
    ),
    "truncated-json": (b'{"cloud": "Public", "values": [{"name"', "not valid JSON"),
    "deep-json": (b'{"a":' + b"[" * 100000, "not valid JSON"),
    "not-utf8-json": (b'{"cloud": "\xff\xfe"}', "not valid JSON"),
    "xml-other-root": (b"<html><body>hi</body></html>", "expected <AzurePublicIpAddresses>"),
    "xml-no-regions": (b"<AzurePublicIpAddresses></AzurePublicIpAddresses>", "no <Region>"),
    "xml-broken": (b"<AzurePublicIpAddresses><Region Name=", "not valid XML"),
    "xml-entity-bomb": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<AzurePublicIpAddresses><Region Name="&b;"/></AzurePublicIpAddresses>',
        "forbidden constructs",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_one_line_data_error(case: str) -> None:
    data, expected = BAD_INPUTS[case]
    with pytest.raises(DataError) as err:
        parse_dataset(data, source="input.json")
    message = str(err.value)
    assert expected in message and "\n" not in message
    assert message.startswith("input.json")


def test_detect_format_tolerates_bom_and_whitespace() -> None:
    assert detect_format(b"\xef\xbb\xbf  {") == "json"
    assert detect_format(b"\n<?xml") == "xml"
    assert detect_format(b"\x00\x01") == "unknown"


def test_file_date_from_name() -> None:
    assert file_date_from_name("/x/ServiceTags_Public_20250127.json") == "2025-01-27"
    assert file_date_from_name("https://h/d/ServiceTags_China_Latest.json") is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], "empty `values`"),
        ([{"name": "A", "properties": {"addressPrefixes": []}}], "no address prefixes"),
        (
            [{"name": "A", "properties": {"addressPrefixes": ["1.2.3.0/24", "1.2.3.400/32"]}}],
            "invalid prefix",
        ),
        ([{"name": "A", "properties": {"addressPrefixes": ["2603:zz::/48"]}}], "invalid prefix"),
    ],
)
def test_validate_rejects_what_must_never_replace_a_good_file(values: list, expected: str) -> None:
    dataset = parse_dataset(
        json.dumps({"cloud": "Public", "changeNumber": 1, "values": values}).encode(), source="f.json"
    )
    with pytest.raises(DataError, match=re.escape(expected)):
        validate_dataset(dataset, expect_cloud="Public")
