"""Service-tag data model: tags, datasets and where their data came from."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

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

    @property
    def base(self) -> str:
        return self.name.split(".", 1)[0]

    def ipv4(self) -> tuple[str, ...]:
        return tuple(p for p in self.prefixes if ":" not in p)

    def ipv6(self) -> tuple[str, ...]:
        return tuple(p for p in self.prefixes if ":" in p)


@dataclass(slots=True)
class Dataset:
    """All tags of one file, looked up case-insensitively, reported in their canonical spelling."""

    provenance: Provenance
    tags: tuple[ServiceTag, ...]
    _by_lower: dict[str, ServiceTag] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tags = tuple(sorted(self.tags, key=lambda t: t.name.lower()))
        self._by_lower = {t.name.lower(): t for t in self.tags}

    def __iter__(self) -> Iterator[ServiceTag]:
        return iter(self.tags)

    def __len__(self) -> int:
        return len(self.tags)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_lower

    def find(self, name: str) -> ServiceTag | None:
        return self._by_lower.get(name.strip().lower())

    def get(self, name: str) -> ServiceTag:
        tag = self.find(name)
        if tag is None:
            raise UnknownTagError(f"unknown service tag {name!r}{self._suggest(name, self._names())}")
        return tag

    def _names(self) -> list[str]:
        return [t.name for t in self.tags]

    @staticmethod
    def _suggest(name: str, candidates: Iterable[str]) -> str:
        cands = list(candidates)
        lowered = {c.lower(): c for c in cands}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
        if not close:
            return "; run `egress ranges list` to see the tags in the data."
        return "; did you mean " + ", ".join(lowered[c] for c in close) + "?"

    def regions(self) -> list[str]:
        """Region names as the file spells them (`eastus`), sorted."""
        return sorted({t.region for t in self.tags if t.region})

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
        for tag in self.tags:
            if tag.region == region and tag.base.lower() == base.lower():
                return tag
        raise UnknownTagError(
            f"no {base} tag for region {region!r} in the data; "
            f"run `egress ranges list --region {region}` to see what exists there."
        )

    def prefix_count(self) -> int:
        return sum(len(t.prefixes) for t in self.tags)

    def unique_prefixes(self) -> set[str]:
        return {p for t in self.tags for p in t.prefixes}
