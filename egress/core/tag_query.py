"""Questions asked of a dataset: which tags match a filter, what a tag holds, which tags contain an address."""

from __future__ import annotations

import difflib
import fnmatch
import ipaddress
from collections import defaultdict
from dataclasses import dataclass

from egress.core.cidrs import Network, filter_family, merge_prefixes, parse_network, sort_prefixes
from egress.core.model import Dataset, ServiceTag
from egress.errors import UnknownTagError, UsageError

NSG_YES = "yes"
NSG_NO = "no"
NSG_UNKNOWN = "unknown"  # the file predates `networkFeatures` (2019) or is the legacy XML


def nsg_status(tag: ServiceTag) -> str:
    """Tri-state NSG usability; `ServiceTag.nsg_usable` treats "unknown" as usable."""
    if tag.network_features is None:
        return NSG_UNKNOWN
    return NSG_YES if tag.nsg_usable else NSG_NO


@dataclass(frozen=True, slots=True)
class TagSummary:
    """One row of `egress ranges list`."""

    name: str
    region: str
    system_service: str
    change_number: int | None
    ipv4: int
    ipv6: int
    nsg: str  # yes | no | unknown

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "region": self.region,
            "systemService": self.system_service,
            "changeNumber": self.change_number,
            "ipv4": self.ipv4,
            "ipv6": self.ipv6,
            "nsgUsable": {NSG_YES: True, NSG_NO: False}.get(self.nsg),
        }


def summarize(tag: ServiceTag) -> TagSummary:
    return TagSummary(
        name=tag.name,
        region=tag.region,
        system_service=tag.system_service,
        change_number=tag.change_number,
        ipv4=len(tag.ipv4()),
        ipv6=len(tag.ipv6()),
        nsg=nsg_status(tag),
    )


def _service_matches(tag: ServiceTag, service: str) -> bool:
    wanted = service.lower()
    return any(fnmatch.fnmatchcase(v.lower(), wanted) for v in (tag.base, tag.system_service) if v)


def select_tags(
    dataset: Dataset, *, region: str | None = None, service: str | None = None, nsg_usable: bool = False
) -> list[ServiceTag]:
    """Tags filtered by region (the file's spelling, any case), service (tag base or systemService, fnmatch,
    any case) and NSG usability (tags of unknown usability are kept, as the model assumes them usable)."""
    tags = list(dataset)
    if region:
        known = dataset.check_region(region)
        tags = [t for t in tags if t.region == known]
    if service:
        if not any(_service_matches(t, service) for t in dataset):
            names = sorted(
                {t.base for t in dataset} | {t.system_service for t in dataset if t.system_service}
            )
            close = difflib.get_close_matches(service, names, n=3, cutoff=0.6)
            hint = (
                f"; did you mean {', '.join(close)}?" if close else "; run `egress ranges list` to see them."
            )
            raise UnknownTagError(f"no tag belongs to service {service!r}{hint}")
        tags = [t for t in tags if _service_matches(t, service)]
    if nsg_usable:
        tags = [t for t in tags if nsg_status(t) != NSG_NO]
    return tags


def tag_prefixes(tag: ServiceTag, *, family: str = "all", merge: bool = False) -> list[str]:
    """A tag's prefixes of one family, sorted numerically; `merge` collapses them losslessly."""
    chosen = filter_family(tag.prefixes, family)
    return merge_prefixes(chosen) if merge else sort_prefixes(chosen)


def parse_query(text: str) -> Network:
    """An address (`20.60.0.1`) as a /32 or /128, or a prefix (`20.60.0.0/24`); anything else is a usage error."""
    raw = text.strip()
    try:
        if "/" in raw:
            return ipaddress.ip_network(raw, strict=False)
        return ipaddress.ip_network(ipaddress.ip_address(raw))
    except ValueError:
        raise UsageError(
            f"{text!r} is not an IP address or prefix; use e.g. 20.60.0.1, 2603:1030::1 or 20.60.0.0/24."
        ) from None


@dataclass(frozen=True, slots=True)
class Match:
    tag: str
    prefix: str


@dataclass(frozen=True, slots=True)
class LookupResult:
    query: str
    network: str
    matches: tuple[Match, ...]  # sorted by tag name (case-insensitive), then prefix

    def to_dict(self) -> dict[str, object]:
        return {
            "query": self.query,
            "network": self.network,
            "tags": sorted({m.tag for m in self.matches}, key=str.lower),
            "matches": [{"tag": m.tag, "prefix": m.prefix} for m in self.matches],
        }


class PrefixIndex:
    """Exact-match tables per (family, prefix length): a lookup masks the query once per length in use."""

    def __init__(self, dataset: Dataset) -> None:
        self._tables: dict[tuple[int, int], dict[int, list[Match]]] = defaultdict(lambda: defaultdict(list))
        parsed: dict[str, Network] = {}
        for tag in dataset:
            for prefix in set(tag.prefixes):
                net = parsed.get(prefix)
                if net is None:
                    net = parsed[prefix] = parse_network(prefix)
                self._tables[(net.version, net.prefixlen)][int(net.network_address)].append(
                    Match(tag.name, prefix)
                )
        self._lengths = sorted(self._tables)

    def containing(self, network: Network) -> tuple[Match, ...]:
        """Every (tag, prefix) whose prefix contains all of `network`."""
        bits = network.max_prefixlen
        address = int(network.network_address)
        found: list[Match] = []
        for version, length in self._lengths:
            if version != network.version or length > network.prefixlen:
                continue
            mask = ((1 << length) - 1) << (bits - length) if length else 0
            found.extend(self._tables[(version, length)].get(address & mask, ()))
        return tuple(sorted(set(found), key=lambda m: (m.tag.lower(), m.prefix)))


def lookup(dataset: Dataset, queries: list[str]) -> list[LookupResult]:
    """Which tags contain each address or prefix; all queries are checked before any work is done."""
    networks = [parse_query(q) for q in queries]
    index = PrefixIndex(dataset)
    return [
        LookupResult(query=q.strip(), network=str(net), matches=index.containing(net))
        for q, net in zip(queries, networks, strict=True)
    ]
