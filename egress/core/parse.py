"""Parse Microsoft's service-tag formats (weekly JSON, Discovery API JSON, retired XML) into a Dataset.

Pure: takes bytes (or an already-decoded object) and returns the model; reading files is the adapters' job.
"""

from __future__ import annotations

import gc
import hashlib
import ipaddress
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from egress.core.model import Dataset, Provenance, ServiceTag
from egress.errors import DataError

_DATE_IN_NAME = re.compile(r"(20\d{2})(\d{2})(\d{2})")
XML_ROOT = "AzurePublicIpAddresses"


def file_date_from_name(name: str) -> str | None:
    """`ServiceTags_Public_20250127.json` -> `2025-01-27` (None when the name carries no date)."""
    match = _DATE_IN_NAME.search(name.rsplit("/", 1)[-1])
    if not match:
        return None
    return "-".join(match.groups())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detect_format(data: bytes) -> str:
    """`json` or `xml`, judged by the first non-blank byte; anything else is not service-tag data."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"{":
        return "json"
    if head == b"<":
        return "xml"
    return "unknown"


def parse_dataset(
    data: bytes,
    *,
    source: str,
    kind: str = "file",
    fetched_at: str | None = None,
    file_date: str | None = None,
    path: str | None = None,
) -> Dataset:
    """Parse a weekly ServiceTags JSON or the retired PublicIPs XML, whichever `data` holds."""
    fmt = detect_format(data)
    digest = sha256_hex(data)
    date = file_date or file_date_from_name(source)
    if fmt == "json":
        with _no_gc():
            try:
                obj = json.loads(data)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise DataError(
                    f"{source}: not valid JSON ({_short(exc)}); download the file again."
                ) from None
            dataset = dataset_from_json(
                obj, source=source, kind=kind, sha256=digest, fetched_at=fetched_at, date=date, path=path
            )
            del obj  # freed before the collector resumes, so its first pass has only the dataset to visit
        return dataset
    if fmt == "xml":
        return dataset_from_xml(
            data, source=source, sha256=digest, fetched_at=fetched_at, date=date, path=path
        )
    raise DataError(
        f"{source}: not a service-tag file (expected ServiceTags_*.json or the PublicIPs XML); "
        "check the path or run `egress ranges fetch`."
    )


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cycle collector while parsing: the ~100k objects of a weekly file hold no cycles, yet their
    allocation would trigger collection passes over all of them again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120]


def _all_str(items: list[Any]) -> bool:
    """Whether every item is a str (or subclass): str.join accepts exactly those, at C speed (~86k per file)."""
    try:
        "".join(items)
    except TypeError:
        return False
    return True


def _int_or_none(value: Any) -> int | None:
    if type(value) is int:  # the usual case, first
        return value
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdecimal():  # isdigit() also takes "²", which int() refuses
        return int(value.strip())
    return None


def dataset_from_json(
    obj: Any,
    *,
    source: str,
    kind: str = "file",
    sha256: str = "",
    fetched_at: str | None = None,
    date: str | None = None,
    path: str | None = None,
) -> Dataset:
    """Build a Dataset from the weekly file's object (or the Discovery API's, where changeNumber is a string)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("values"), list):
        raise DataError(
            f"{source}: JSON is not a service-tag file (no `values` list); "
            "use a ServiceTags_<Cloud>_<date>.json file from Microsoft."
        )
    cloud = obj.get("cloud")
    if not isinstance(cloud, str) or not cloud:
        raise DataError(f"{source}: service-tag file has no `cloud` field; use an unmodified Microsoft file.")
    # Each entry's shape is checked now (a malformed file fails here, whatever the command); its ServiceTag
    # is built only when the command uses it.
    entries: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(obj["values"]):
        name = _check_entry(entry, source, index)
        key = name.lower()
        if key in entries:
            raise DataError(f"{source}: tag {name!r} appears twice; the file is corrupt, download it again.")
        entries[key] = entry
    provenance = Provenance(
        cloud=cloud,
        change_number=_file_change_number(obj, source),
        source=source,
        kind=kind,
        sha256=sha256,
        file_date=date,
        fetched_at=fetched_at,
        path=path,
    )
    return Dataset.lazy(provenance, entries, _tag_from_entry, _name_and_region)


def _file_change_number(obj: dict[str, Any], source: str) -> int:
    """The file's changeNumber: what "never move backwards" compares, so a file without a usable one is refused."""
    raw = obj.get("changeNumber")
    number = _int_or_none(raw)
    if number is None or number < 0:
        what = (
            "has no `changeNumber`" if raw is None else f"has an invalid `changeNumber` ({str(raw)[:40]!r})"
        )
        raise DataError(
            f"{source}: {what}; Microsoft's files always carry a whole number there, so this file was altered "
            "or is not one of them. Download it again."
        )
    return number


