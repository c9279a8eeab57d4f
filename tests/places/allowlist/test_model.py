"""The exported prefix set on real tags: exact union, merge and budget keep the addresses; provenance per prefix."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egress.core import prefixes as px
from egress.core.model import Provenance, ServiceTag
from egress.errors import UsageError
from egress.places.allowlist.model import build_export, check_name, default_name, slug, tag_sizes
from tests.places.allowlist.conftest import SMALL_TAGS, dataset, export_of, request

PROV = Provenance(cloud="Public", change_number=1, source="test", kind="file", sha256="0" * 64)


def _addresses(prefixes: list[str]) -> set[tuple[int, int, int]]:
    return set(px.aggregate(px.parse_prefix(p) for p in prefixes))


def test_union_of_real_tags_without_merge_is_every_published_prefix_once() -> None:
    ds = dataset()
    export = export_of(request("csv"))
    published = {px.format_prefix(px.parse_prefix(p)) for t in SMALL_TAGS for p in ds.get(t).prefixes}
    assert set(export.prefixes()) == published
    assert len(export.prefixes()) == len(published)
    v4 = [e for e in export.entries if e.version == 4]
    assert export.entries[: len(v4)] == tuple(v4)  # IPv4 first
    for entry in export.entries:
        holders = {t for t in SMALL_TAGS if entry.prefix in ds.get(t).prefixes}
        assert {s.tag for s in entry.sources} == holders
        assert all(s.region == "westus2" for s in entry.sources)


def test_merge_keeps_exactly_the_same_addresses_and_names_overlapping_tags() -> None:
    plain = export_of(request("csv"))
    merged = export_of(request("csv", merge=True))
    assert merged.merged and len(merged.entries) <= len(plain.entries)
    assert _addresses(list(merged.prefixes())) == _addresses(list(plain.prefixes()))
    for entry in merged.entries:
        net = px.parse_prefix(entry.prefix)
        overlapping = {
            s.tag for e in plain.entries for s in e.sources if px.contains(net, px.parse_prefix(e.prefix))
        }
        assert {s.tag for s in entry.sources} == overlapping


def test_budget_covers_every_address_within_k_prefixes_and_reports_the_extra() -> None:
    plain = export_of(request("csv", tags=("AzureBackup",)))
    capped = export_of(request("csv", tags=("AzureBackup",), max_prefixes=50))
    assert len(capped.entries) <= 50
    cover = [px.parse_prefix(p) for p in capped.prefixes()]
    assert px.subtract([px.parse_prefix(p) for p in plain.prefixes()], cover) == []
    extra = px.address_count(cover) - px.address_count(px.parse_prefix(p) for p in plain.prefixes())
    assert extra == capped.extra_ipv4 + capped.extra_ipv6 > 0


def test_family_filter_and_sizes() -> None:
    v6 = export_of(request("csv", family="ipv6"))
    assert v6.prefixes() and all(":" in p for p in v6.prefixes())
    sizes = tag_sizes([dataset().get("Storage.WestUS2")], "ipv6")
    assert sizes["Storage.WestUS2"].ipv4 == 0 and sizes["Storage.WestUS2"].ipv6 > 0


def test_an_empty_list_is_refused() -> None:
    tag = ServiceTag(name="Empty", prefixes=("10.0.0.0/8",))
    with pytest.raises(UsageError, match="hold no ipv6 prefixes"):
        build_export([tag], PROV, name="x", family="ipv6")


def test_provenance_text_is_stable_across_files_with_the_same_tags() -> None:
    # 20240610 -> 20240617: AzureBackup did not change, the file's changeNumber did.
    a = export_of(request("edl", tags=("AzureBackup",)), "20240610")
    b = export_of(request("edl", tags=("AzureBackup",)), "20240617")
    assert a.provenance.change_number != b.provenance.change_number
    assert a.provenance_text() == b.provenance_text()


@pytest.mark.parametrize(
    ("tags", "name"),
    [
        (["AzureBackup"], "azure_backup"),
        (["Storage.EastUS"], "storage_east_us"),
        (["A", "B"], "azure_egress"),
    ],
)
def test_default_names(tags: list[str], name: str) -> None:
    assert default_name(tags) == name
    check_name(name)


@pytest.mark.parametrize("bad", ["", "Azure", "1abc", "a-b", "a b", "x" * 25, "a;drop"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        check_name(bad)


def test_slug_never_starts_with_a_digit() -> None:
    assert slug("123") == ""


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)), min_size=1, max_size=30),
    st.integers(1, 10),
)
def test_property_budget_and_merge_cover_the_union(nets: list[tuple[int, int]], k: int) -> None:
    prefixes = tuple(px.format_prefix((4, n & ~((1 << (32 - length)) - 1), length)) for n, length in nets)
    tag = ServiceTag(name="T", prefixes=prefixes)
    union = [px.parse_prefix(p) for p in prefixes]
    merged = build_export([tag], PROV, name="t", merge=True)
    assert set(px.aggregate(px.parse_prefix(p) for p in merged.prefixes())) == set(px.aggregate(union))
    capped = build_export([tag], PROV, name="t", max_prefixes=k)
    assert len(capped.entries) <= k
    assert px.subtract(union, [px.parse_prefix(p) for p in capped.prefixes()]) == []
