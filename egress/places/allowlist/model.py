"""The exported prefix set: which prefixes an allow-list holds, and for each which tags (region, changeNumber)
it came from. Pure: built from a dataset's tags, rendered by the formats, compared week to week by refresh."""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from egress.core import prefixes as px
from egress.core.model import Provenance, ServiceTag
from egress.core.shrink import TagSize
from egress.errors import UsageError
from egress.places.allowlist import limits

FAMILIES = ("ipv4", "ipv6", "all")
_VERSIONS = {"ipv4": (4,), "ipv6": (6,), "all": (4, 6)}
_BITS = {4: 32, 6: 128}


@dataclass(frozen=True, slots=True)
class Source:
    """A tag an exported prefix came from, as the data file names it."""

    tag: str
    region: str
    change_number: int | None

    def to_json(self) -> dict[str, object]:
        return {"tag": self.tag, "region": self.region, "changeNumber": self.change_number}


@dataclass(frozen=True, slots=True)
class Entry:
    prefix: str  # canonical (host bits clear, compressed IPv6)
    version: int  # 4 or 6
    sources: tuple[Source, ...]  # tags holding (or, merged, overlapping) this prefix, sorted by name

    @property
    def family(self) -> str:
        return f"ipv{self.version}"


@dataclass(frozen=True, slots=True)
class ExportSet:
    """One allow-list: the entries of the chosen families, sorted (IPv4 first, numerically)."""

    name: str  # the set / ACL / network name (validated, see check_name)
    family: str  # ipv4 | ipv6 | all
    merged: bool  # adjacent and nested prefixes collapsed (or over-approximated with a budget)
    max_prefixes: int | None
    tags: tuple[Source, ...]  # the tags asked for, in the order given
    entries: tuple[Entry, ...]
    provenance: Provenance
    extra_ipv4: int = 0  # addresses a --max-prefixes cover admits beyond the tags'
    extra_ipv6: int = 0

    @property
    def versions(self) -> tuple[int, ...]:
        return _VERSIONS[self.family]

    def prefixes(self, version: int | None = None) -> tuple[str, ...]:
        return tuple(e.prefix for e in self.entries if version is None or e.version == version)

    def only(self, version: int) -> ExportSet:
        """The same export restricted to one family (for a file per family)."""
        family = f"ipv{version}"
        entries = tuple(e for e in self.entries if e.version == version)
        return replace(self, family=family, entries=entries)

    def rows(self) -> list[tuple[str, str, str, str, int | None]]:
        """(prefix, family, tag, region, changeNumber): one row per prefix and tag, as CSV and JSON list them."""
        return [
            (e.prefix, e.family, s.tag, s.region, s.change_number) for e in self.entries for s in e.sources
        ]

    def provenance_text(self) -> str:
        """The header's data line: stable while the tags do not change (no file name, date or file digest), so a
        week that leaves these tags alone rewrites nothing and reloads no firewall."""
        tags = ", ".join(
            f"{t.tag} (changeNumber {t.change_number})" if t.change_number is not None else t.tag
            for t in self.tags
        )
        families = {"all": "IPv4 and IPv6", "ipv4": "IPv4", "ipv6": "IPv6"}[self.family]
        how = " merged" if self.merged and self.max_prefixes is None else ""
        if self.max_prefixes is not None:
            how = f" within {self.max_prefixes} prefixes"
        return (
            f"{self.provenance.cloud} cloud service tags {tags}; {len(self.entries)} {families} prefixes{how}, "
            f"list sha256 {self.digest()[:16]}"
        )

    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.prefixes()).encode()).hexdigest()


def tag_sizes(tags: Sequence[ServiceTag], family: str) -> dict[str, TagSize]:
    """Addresses per tag in the families exported (the other family counts 0: its shrinking changes nothing)."""
    out: dict[str, TagSize] = {}
    for tag in tags:
        v4, v6 = px.family_split(_parsed(tag))
        out[tag.name] = TagSize(
            px.address_count(v4) if 4 in _VERSIONS[family] else 0,
            px.address_count(v6) if 6 in _VERSIONS[family] else 0,
        )
    return out


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def default_name(tags: Sequence[str]) -> str:
    """`AzureBackup` -> `azure_backup`; several tags -> `azure_egress`."""
    if len(tags) != 1:
        return "azure_egress"
    return slug(tags[0]) or "azure_egress"


def slug(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub("_", text.strip()).lower()).strip("_")
    words = words[: limits.MAX_NAME_LENGTH].rstrip("_")
    return words if words and words[0].isalpha() else ""


