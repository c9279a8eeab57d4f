"""The data model: case-insensitive lookups with canonical names, suggestions, regions, clouds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egress.core.model import Dataset, Provenance, ServiceTag, cloud_key, cloud_name
from egress.core.parse import parse_dataset
from egress.errors import UnknownTagError, UsageError

PROV = Provenance(cloud="Public", change_number=1, source="test", kind="file", sha256="")


def _dataset() -> Dataset:
    return Dataset(
        PROV,
        (
            ServiceTag("Storage.EastUS", region="eastus", prefixes=("20.60.0.0/24", "2603:1030:213::/48")),
            ServiceTag("AzureCloud.eastus", region="eastus", prefixes=("20.60.0.0/16",)),
            ServiceTag(
                "AzureBackup.EastUS", region="eastus", network_features=("API",), prefixes=("20.1.0.0/28",)
            ),
            ServiceTag("AzureBackup", network_features=("API", "NSG"), prefixes=("20.1.0.0/28",)),
            ServiceTag("Storage.WestEurope", region="westeurope", prefixes=("20.61.0.0/24",)),
        ),
    )


def test_tags_are_found_in_any_case_and_returned_in_canonical_spelling() -> None:
    ds = _dataset()
    assert ds.get("storage.eastus").name == "Storage.EastUS"
    assert ds.get("  AZURECLOUD.EASTUS ").name == "AzureCloud.eastus"
    assert "azurebackup" in ds and "Nope" not in ds and 42 not in ds
    assert [t.name for t in ds] == sorted((t.name for t in ds), key=str.lower)


def test_unknown_tag_suggests_close_names() -> None:
    with pytest.raises(UnknownTagError) as err:
        _dataset().get("Storage.EastUs2")
    assert "did you mean Storage.EastUS" in str(err.value)
    with pytest.raises(UnknownTagError, match="egress ranges list"):
        _dataset().get("CompletelyDifferent")


def test_regions_and_regional_tags() -> None:
    ds = _dataset()
    assert ds.regions() == ["eastus", "westeurope"]
    assert ds.check_region("East US") == "eastus"
    assert ds.regional("azurebackup", "EASTUS").name == "AzureBackup.EastUS"
    with pytest.raises(UnknownTagError, match="did you mean westeurope"):
        ds.check_region("westeurop")
    with pytest.raises(UnknownTagError, match="no AzureBackup tag for region 'westeurope'"):
        ds.regional("AzureBackup", "westeurope")


def test_nsg_usability_and_families() -> None:
    ds = _dataset()
    assert not ds.get("AzureBackup.EastUS").nsg_usable
    assert ds.get("AzureBackup").nsg_usable
    assert ds.get("Storage.EastUS").nsg_usable  # field absent: assumed usable
    assert ds.get("Storage.EastUS").ipv4() == ("20.60.0.0/24",)
    assert ds.get("Storage.EastUS").ipv6() == ("2603:1030:213::/48",)
    assert ds.get("Storage.EastUS").base == "Storage"
    assert ds.prefix_count() == 6 and len(ds.unique_prefixes()) == 5


def test_clouds() -> None:
    assert [cloud_name(c) for c in ("public", "USGOV", "china", "germany")] == [
        "Public",
        "AzureGovernment",
        "China",
        "AzureGermany",
    ]
    assert cloud_name("AzureGovernment") == "AzureGovernment"
    assert cloud_key("azuregovernment") == "usgov"
    with pytest.raises(UsageError, match="use one of public, usgov, china, germany"):
        cloud_name("mars")


def test_provenance_serializes_every_field() -> None:
    prov = Provenance(
        "China", 404, "https://x/ServiceTags_China_20260713.json", "download", "ab", "2026-07-13", "t", "/p"
    )
    assert prov.to_dict() == {
        "cloud": "China",
        "changeNumber": 404,
        "source": "https://x/ServiceTags_China_20260713.json",
        "kind": "download",
        "sha256": "ab",
        "fileDate": "2026-07-13",
        "fetchedAt": "t",
        "path": "/p",
    }


def test_real_file_case_variants(shared_data: Path) -> None:
    raw = json.loads((shared_data / "servicetags" / "ServiceTags_Public_20240617.json").read_bytes())
    ds = parse_dataset(json.dumps(raw).encode(), source="x")
    names = [v["name"] for v in raw["values"]]
    # Every name resolves from its lower-case form to itself: no two tags differ only by case.
    assert len({n.lower() for n in names}) == len(names)
    assert all(ds.get(n.lower()).name == n for n in names)
