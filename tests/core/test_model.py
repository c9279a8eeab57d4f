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


def _lazy(tags: tuple[ServiceTag, ...], built: list[str]) -> Dataset:
    """The same tags behind Dataset.lazy, recording each name it builds."""

    def build(tag: ServiceTag) -> ServiceTag:
        built.append(tag.name)
        return tag

    return Dataset.lazy(PROV, {t.name.lower(): t for t in tags}, build, lambda t: (t.name, t.region))


def test_a_lazy_dataset_answers_as_the_built_one_and_builds_only_what_it_hands_out() -> None:
    eager = _dataset()
    built: list[str] = []
    lazy = _lazy(eager.tags[::-1], built)  # entries in another order than the sorted one
    assert len(lazy) == 5 and "STORAGE.eastus" in lazy and "Nope" not in lazy
    assert lazy.regions() == eager.regions() and lazy.check_region("East US") == "eastus"
    assert lazy.regional("azurebackup", "EASTUS").name == "AzureBackup.EastUS"
    assert lazy.get(" storage.EASTUS ") is lazy.find("Storage.EastUS")  # built once, then the same object
    assert lazy.find("Nope") is None
    with pytest.raises(UnknownTagError, match="did you mean Storage.EastUS"):
        lazy.get("Storage.EastUs2")
    with pytest.raises(UnknownTagError, match="no AzureBackup tag for region 'westeurope'"):
        lazy.regional("AzureBackup", "westeurope")
    assert sorted(built) == ["AzureBackup.EastUS", "Storage.EastUS"]
    # Iterating builds the rest, in the built Dataset's order; both then compare equal.
    assert list(lazy) == list(eager) and lazy.tags == eager.tags and lazy == eager
    assert sorted(built) == sorted(t.name for t in eager)
    assert lazy.prefix_count() == eager.prefix_count() and lazy.unique_prefixes() == eager.unique_prefixes()
    assert repr(lazy) == repr(eager)


def test_regional_takes_the_first_match_in_name_order_lazily_too() -> None:
    tags = (
        ServiceTag("AzureMonitor.EastUS.Extra", region="eastus"),
        ServiceTag("AzureMonitor.EastUS", region="eastus"),
        ServiceTag("AzureMonitor", region=""),
    )
    assert Dataset(PROV, tags).regional("AzureMonitor", "eastus").name == "AzureMonitor.EastUS"
    built: list[str] = []
    assert _lazy(tags, built).regional("azuremonitor", "eastus").name == "AzureMonitor.EastUS"
    assert built == ["AzureMonitor.EastUS"]


def test_a_plan_on_a_real_file_builds_only_the_tags_it_uses(shared_data: Path) -> None:
    from egress.core.parse import _name_and_region, _tag_from_entry
    from egress.core.spec import EgressSpec
    from egress.places.nsg.planner import build_rules

    data = (shared_data / "servicetags" / "ServiceTags_Public_20250127.json").read_bytes()
    built: list[str] = []

    def build(entry: dict[str, object]) -> ServiceTag:
        tag = _tag_from_entry(entry)  # type: ignore[arg-type]
        built.append(tag.name)
        return tag

    raw = json.loads(data)["values"]
    lazy = Dataset.lazy(PROV, {e["name"].lower(): e for e in raw}, build, _name_and_region)
    spec = EgressSpec(option="ip-ranges", region="eastus").validated()
    planned = build_rules(spec, lazy).to_json()
    assert sorted(built) == ["AzureActiveDirectory", "AzureBackup", "Storage.EastUS"]
    parsed = parse_dataset(data, source="x")
    eager = Dataset(parsed.provenance, parsed.tags)
    assert build_rules(spec, parsed).to_json() == build_rules(spec, eager).to_json()
    assert planned["rules"] == build_rules(spec, eager).to_json()["rules"]
    assert lazy.tags == parsed.tags == eager.tags and len(parsed) == 2647