def check_name(name: str, what: str = "--name") -> str:
    if not limits.NAME.match(name) or len(name) > limits.MAX_NAME_LENGTH:
        raise UsageError(
            f"{what} {name!r}: use 1-{limits.MAX_NAME_LENGTH} lower-case letters, digits and `_`, starting with a "
            "letter (it names the nft set, ipset set, squid ACL and aerleon network)."
        )
    return name


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise UsageError(f"--family {family!r}: use ipv4, ipv6 or all.")
    return family


def _parsed(tag: ServiceTag) -> list[px.Prefix]:
    return px.parse_tag_prefixes(tag)


def _last(p: px.Prefix) -> int:
    return p[1] + (1 << (_BITS[p[0]] - p[2])) - 1


class _Overlaps:
    """Which tags overlap a prefix: per tag and family, disjoint sorted intervals searched by bisection."""

    def __init__(self, per_tag: dict[Source, list[px.Prefix]]) -> None:
        self._spans: list[tuple[Source, dict[int, tuple[list[int], list[int]]]]] = []
        for source, prefixes in per_tag.items():
            spans: dict[int, tuple[list[int], list[int]]] = {4: ([], []), 6: ([], [])}
            for p in px.aggregate(prefixes):
                spans[p[0]][0].append(p[1])
                spans[p[0]][1].append(_last(p))
            self._spans.append((source, spans))

    def sources(self, p: px.Prefix) -> tuple[Source, ...]:
        first, last = p[1], _last(p)
        found = []
        for source, spans in self._spans:
            starts, ends = spans[p[0]]
            i = bisect.bisect_right(starts, last) - 1
            if i >= 0 and ends[i] >= first:
                found.append(source)
        return tuple(found)


def build_export(
    tags: Sequence[ServiceTag],
    provenance: Provenance,
    *,
    name: str,
    family: str = "all",
    merge: bool = False,
    max_prefixes: int | None = None,
) -> ExportSet:
    """The allow-list of `tags`: their prefixes as published (de-duplicated), merged, or optimally covered by at
    most `max_prefixes` prefixes. An empty result is an error: an empty allow-list would block what it guards."""
    check_family(family)
    check_name(name)
    if max_prefixes is not None and max_prefixes < 1:
        raise UsageError(f"--max-prefixes must be at least 1, not {max_prefixes}.")
    if not tags:
        raise UsageError("give at least one --tag to export.")
    versions = _VERSIONS[family]
    per_tag: dict[Source, list[px.Prefix]] = {}
    for tag in tags:
        source = Source(tag.name, tag.region, tag.change_number)
        per_tag[source] = [p for p in _parsed(tag) if p[0] in versions]
    union = sorted({p for prefixes in per_tag.values() for p in prefixes})
    if not union:
        names = ", ".join(t.name for t in tags)
        what = "" if family == "all" else f"{family} "
        raise UsageError(
            f"{names} hold no {what}prefixes: nothing to export (an empty allow-list allows nothing)."
        )
    extra4 = extra6 = 0
    merged = merge or max_prefixes is not None
    if max_prefixes is not None:
        try:
            result = px.budget_aggregate(union, max_prefixes, v4_weight=px.IPV4_ADDRESS_AS_IPV6_SUBNET)
        except ValueError as exc:
            raise UsageError(f"--max-prefixes: {exc}.") from None
        chosen, extra4, extra6 = sorted(result.prefixes), result.extra_ipv4, result.extra_ipv6
    elif merge:
        chosen = px.aggregate(union)
    else:
        chosen = union
    order = {s: i for i, s in enumerate(sorted(per_tag, key=lambda s: s.tag.lower()))}
    if merged:
        overlaps = _Overlaps(per_tag)
        entries = [Entry(px.format_prefix(p), p[0], overlaps.sources(p)) for p in chosen]
    else:
        holders: dict[px.Prefix, list[Source]] = {}
        for source, prefixes in per_tag.items():
            for p in set(prefixes):
                holders.setdefault(p, []).append(source)
        entries = [
            Entry(px.format_prefix(p), p[0], tuple(sorted(holders[p], key=order.__getitem__))) for p in chosen
        ]
    entries = [replace(e, sources=tuple(sorted(e.sources, key=order.__getitem__))) for e in entries]
    return ExportSet(
        name=name,
        family=family,
        merged=merged,
        max_prefixes=max_prefixes,
        tags=tuple(per_tag),
        entries=tuple(entries),
        provenance=provenance,
        extra_ipv4=extra4,
        extra_ipv6=extra6,
    )
