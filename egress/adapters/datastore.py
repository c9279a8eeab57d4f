"""Find and read service-tag data: `--data PATH`, else the newest cached file of the cloud, else the bundled one."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from egress.core.model import Dataset, cloud_name
from egress.core.parse import file_date_from_name, parse_dataset, sha256_hex
from egress.errors import DataError

BUNDLED_PACKAGE = "egress.data"
BUNDLED_FILE = "ServiceTags_Public_20250127.json.gz"
MAX_DATA_BYTES = 64 * 1024 * 1024  # ~15x today's public file; anything bigger is not a service-tag file
CACHE_ENV = "EGRESS_CACHE_DIR"
_CACHED_NAME = re.compile(r"^ServiceTags_(?P<cloud>[A-Za-z]+)_(?P<date>\d{8})\.json$")
META_SUFFIX = ".meta.json"  # sidecar of a cached file: source URL, sha256, fetch time (see adapters/cache.py)


def cache_dir() -> Path:
    """Where fetched files live: `$EGRESS_CACHE_DIR`, else the platform's user cache folder."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("egress", appauthor=False)) / "servicetags"


@dataclass(frozen=True, slots=True)
class LoadedData:
    dataset: Dataset
    notice: str | None  # line(s) for stderr (e.g. "using the bundled data of 2025-01-27"), or None


def read_data_file(path: Path) -> bytes:
    """Read a data file with errors a user can act on (missing, a folder, too big, unreadable, gzip).

    Reads at most MAX_DATA_BYTES (+1 to notice more), so a device such as /dev/zero or a gzip bomb fails
    with a message instead of filling memory; any OS error (a name too long, a loop) is one line too.
    """
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_DATA_BYTES:
                raise DataError(f"{path}: {size} bytes is too large for a service-tag file; check the path.")
            # Ask for the size the file reports (+1 to notice more): a request for MAX_DATA_BYTES would cost
            # an allocation that large, 15 times the read itself.
            data = handle.read(size + 1)
            if len(data) > size:  # grown since, or a device or pipe that reports no size: read on, bounded
                data += handle.read(MAX_DATA_BYTES + 1 - len(data))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; check --data or run `egress ranges fetch`.") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory; --data takes a ServiceTags_*.json file.") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied; check the file's permissions.") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc}).") from None
    if len(data) > MAX_DATA_BYTES:
        raise DataError(
            f"{path}: more than {MAX_DATA_BYTES} bytes, too large for a service-tag file; check the path."
        )
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(path, data)
    return data


def _gunzip(path: Path, data: bytes) -> bytes:
    import gzip
    import io

    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
            plain = unzipped.read(MAX_DATA_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: damaged gzip file ({exc}).") from None
    if len(plain) > MAX_DATA_BYTES:
        raise DataError(
            f"{path}: unpacks to more than {MAX_DATA_BYTES} bytes, too large for a service-tag file; check the path."
        )
    return plain


def load_file(path: str | Path, *, kind: str = "file") -> Dataset:
    if isinstance(path, str) and not path.strip():  # Path("") would be the current folder
        raise DataError("empty data file name: give a ServiceTags_*.json file, or leave --data out.")
    p = Path(path)
    return parse_dataset(read_data_file(p), source=str(p), kind=kind)  # source is the path already


def meta_path(data_path: Path) -> Path:
    """`ServiceTags_Public_20250127.json` -> `ServiceTags_Public_20250127.meta.json` (same folder)."""
    return data_path.with_name(data_path.name.removesuffix(".json") + META_SUFFIX)


def read_meta(data_path: Path, data: bytes | None = None) -> dict[str, object] | None:
    """The sidecar of a cached file, or None when missing, unreadable or describing other bytes than `data`."""
    try:
        meta = json.loads(meta_path(data_path).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    if data is not None and meta.get("sha256") != sha256_hex(data):
        return None  # written for a file that was later replaced (or a write was interrupted)
    return meta


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def load_cached(path: Path) -> Dataset:
    """A cached file, with provenance (source URL or API, fetch time) from its sidecar when it matches."""
    data = read_data_file(path)
    meta = read_meta(path, data) or {}
    source = _str_or_none(meta.get("source"))
    return parse_dataset(
        data,
        source=source or str(path),
        kind=_str_or_none(meta.get("kind")) or "cache",
        fetched_at=_str_or_none(meta.get("fetchedAt")),
        file_date=_str_or_none(meta.get("fileDate")) or file_date_from_name(path.name),
        path=str(path),
    )


def cached_files(cloud: str, directory: Path | None = None) -> list[Path]:
    """Cached weekly files of one cloud, oldest first (by the date in the file name)."""
    directory = directory or cache_dir()
    wanted = cloud_name(cloud).lower()
    found = []
    try:
        if not directory.is_dir():
            return []
        for entry in directory.iterdir():
            match = _CACHED_NAME.match(entry.name)
            if match and match["cloud"].lower() == wanted and entry.is_file():
                found.append((match["date"], entry))
    except OSError as exc:  # a cache folder this user cannot search or list
        raise DataError(
            f"cannot read the cache folder {directory} ({exc.strerror or exc}); set {CACHE_ENV} to a folder "
            "you can read and write, or pass --data."
        ) from None
    return [path for _, path in sorted(found)]


def load_bundled() -> Dataset:
    # pkgutil.get_data asks the package's loader (file or zip import alike) and costs far less to import on
    # every run without cached data than importlib.resources.
    import gzip
    import pkgutil

    blob = pkgutil.get_data(BUNDLED_PACKAGE, BUNDLED_FILE)
    if blob is None:  # a loader that cannot read package data (never the file or zip importers)
        raise DataError(f"cannot read the bundled {BUNDLED_FILE}; reinstall egress or pass --data.")
    name = BUNDLED_FILE.removesuffix(".gz")
    return parse_dataset(gzip.decompress(blob), source=f"bundled:{name}", kind="bundled")


def bundled_date() -> str | None:
    return file_date_from_name(BUNDLED_FILE)


def load_dataset(data: str | Path | None = None, *, cloud: str = "public") -> LoadedData:
    """The data every command uses: an explicit file, the newest good cached file, or the bundled snapshot.

    An empty `data` (`--data ""`, an unset shell variable) is an error, not a request for the default data.
    """
    if data is not None:
        return LoadedData(load_file(data), None)
    skipped: list[str] = []
    for path in reversed(cached_files(cloud)):
        try:
            dataset = load_cached(path)
        except DataError as exc:
            # `ranges fetch` only caches validated files, so this was damaged later: fall back to an older one.
            skipped.append(f"egress: skipping damaged cached file ({exc})")
            continue
        return LoadedData(dataset, "\n".join(skipped) or None)
    if cloud_name(cloud) != "Public":
        raise DataError(
            f"no cached data for cloud {cloud!r} and only Public data is bundled; "
            f"run `egress ranges fetch --cloud {cloud}` or pass --data."
        )
    notice = (
        f"egress: using the bundled Public service tags of {bundled_date()} "
        "(run `egress ranges fetch` for the current week)"
    )
    return LoadedData(load_bundled(), "\n".join([*skipped, notice]))
