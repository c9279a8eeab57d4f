"""Write validated service-tag files into the cache: atomically, with a provenance sidecar, keeping a short history.

A file only reaches this module after it parsed and validated, and nothing here deletes or rewrites another
file before the new one is safely in place, so a failed fetch leaves the last good file byte-for-byte as it was.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from egress.adapters.datastore import cache_dir, cached_files, load_cached, meta_path
from egress.adapters.files import remove_stale_temps, write_atomic
from egress.core.diff import DatasetDiff, content_digest, diff_datasets
from egress.core.model import Dataset, cloud_key, cloud_name
from egress.core.parse import sha256_hex
from egress.errors import DataError, FetchError, OutputError

KEEP_FILES = 8  # per cloud: two months of weekly files, enough to diff and to roll back
# The files egress writes into the cache: weekly files, their sidecars, refresh's state files.
CACHE_FILE_NAMES = re.compile(r"ServiceTags_[A-Za-z]+_(\d{8}|Latest)(\.meta)?\.json")
STATE_FILE_NAMES = re.compile(r"[A-Za-z0-9._-]+-[0-9a-f]{12}\.json")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cache_file_name(cloud: str, yyyymmdd: str) -> str:
    return f"ServiceTags_{cloud_name(cloud)}_{yyyymmdd}.json"


def atomic_write(path: Path, data: bytes) -> None:
    """The one writer (temp file, fsync, rename), world-readable so other users can share the cache."""
    write_atomic(path, data, mode=0o644)


@dataclass(frozen=True, slots=True)
class FetchReport:
    """What `ranges fetch` did: the stored file, its counts, and how it compares with the previous newest file."""

    cloud: str  # the file's `cloud` value, e.g. "Public"
    path: Path
    source: str  # URL, or "api:<subscription>/<location>"
    kind: str  # "download" | "api"
    located_by: str  # "details-page" | "date-guess" | "latest-alias" | "page-url" | "api"
    change_number: int | None
    file_date: str | None  # YYYY-MM-DD (from the published name; None for `_Latest` and the API)
    entries: int
    prefixes: int
    ipv4: int
    ipv6: int
    sha256: str
    content_sha256: str
    fetched_at: str
    previous: Path | None  # the newest cached file before this fetch
    previous_change_number: int | None
    changed: bool | None  # None: nothing cached before (or it was unreadable)
    diff: DatasetDiff | None
    is_newest: bool  # False when an older file than the newest cached one was fetched
    dataset: Dataset = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()  # locations that failed before one worked, warnings

    def to_dict(self) -> dict[str, object]:
        summary = None
        if self.diff is not None:
            summary = self.diff.to_dict()["summary"]
        return {
            "cloud": self.cloud,
            "path": str(self.path),
            "source": self.source,
            "kind": self.kind,
            "locatedBy": self.located_by,
            "changeNumber": self.change_number,
            "fileDate": self.file_date,
            "entries": self.entries,
            "prefixes": self.prefixes,
            "ipv4": self.ipv4,
            "ipv6": self.ipv6,
            "sha256": self.sha256,
            "contentSha256": self.content_sha256,
            "fetchedAt": self.fetched_at,
            "previous": str(self.previous) if self.previous else None,
            "previousChangeNumber": self.previous_change_number,
            "changed": self.changed,
            "diff": summary,
            "isNewest": self.is_newest,
            "notes": list(self.notes),
        }


def store_dataset(
    data: bytes,
    dataset: Dataset,
    *,
    source: str,
    kind: str,
    located_by: str,
    file_date: str | None,
    directory: Path | None = None,
    keep: int = KEEP_FILES,
    notes: tuple[str, ...] = (),
) -> FetchReport:
    """Store an already validated file as `ServiceTags_<Cloud>_<YYYYMMDD>.json` (+ `.meta.json`) and report.

    `file_date` is YYYY-MM-DD from the published name; without one (the `_Latest` alias, the API) today's UTC
    date names the file.
    """
    directory = directory or cache_dir()
    cloud = dataset.provenance.cloud
    fetched_at = utc_now()
    stamp = (file_date or fetched_at[:10]).replace("-", "")
    target = directory / cache_file_name(cloud, stamp)

    previous_files = cached_files(cloud_key(cloud), directory)
    previous = previous_files[-1] if previous_files else None
    previous_dataset, notes_out = None, list(notes)
    if previous is not None:
        try:
            previous_dataset = load_cached(previous)
        except DataError as exc:
            notes_out.append(f"could not compare with the previous file ({exc})")
    diff = diff_datasets(previous_dataset, dataset) if previous_dataset is not None else None

    digest = sha256_hex(data)
    meta = {
        "source": source,
        "kind": kind,
        "locatedBy": located_by,
        "sha256": digest,
        "contentSha256": content_digest(dataset),
        "fetchedAt": fetched_at,
        "cloud": cloud,
        "changeNumber": dataset.provenance.change_number,
        "fileDate": file_date,
    }
    _write_pair(directory, target, data, meta)
    _prune(cloud, directory, keep, protect=target)
    remove_stale_cache_temps(directory)

    is_newest = previous is None or target.name >= previous.name
    if not is_newest:
        notes_out.append(
            f"an older file than the newest cached one ({previous.name}) was fetched; it stays in use"
        )
    ipv4 = sum(len(t.ipv4()) for t in dataset)
    return FetchReport(
        cloud=cloud,
        path=target,
        source=source,
        kind=kind,
        located_by=located_by,
        change_number=dataset.provenance.change_number,
        file_date=file_date,
        entries=len(dataset),
        prefixes=dataset.prefix_count(),
        ipv4=ipv4,
        ipv6=dataset.prefix_count() - ipv4,
        sha256=digest,
        content_sha256=str(meta["contentSha256"]),
        fetched_at=fetched_at,
        previous=previous,
        previous_change_number=previous_dataset.provenance.change_number if previous_dataset else None,
        changed=None if diff is None else not diff.is_empty,
        diff=diff,
        is_newest=is_newest,
        dataset=dataset,
        notes=tuple(notes_out),
    )


def remove_stale_cache_temps(directory: Path | None = None) -> list[Path]:
    """Temp files of cache writes interrupted by a dead process (kill -9), in the cache and refresh's state."""
    from egress.adapters.refresh_state import STATE_FOLDER

    directory = directory or cache_dir()
    return remove_stale_temps(directory, CACHE_FILE_NAMES) + remove_stale_temps(
        directory / STATE_FOLDER, STATE_FILE_NAMES
    )


def _write_pair(directory: Path, target: Path, data: bytes, meta: dict[str, object]) -> None:
    # The sidecar goes first: if we die between the two writes, its sha256 no longer matches the data file
    # and readers ignore it, instead of pairing new provenance with old bytes.
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(meta_path(target), (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
        atomic_write(target, data)
    except (OSError, OutputError) as exc:
        raise FetchError(
            f"cannot write the cache folder {directory} ({getattr(exc, 'strerror', None) or exc}); "
            "set EGRESS_CACHE_DIR to a writable folder."
        ) from None


def _prune(cloud: str, directory: Path, keep: int, *, protect: Path) -> None:
    """Drop all but the newest `keep` files of the cloud (and their sidecars); housekeeping, so errors are ignored."""
    try:
        files = cached_files(cloud_key(cloud), directory)
    except DataError:
        return
    for old in files[: max(0, len(files) - max(keep, 1))]:
        if old == protect:
            continue
        for path in (old, meta_path(old)):
            with contextlib.suppress(OSError):
                path.unlink()