def _check_entry(entry: Any, source: str, index: int) -> str:
    """The entry's tag name, once its shape is one `_tag_from_entry` can build from (else a DataError)."""
    # Runs for each of ~2,700 tags on every command: checks first, messages only when one fails.
    if not isinstance(entry, dict):
        raise DataError(
            f"{source}: values[{index}] is not an object; the file is corrupt, download it again."
        )
    get = entry.get
    name = get("name") or get("id")
    props = get("properties")
    if not isinstance(name, str) or not name or not isinstance(props, dict):
        raise DataError(
            f"{source}: values[{index}] has no name or properties; the file is corrupt, download it again."
        )
    prefixes = props.get("addressPrefixes") or []
    if not isinstance(prefixes, list) or not _all_str(prefixes):
        raise DataError(f"{source}: values[{index}] ({name}): addressPrefixes is not a list of strings.")
    return name


def _name_and_region(entry: dict[str, Any]) -> tuple[str, str]:
    """A checked entry's name and region, as its ServiceTag will have them."""
    return entry.get("name") or entry["id"], str(entry["properties"].get("region") or "")


def _tag_from_entry(entry: dict[str, Any]) -> ServiceTag:
    """The ServiceTag of an entry `_check_entry` accepted (nothing here can fail)."""
    name, region = _name_and_region(entry)
    props = entry["properties"]
    get = props.get
    features: tuple[str, ...] | None
    if "networkFeatures" in props:
        raw = props["networkFeatures"]
        features = tuple(map(str, raw)) if isinstance(raw, list) else ()
    else:
        features = None
    return ServiceTag(
        name=name,
        region=region,
        change_number=_int_or_none(get("changeNumber")),
        platform=str(get("platform") or ""),
        system_service=str(get("systemService") or ""),
        region_id=_int_or_none(get("regionId")),
        network_features=features,
        prefixes=tuple(get("addressPrefixes") or ()),
    )


def dataset_from_xml(
    data: bytes,
    *,
    source: str,
    sha256: str = "",
    fetched_at: str | None = None,
    date: str | None = None,
    path: str | None = None,
) -> Dataset:
    """The retired "Azure Datacenter IP Ranges" XML: each <Region> becomes pseudo-tag `AzureCloud.<region>`."""
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(data)
    except DefusedXmlException as exc:
        raise DataError(
            f"{source}: XML uses forbidden constructs ({type(exc).__name__}); refusing to parse."
        ) from None
    except ElementTree.ParseError as exc:
        raise DataError(f"{source}: not valid XML ({_short(exc)}); download the file again.") from None
    if root.tag != XML_ROOT:
        raise DataError(f"{source}: XML root is <{root.tag}>, expected <{XML_ROOT}> (the PublicIPs file).")
    tags: list[ServiceTag] = []
    for region in root.findall("Region"):
        region_name = (region.get("Name") or "").strip()
        if not region_name:
            raise DataError(f"{source}: a <Region> has no Name attribute.")
        subnets = tuple(s.get("Subnet", "").strip() for s in region.findall("IpRange"))
        tags.append(ServiceTag(name=f"AzureCloud.{region_name}", region=region_name, prefixes=subnets))
    if not tags:
        raise DataError(f"{source}: XML holds no <Region> entries.")
    all_prefixes = tuple(sorted({p for t in tags for p in t.prefixes}))
    tags.append(ServiceTag(name="AzureCloud", prefixes=all_prefixes))
    provenance = Provenance(
        cloud="Public",
        change_number=None,
        source=source,
        kind="legacy-xml",
        sha256=sha256,
        file_date=date,
        fetched_at=fetched_at,
        path=path,
    )
    return Dataset(provenance=provenance, tags=tuple(tags))


def validate_dataset(dataset: Dataset, *, expect_cloud: str | None = None) -> None:
    """Checks a freshly fetched file must pass before it may replace the last good one."""
    source = dataset.provenance.source
    if expect_cloud and dataset.provenance.cloud.lower() != expect_cloud.lower():
        raise DataError(
            f"{source}: file is for cloud {dataset.provenance.cloud!r}, expected {expect_cloud!r}; "
            "check --cloud or the download link."
        )
    if len(dataset) == 0:
        raise DataError(f"{source}: file holds no service tags (empty `values`); keeping the last good file.")
    if dataset.prefix_count() == 0:
        raise DataError(f"{source}: file holds no address prefixes; keeping the last good file.")
    for tag in dataset:
        for prefix in tag.prefixes:
            try:
                ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                raise DataError(
                    f"{source}: tag {tag.name} has an invalid prefix {prefix!r}; keeping the last good file."
                ) from None
