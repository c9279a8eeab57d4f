"""Content-based comparison of datasets, checked against the real consecutive weekly files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from egress.core.diff import ADDED, CHANGED, REMOVED, content_digest, diff_datasets, matches_any
from egress.core.model import Dataset
from egress.core.parse import parse_dataset

PAIRS = [
    ("ServiceTags_Public_20240610.json", "ServiceTags_Public_20240617.json"),
    ("ServiceTags_Public_20250120.json", "ServiceTags_Public_20250127.json"),
]


def _raw(shared_data: Path, name: str) -> dict:
    return json.loads((shared_data / "servicetags" / name).read_bytes())


def _ds(raw: dict, source: str = "x.json") -> Dataset:
    return parse_dataset(json.dumps(raw).encode(), source=source)


def _prefix_map(raw: dict) -> dict[str, set[str]]:
    return {v["name"]: set(v["properties"]["addressPrefixes"]) for v in raw["values"]}


@pytest.mark.parametrize(("old_name", "new_name"), PAIRS)
def test_real_consecutive_weeks_match_a_plain_set_comparison(
    shared_data: Path, old_name: str, new_name: str
) -> None:
    old_raw, new_raw = _raw(shared_data, old_name), _raw(shared_data, new_name)
    diff = diff_datasets(_ds(old_raw, old_name), _ds(new_raw, new_name))

    old_map, new_map = _prefix_map(old_raw), _prefix_map(new_raw)
    expected = {
        name: (
            new_map.get(name, set()) - old_map.get(name, set()),
            old_map.get(name, set()) - new_map.get(name, set()),
        )
        for name in old_map.keys() | new_map.keys()
    }
    expected = {n: ar for n, ar in expected.items() if ar != (set(), set())}
    got = {t.name: (set(t.added), set(t.removed)) for t in diff.tags if t.added or t.removed}
    assert got == expected
    assert set(diff.added_tags) == new_map.keys() - old_map.keys()
    assert set(diff.removed_tags) == old_map.keys() - new_map.keys()
    assert diff.prefixes_added == sum(len(a) for a, _ in expected.values())
    assert (
        diff.old.change_number == old_raw["changeNumber"]
        and diff.new.change_number == new_raw["changeNumber"]
    )
    assert diff.tags and not diff.is_empty
    assert [t.name.lower() for t in diff.tags] == sorted(t.name.lower() for t in diff.tags)


def test_change_number_bump_alone_is_no_change(shared_data: Path) -> None:
    raw = _raw(shared_data, "ServiceTags_Public_20250127.json")
    bumped = copy.deepcopy(raw)
    bumped["changeNumber"] += 7
    for entry in bumped["values"]:
        entry["properties"]["changeNumber"] += 1
    bumped["values"].reverse()  # order of entries and prefixes is not content either
    for entry in bumped["values"]:
        entry["properties"]["addressPrefixes"].reverse()
    old, new = _ds(raw), _ds(bumped)
    diff = diff_datasets(old, new)
    assert diff.is_empty and diff.to_dict()["changed"] is False
    assert content_digest(old) == content_digest(new)


def test_digest_sees_a_single_prefix_and_a_feature_change(shared_data: Path) -> None:
    raw = _raw(shared_data, "ServiceTags_Public_20250127.json")
    base = content_digest(_ds(raw))
    one_prefix = copy.deepcopy(raw)
    one_prefix["values"][5]["properties"]["addressPrefixes"].pop()
    assert content_digest(_ds(one_prefix)) != base
    feature = copy.deepcopy(raw)
    feature["values"][5]["properties"]["networkFeatures"] = ["API"]
    assert content_digest(_ds(feature)) != base


def test_added_removed_and_property_changes(shared_data: Path) -> None:
    raw = _raw(shared_data, "ServiceTags_Public_20250127.json")
    new = copy.deepcopy(raw)
    by_name = {v["name"]: v for v in new["values"]}
    removed = by_name.pop("AzureBackup.EastUS")
    new["values"].remove(removed)
    new["values"].append(
        {
            "name": "Brand.NewTag",
            "id": "Brand.NewTag",
            "properties": {"addressPrefixes": ["10.9.0.0/16", "10.1.0.0/16"]},
        }
    )
    by_name["AzureBackup"]["properties"]["networkFeatures"] = ["API"]
    storage = by_name["Storage.EastUS"]["properties"]
    storage["addressPrefixes"] = [*storage["addressPrefixes"][1:], "203.0.113.0/24"]

    diff = diff_datasets(_ds(raw), _ds(new))
    assert diff.added_tags == ("Brand.NewTag",)
    assert diff.removed_tags == ("AzureBackup.EastUS",)
    assert set(diff.changed_tags) == {"AzureBackup", "Storage.EastUS"}

    added = diff.get("brand.newtag")
    assert added is not None and added.status == ADDED
    assert added.added == ("10.1.0.0/16", "10.9.0.0/16")  # numeric order
    gone = diff.get("AzureBackup.EastUS")
    assert gone is not None and gone.status == REMOVED
    assert set(gone.removed) == set(removed["properties"]["addressPrefixes"]) and gone.new_count == 0
    backup = diff.get("AzureBackup")
    assert backup is not None and backup.status == CHANGED and backup.changed_fields == ("networkFeatures",)
    assert backup.added == backup.removed == ()
    st = diff.get("Storage.EastUS")
    assert st is not None
    assert st.added == ("203.0.113.0/24",) and st.removed == (raw_storage_first(raw),)
    assert st.old_count == st.new_count


def raw_storage_first(raw: dict) -> str:
    return next(v for v in raw["values"] if v["name"] == "Storage.EastUS")["properties"]["addressPrefixes"][0]


def test_patterns_are_case_insensitive_fnmatch(shared_data: Path) -> None:
    old = _ds(_raw(shared_data, "ServiceTags_Public_20250120.json"))
    new = _ds(_raw(shared_data, "ServiceTags_Public_20250127.json"))
    full = diff_datasets(old, new)
    only = diff_datasets(old, new, ["azurecloud.*", "STORAGE.westus2"])
    assert only.patterns == ("azurecloud.*", "STORAGE.westus2")
    assert [t.name for t in only.tags] == [
        t.name for t in full.tags if t.name.lower().startswith("azurecloud.") or t.name == "Storage.WestUS2"
    ]
    assert only.tags and diff_datasets(old, new, ["NoSuchTag*"]).is_empty
    assert matches_any("AzureBackup.EastUS", ["azurebackup*"])
    assert not matches_any("AzureBackup.EastUS", ["storage*"])
    assert matches_any("anything", [])


def test_equivalent_prefix_spellings_are_equal() -> None:
    def one(prefixes: list[str]) -> Dataset:
        return _ds(
            {
                "cloud": "Public",
                "changeNumber": 1,
                "values": [{"name": "T", "properties": {"addressPrefixes": prefixes}}],
            }
        )

    assert diff_datasets(
        one(["2603:1000:0::/40", "10.0.0.0/8"]), one(["2603:1000::/40", "10.0.0.0/8"])
    ).is_empty
    assert not diff_datasets(one(["10.0.0.0/8"]), one(["10.0.0.0/9"])).is_empty
