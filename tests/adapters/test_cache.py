"""The cache writer: atomic replace, sidecars, bounded history, nothing half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from egress.adapters import cache as cache_mod
from egress.adapters.cache import atomic_write, store_dataset
from egress.adapters.datastore import cached_files, load_dataset, meta_path
from egress.core.parse import parse_dataset, sha256_hex
from egress.errors import FetchError


@pytest.fixture(scope="module")
def china(shared_data: Path) -> bytes:
    return (shared_data / "servicetags" / "ServiceTags_China_20260713.json").read_bytes()


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_bytes(b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.json"
    target.write_bytes(b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    from egress.adapters import files as files_mod
    from egress.errors import OutputError

    monkeypatch.setattr(files_mod.os, "replace", broken_replace)
    with pytest.raises(OutputError, match="No space left on device"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_store_writes_file_and_sidecar(china: bytes, egress_cache: Path) -> None:
    ds = parse_dataset(china, source="https://dl.test/ServiceTags_China_20260713.json", kind="download")
    report = store_dataset(
        china,
        ds,
        source=ds.provenance.source,
        kind="download",
        located_by="details-page",
        file_date="2026-07-13",
    )
    assert report.path == egress_cache / "ServiceTags_China_20260713.json"
    assert report.path.read_bytes() == china
    meta = json.loads(meta_path(report.path).read_text())
    assert meta["sha256"] == sha256_hex(china) == report.sha256
    assert meta["contentSha256"] == report.content_sha256
    assert meta["changeNumber"] == json.loads(china)["changeNumber"] and meta["cloud"] == "China"
    assert report.changed is None and report.is_newest
    assert report.to_dict()["path"] == str(report.path)
    assert load_dataset(cloud="china").dataset.provenance.fetched_at == meta["fetchedAt"]


def test_store_without_a_date_uses_today(china: bytes, egress_cache: Path) -> None:
    ds = parse_dataset(china, source="api:s/l", kind="api")
    report = store_dataset(china, ds, source="api:s/l", kind="api", located_by="api", file_date=None)
    assert report.path.name == f"ServiceTags_China_{report.fetched_at[:10].replace('-', '')}.json"


def test_history_keeps_the_newest_files_and_never_the_fetched_one(china: bytes, egress_cache: Path) -> None:
    egress_cache.mkdir()
    for day in range(1, 12):
        (egress_cache / f"ServiceTags_China_202607{day:02d}.json").write_bytes(china)
        meta_path(egress_cache / f"ServiceTags_China_202607{day:02d}.json").write_text("{}")
    ds = parse_dataset(china, source="x")
    # An older file than everything cached: it is stored, kept, reported as not the newest.
    report = store_dataset(
        china, ds, source="x", kind="download", located_by="date-guess", file_date="2026-06-01", keep=3
    )
    names = [p.name for p in cached_files("china")]
    assert names == [
        "ServiceTags_China_20260601.json",
        "ServiceTags_China_20260709.json",
        "ServiceTags_China_20260710.json",
        "ServiceTags_China_20260711.json",
    ]
    assert not report.is_newest and any("older file" in n for n in report.notes)
    assert report.changed is False
    sidecars = sorted(p.name for p in egress_cache.glob("*.meta.json"))
    assert sidecars == [n.replace(".json", ".meta.json") for n in names]


def test_interrupted_store_leaves_a_consistent_cache(
    china: bytes, egress_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Death between the sidecar and the data write: the old bytes stay and the new sidecar is ignored."""
    egress_cache.mkdir()
    target = egress_cache / "ServiceTags_China_20260713.json"
    target.write_bytes(china)
    changed = json.loads(china)
    changed["values"] = changed["values"][1:]
    new_bytes = json.dumps(changed).encode()
    real_write = cache_mod.atomic_write

    def die_on_data(path: Path, data: bytes) -> None:
        if path == target:
            raise OSError(5, "Input/output error")
        real_write(path, data)

    monkeypatch.setattr(cache_mod, "atomic_write", die_on_data)
    ds = parse_dataset(new_bytes, source="u")
    with pytest.raises(FetchError, match="cannot write the cache folder"):
        store_dataset(new_bytes, ds, source="u", kind="download", located_by="x", file_date="2026-07-13")
    assert target.read_bytes() == china
    loaded = load_dataset(cloud="china").dataset
    assert loaded.provenance.source == str(target)  # the sidecar describes other bytes: not trusted
    assert len(loaded) == len(json.loads(china)["values"])
    assert not [p for p in os.listdir(egress_cache) if p.endswith(".tmp")]
