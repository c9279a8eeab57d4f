"""Service-tag data model: tags, datasets and where their data came from."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from egress.errors import UnknownTagError, UsageError

# CLI spelling -> the `cloud` value Microsoft writes into each file.
CLOUDS: dict[str, str] = {
    "public": "Public",
    "usgov": "AzureGovernment",
    "china": "China",
    "germany": "AzureGermany",
}
NSG_FEATURE = "NSG"


def cloud_name(cloud: str) -> str:
    """Map `public|usgov|china|germany` (or a file's own spelling) to the file's `cloud` value."""
    key = cloud.strip().lower()
    if key in CLOUDS:
        return CLOUDS[key]
    for value in CLOUDS.values():
        if value.lower() == key:
            return value
    raise UsageError(f"unknown cloud {cloud!r}: use one of {', '.join(CLOUDS)}.")


def cloud_key(cloud_value: str) -> str:
    """Map a file's `cloud` value back to the CLI spelling (`AzureGovernment` -> `usgov`)."""
    for key, value in CLOUDS.items():
        if value.lower() == cloud_value.lower():
            return key
    return cloud_value.lower()


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a dataset came from; carried into rule descriptions, file headers and reports."""

    cloud: str
    change_number: int | None
    source: str  # a path, a URL, "api:<subscription>/<location>" or "bundled:<file>"
    kind: str  # "file" | "download" | "api" | "bundled" | "legacy-xml"
    sha256: str
    file_date: str | None = None  # YYYY-MM-DD from the published file name, when known
    fetched_at: str | None = None  # ISO-8601 UTC time the file entered the cache
    path: str | None = None  # the local file the data was read from, when `source` is a URL or the API

    def to_dict(self) -> dict[str, object]:
        return {
            "cloud": self.cloud,
            "changeNumber": self.change_number,
            "source": self.source,
            "kind": self.kind,
            "sha256": self.sha256,
            "fileDate": self.file_date,
            "fetchedAt": self.fetched_at,
            "path": self.path,
        }


@dataclass(frozen=True, slots=True)
class ServiceTag:
    """One entry of the weekly file (`Storage.EastUS`, `AzureBackup`, ...)."""

    name: str
    region: str = ""
    change_number: int | None = None
    platform: str = ""
    system_service: str = ""
    region_id: int | None = None
    # None: the file does not say (2019-era files, legacy XML); (): published as null / empty.
    network_features: tuple[str, ...] | None = None
    prefixes: tuple[str, ...] = ()

    @property
    def nsg_usable(self) -> bool:
        """Whether Azure accepts this name as an NSG service tag (files without the field: assume yes)."""
        if self.network_features is None:
            return True
        return NSG_FEATURE in self.network_features

    def usable_in(self, feature: str) -> bool:
        """Whether the file's networkFeatures list `feature` (`NSG`, `UDR`, `FW`): where Azure takes the tag.
        Files without the field: assume yes."""
        if self.network_features is None:
            return True
        return feature.upper() in (f.upper() for f in self.network_features)

    @property
    def base(self) -> str:
        return self.name.split(".", 1)[0]

    def ipv4(self) -> tuple[str, ...]:
        return tuple(p for p in self.prefixes if ":" not in p)

    def ipv6(self) -> tuple[str, ...]:
        return tuple(p for p in self.prefixes if ":" in p)


def _lower_name(tag: ServiceTag) -> str:
    return tag.name.lower()


class Dataset:
    """All tags of one file, looked up case-insensitively, reported in their canonical spelling.

    `Dataset(provenance, tags)` holds built tags; `Dataset.lazy` holds a file's raw entries and builds a
    ServiceTag only when one is looked up or all are iterated: `plan` uses 3 of ~2,700 tags.
    """

    __slots__ = ("_build", "_built", "_by_region", "_peek", "_raw", "_tags", "provenance")
    __hash__ = None  # type: ignore[assignment]  # compared by value, as a (non-frozen) dataclass is

    def __init__(self, provenance: Provenance, tags: Iterable[ServiceTag]) -> None:
        self.provenance = provenance
        self._tags: tuple[ServiceTag, ...] | None = tuple(sorted(tags, key=_lower_name))
        self._built: dict[str, ServiceTag] = {t.name.lower(): t for t in self._tags}
        self._raw: Mapping[str, Any] = self._built  # built already: every entry is its own tag
        self._build: Callable[[Any], ServiceTag] = _not_needed
        self._peek: Callable[[Any], tuple[str, str]] = _name_and_region
        self._by_region: dict[str, list[str]] | None = None

    @classmethod
    def lazy(
        cls,
        provenance: Provenance,
        entries: Mapping[str, Any],
        build: Callable[[Any], ServiceTag],
        peek: Callable[[Any], tuple[str, str]],
    ) -> Dataset:
        """A Dataset over raw `entries` keyed by lower-case tag name (unique): `build` makes an entry's
        ServiceTag, on first use; `peek` reads its (name, region) without building it. Entries must be
        checked already: building or peeking is not expected to fail."""
        self = cls.__new__(cls)
        self.provenance = provenance
        self._tags = None
        self._built = {}
        self._raw = entries
        self._build = build
        self._peek = peek
        self._by_region = None
        return self

    @property
    def tags(self) -> tuple[ServiceTag, ...]:
        """Every tag, sorted case-insensitively by name (builds the ones not built yet)."""
        if self._tags is None:
            self._tags = tuple(self._tag(key) for key in sorted(self._raw))
        return self._tags

    def _tag(self, key: str) -> ServiceTag:
        tag = self._built.get(key)
        if tag is None:
            tag = self._built[key] = self._build(self._raw[key])
        return tag

    def __iter__(self) -> Iterator[ServiceTag]:
        return iter(self.tags)

    def __len__(self) -> int:
        return len(self._tags) if self._tags is not None else len(self._raw)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.provenance, self.tags) == (other.provenance, other.tags)

    def __repr__(self) -> str:
        return f"Dataset(provenance={self.provenance!r}, tags={self.tags!r})"

    def find(self, name: str) -> ServiceTag | None:
        key = name.strip().lower()
        return self._tag(key) if key in self._raw else None

    def get(self, name: str) -> ServiceTag:
        tag = self.find(name)
        if tag is None:
            raise UnknownTagError(f"unknown service tag {name!r}{self._suggest(name, self._names())}")
        return tag

    def _names(self) -> list[str]:
        if self._tags is not None:
            return [t.name for t in self._tags]
        return [self._peek(self._raw[key])[0] for key in sorted(self._raw)]

    @staticmethod
    def _suggest(name: str, candidates: Iterable[str]) -> str:
        cands = list(candidates)
        lowered = {c.lower(): c for c in cands}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
        if not close:
            return "; run `egress ranges list` to see the tags in the data."
        return "; did you mean " + ", ".join(lowered[c] for c in close) + "?"

    def _regions_index(self) -> dict[str, list[str]]:
        """Region -> lower-case names of the tags there, from the raw entries (nothing is built)."""
        if self._by_region is None:
            index: dict[str, list[str]] = {}
            peek = self._peek
            for key, entry in self._raw.items():
                region = peek(entry)[1]
                if region:
                    index.setdefault(region, []).append(key)
            self._by_region = index
        return self._by_region

    def regions(self) -> list[str]:
        """Region names as the file spells them (`eastus`), sorted."""
        if self._tags is not None:
            return sorted({t.region for t in self._tags if t.region})
        return sorted(self._regions_index())

    def check_region(self, region: str) -> str:
        """Return the data's spelling of `region`, or explain which regions exist."""
        wanted = region.strip().lower().replace(" ", "")
        for known in self.regions():
            if known.lower() == wanted:
                return known
        raise UnknownTagError(f"unknown region {region!r}{self._suggest(wanted, self.regions())}")

    def regional(self, base: str, region: str) -> ServiceTag:
        """The `<base>.<Region>` tag for a region given as the file's region name (`eastus`)."""
        region = self.check_region(region)
        wanted = base.lower()
        if self._tags is not None:
            for tag in self._tags:
                if tag.region == region and tag.base.lower() == wanted:
                    return tag
        else:  # the first match in name order, as iterating all tags would find it, building only that one
            for key in sorted(self._regions_index().get(region, ())):
                if self._peek(self._raw[key])[0].split(".", 1)[0].lower() == wanted:
                    return self._tag(key)
        raise UnknownTagError(
            f"no {base} tag for region {region!r} in the data; "
            f"run `egress ranges list --region {region}` to see what exists there."
        )

    def prefix_count(self) -> int:
        return sum(len(t.prefixes) for t in self.tags)

    def unique_prefixes(self) -> set[str]:
        return {p for t in self.tags for p in t.prefixes}


def _not_needed(entry: Any) -> ServiceTag:  # a built Dataset's entries are its tags, found in `_built`
    raise AssertionError("a built Dataset builds nothing")


def _name_and_region(tag: ServiceTag) -> tuple[str, str]:
    return tag.name, tag.region
