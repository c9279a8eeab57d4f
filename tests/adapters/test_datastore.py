"""Data resolution (--data, newest cached file, bundled snapshot), sidecar provenance, readable errors."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from egress.adapters import datastore
from egress.adapters.datastore import (
    cache_dir,
    cached_files,
    load_bundled,
    load_dataset,
    load_file,
    meta_path,
    read_data_file,
)
from egress.errors import DataError


@pytest.fixture
def cache(egress_cache: Path) -> Path:
    egress_cache.mkdir(parents=True)
    return egress_cache


def _copy(shared_data: Path, name: str, folder: Path, as_name: str | None = None) -> Path:
    target = folder / (as_name or name)
    shutil.copyfile(shared_data / "servicetags" / name, target)
    return target


def test_cache_dir_honours_the_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("EGRESS_CACHE_DIR")
    default = cache_dir()
    assert default.name == "servicetags" and "egress" in default.parts


def test_cached_files_lists_one_cloud_oldest_first(cache: Path) -> None:
    for name in (
        "ServiceTags_Public_20250127.json",
        "ServiceTags_Public_20240610.json",
        "ServiceTags_Public_20240610.meta.json",
        "ServiceTags_China_20260713.json",
        ".ServiceTags_Public_20991231.json.abc.tmp",
        "ServiceTags_Public_Latest.json",
        "notes.txt",
    ):
        (cache / name).write_text("{}")
    (cache / "ServiceTags_Public_20990101.json").mkdir()
    assert [p.name for p in cached_files("public")] == [
        "ServiceTags_Public_20240610.json",
        "ServiceTags_Public_20250127.json",
    ]
    assert [p.name for p in cached_files("CHINA")] == ["ServiceTags_China_20260713.json"]
    assert cached_files("usgov") == []


def test_no_cache_means_bundled_data_with_a_notice(egress_cache: Path) -> None:
    loaded = load_dataset(cloud="public")
    assert loaded.dataset.provenance.kind == "bundled"
    assert loaded.notice is not None and "bundled" in loaded.notice and "2025-01-27" in loaded.notice
    assert "\n" not in loaded.notice
    assert not egress_cache.exists()  # reading never creates the cache


def test_bundled_snapshot_is_the_newest_shared_public_file(shared_data: Path) -> None:
    newest = sorted((shared_data / "servicetags").glob("ServiceTags_Public_*.json"))[-1]
    assert newest.name + ".gz" == datastore.BUNDLED_FILE
    bundled = load_bundled()
    assert bundled.provenance.sha256 == hashlib.sha256(newest.read_bytes()).hexdigest()
    assert bundled.provenance.source == f"bundled:{newest.name}"


def test_newest_cached_file_wins_over_bundled_and_data_wins_over_both(shared_data: Path, cache: Path) -> None:
    _copy(shared_data, "ServiceTags_Public_20240610.json", cache)
    newest = _copy(shared_data, "ServiceTags_Public_20240617.json", cache)
    loaded = load_dataset(cloud="public")
    assert loaded.notice is None
    assert loaded.dataset.provenance.path == str(newest)
    assert loaded.dataset.provenance.change_number == json.loads(newest.read_bytes())["changeNumber"]
    assert loaded.dataset.provenance.kind == "cache"  # no sidecar: copied in by hand

    explicit = shared_data / "servicetags" / "ServiceTags_China_20260713.json"
    assert load_dataset(explicit, cloud="public").dataset.provenance.cloud == "China"


def test_sidecar_fills_source_and_fetch_time_only_when_it_matches(shared_data: Path, cache: Path) -> None:
    path = _copy(shared_data, "ServiceTags_Public_20250127.json", cache)
    meta = {
        "source": "https://download.microsoft.com/download/x/ServiceTags_Public_20250127.json",
        "kind": "download",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "fetchedAt": "2025-01-28T06:00:00Z",
        "fileDate": "2025-01-27",
    }
    meta_path(path).write_text(json.dumps(meta))
    prov = load_dataset(cloud="public").dataset.provenance
    assert (prov.source, prov.kind, prov.fetched_at, prov.file_date, prov.path) == (
        meta["source"],
        "download",
        "2025-01-28T06:00:00Z",
        "2025-01-27",
        str(path),
    )
    meta["sha256"] = "0" * 64  # describes other bytes (an interrupted replace): ignored
    meta_path(path).write_text(json.dumps(meta))
    prov = load_dataset(cloud="public").dataset.provenance
    assert prov.source == str(path) and prov.fetched_at is None
    meta_path(path).write_text("{not json")
    assert load_dataset(cloud="public").dataset.provenance.source == str(path)


def test_damaged_newest_cached_file_falls_back_to_the_previous(shared_data: Path, cache: Path) -> None:
    good = _copy(shared_data, "ServiceTags_Public_20240617.json", cache)
    (cache / "ServiceTags_Public_20250127.json").write_bytes(b'{"changeNumber": 1, "cloud": "Pub')
    loaded = load_dataset(cloud="public")
    assert loaded.dataset.provenance.path == str(good)
    assert loaded.notice is not None and loaded.notice.startswith("egress: skipping damaged cached file")


def test_other_clouds_need_a_fetch_or_a_file(egress_cache: Path) -> None:
    with pytest.raises(DataError, match=r"run `egress ranges fetch --cloud china`"):
        load_dataset(cloud="china")


def test_gzip_data_files_load(shared_data: Path, tmp_path: Path) -> None:
    raw = (shared_data / "servicetags" / "ServiceTags_China_20260713.json").read_bytes()
    path = tmp_path / "ServiceTags_China_20260713.json.gz"
    path.write_bytes(gzip.compress(raw))
    ds = load_file(path)
    assert len(ds) == len(json.loads(raw)["values"]) and ds.provenance.file_date == "2026-07-13"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.mkdir(), p)[1], "is a directory"),
        (lambda p: (p.write_bytes(b"\x1f\x8b\x08garbage"), p)[1], "damaged gzip"),
    ],
)
def test_read_errors_say_what_to_do(tmp_path: Path, make, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path / "ServiceTags_Public_20250127.json")
    with pytest.raises(DataError, match=expected) as err:
        read_data_file(path)
    assert "\n" not in str(err.value)


def test_oversized_file_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datastore, "MAX_DATA_BYTES", 10)
    path = tmp_path / "big.json"
    path.write_text("{" + " " * 20 + "}")
    with pytest.raises(DataError, match="too large"):
        read_data_file(path)


@pytest.mark.parametrize(("size", "limit", "refused"), [(5000, 10_000, False), (5000, 4000, True)])
def test_a_pipe_reports_no_size_and_is_read_to_its_end_within_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, limit: int, refused: bool
) -> None:
    import contextlib
    import threading

    monkeypatch.setattr(datastore, "MAX_DATA_BYTES", limit)
    fifo = tmp_path / "data.json"
    os.mkfifo(fifo)
    payload = b"x" * size

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), open(fifo, "wb") as pipe:  # the reader may stop early
            pipe.write(payload)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        if refused:
            with pytest.raises(DataError, match=f"more than {limit} bytes"):
                read_data_file(fifo)
        else:
            assert read_data_file(fifo) == payload
    finally:
        writer.join(timeout=10)
