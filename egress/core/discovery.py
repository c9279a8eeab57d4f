"""`discover`: a config entry that names a Resource Graph selection of NSGs instead of one NSG. Pure.

    [[targets]]
    name = "all-backup"
    discover = { scope = ["azure:/subscriptions/S1", "azure:/subscriptions/S2/resourceGroups/rg"], tag = "egress=managed" }

One paged Graph query (`discovery_query`) finds the NSGs in those scopes carrying the Azure tag; each becomes a
target with the entry's settings, named `<entry>/<subscription>/<resource group>/<nsg>`. The query also returns
each NSG's rules, so a target already at its plan needs no GET. Graph lags ARM (seconds to minutes), so its rows
only ever decide "skip" or "read": every write is planned on a fresh GET and sent with If-Match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from egress.errors import UsageError

NSG_TYPE = "microsoft.network/networksecuritygroups"
ROUTE_TABLE_TYPE = "microsoft.network/routetables"
FIREWALL_POLICY_TYPE = "microsoft.network/firewallpolicies"
# `type` values a discover entry may name -> Graph's lower-case resource type.
DISCOVER_TYPES: dict[str, str] = {
    "networksecuritygroups": NSG_TYPE,
    "nsg": NSG_TYPE,
    NSG_TYPE: NSG_TYPE,
    "routetables": ROUTE_TABLE_TYPE,
    "route-table": ROUTE_TABLE_TYPE,
    ROUTE_TABLE_TYPE: ROUTE_TABLE_TYPE,
    "firewallpolicies": FIREWALL_POLICY_TYPE,
    "firewall-policy": FIREWALL_POLICY_TYPE,
    FIREWALL_POLICY_TYPE: FIREWALL_POLICY_TYPE,
}
# The place (`place = ...`) that writes each type: an entry's settings must be for it.
PLACE_OF_TYPE = {NSG_TYPE: "nsg", ROUTE_TABLE_TYPE: "route-table", FIREWALL_POLICY_TYPE: "firewall-policy"}
# What the report calls what an entry finds.
NOUN_OF_TYPE = {NSG_TYPE: "NSG", ROUTE_TABLE_TYPE: "route table", FIREWALL_POLICY_TYPE: "firewall policy"}
GRAPH_PAGE_SIZE = 1000  # Graph's largest page: a no-op fleet run costs ceil(N / 1000) queries
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_SCOPE = re.compile(r"^/?subscriptions/(?P<sub>[^/]+)(?:/resourcegroups/(?P<rg>[^/]+))?/?$", re.IGNORECASE)
_RG = re.compile(r"^[\w\-.()]{0,89}[\w\-()]$")
_TAG_NAME = re.compile(r"^[^<>%&\\?/]{1,512}$")  # Azure's tag-name rule (no < > % & \ ? /)
_KEYS = {"scope", "tag", "type"}


@dataclass(frozen=True, slots=True)
class DiscoverScope:
    subscription: str  # lower case
    resource_group: str | None = None

    def __str__(self) -> str:
        base = f"azure:/subscriptions/{self.subscription}"
        return f"{base}/resourceGroups/{self.resource_group}" if self.resource_group else base


@dataclass(frozen=True, slots=True)
class Discover:
    scopes: tuple[DiscoverScope, ...]
    tag: tuple[str, str | None] | None  # (name, value); value None: any value
    type: str = NSG_TYPE

    @property
    def noun(self) -> str:
        return NOUN_OF_TYPE[self.type]

    @property
    def subscriptions(self) -> list[str]:
        return sorted({s.subscription for s in self.scopes})


def parse_scope(text: str, where: str) -> DiscoverScope:
    raw = text.strip()
    body = raw[len("azure:") :] if raw.lower().startswith("azure:") else raw
    m = _SCOPE.match(body)
    if not m or not _GUID.match(m.group("sub")):
        raise UsageError(
            f"{where}: discover scope {text!r} is not a subscription or resource group; write "
            "azure:/subscriptions/<subscription-id>[/resourceGroups/<group>]."
        )
    rg = m.group("rg")
    if rg is not None and not _RG.match(rg):
        raise UsageError(f"{where}: resource group {rg!r} in discover scope {text!r} is not a valid name.")
    return DiscoverScope(m.group("sub").lower(), rg)


def parse_discover(value: Any, where: str) -> Discover:
    """The `discover` table of a [[targets]] entry."""
    if not isinstance(value, Mapping):
        raise UsageError(
            f'{where}: `discover` must be a table, e.g. discover = {{ scope = [...], tag = "k=v" }}.'
        )
    unknown = set(value) - _KEYS
    if unknown:
        raise UsageError(
            f"{where}: unknown discover key(s) {', '.join(sorted(unknown))}; use scope, tag and type."
        )
    scopes = value.get("scope")
    if isinstance(scopes, str):
        scopes = [scopes]
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise UsageError(f"{where}: discover needs `scope`, a list of azure:/subscriptions/... scopes.")
    parsed = tuple(dict.fromkeys(parse_scope(s, where) for s in scopes))
    tag = value.get("tag")
    pair: tuple[str, str | None] | None = None
    if tag is not None:
        if not isinstance(tag, str) or not tag.strip():
            raise UsageError(f'{where}: discover `tag` must be "name=value" (or "name" for any value).')
        name, eq, tag_value = tag.partition("=")
        name = name.strip()
        if not _TAG_NAME.match(name):
            raise UsageError(f"{where}: discover tag name {name!r} is not a valid Azure tag name.")
        pair = (name, tag_value.strip() if eq else None)
    kind = value.get("type", "networkSecurityGroups")
    if not isinstance(kind, str) or kind.strip().lower() not in DISCOVER_TYPES:
        raise UsageError(
            f"{where}: discover type {kind!r} is not supported; egress discovers networkSecurityGroups, "
            "route-table and firewall-policy."
        )
    return Discover(parsed, pair, DISCOVER_TYPES[kind.strip().lower()])


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def discovery_query(discover: Discover) -> str:
    """The Graph query: the selected resources with their rules, ordered by id (stable pages)."""
    lines = ["Resources", f"| where type =~ {_quote(discover.type)}"]
    groups = [s for s in discover.scopes if s.resource_group]
    whole = [s.subscription for s in discover.scopes if not s.resource_group]
    if groups:  # the request's `subscriptions` already limits rows to the scopes' subscriptions
        parts = [f"subscriptionId in~ ({', '.join(_quote(s) for s in sorted(set(whole)))})"] if whole else []
        parts += [
            f"(subscriptionId =~ {_quote(s.subscription)} and resourceGroup =~ {_quote(str(s.resource_group))})"
            for s in groups
        ]
        lines.append("| where " + " or ".join(parts))
    if discover.tag is not None:
        name, value = discover.tag
        column = f"tags[{_quote(name)}]"
        lines.append(
            f"| where {column} =~ {_quote(value)}" if value is not None else f"| where isnotnull({column})"
        )
    lines += [_COLUMNS[discover.type], "| order by id asc"]
    return "\n".join(lines)


# Only what a plan reads: the rules (not the six default rules and the subnet/NIC lists, which are most of an
# NSG's size: 8 MB -> 2.5 MB for a thousand NSGs).
# provisioningState too: a resource left `Failed` is never a no-op (it is read, and repaired).
_NSG_COLUMNS = (
    "| project id, name, location, resourceGroup, subscriptionId, securityRules = properties.securityRules, "
    "provisioningState = properties.provisioningState"
)
_COLUMNS = {
    NSG_TYPE: _NSG_COLUMNS,
    # Route tables: the routes, which a plan reads (Graph keeps them in the table's properties).
    ROUTE_TABLE_TYPE: "| project id, name, location, resourceGroup, subscriptionId, routes = properties.routes, "
    "provisioningState = properties.provisioningState",
    # Firewall policies: their rule collection groups are not in Graph; each found policy's group is read.
    FIREWALL_POLICY_TYPE: "| project id, name, location, resourceGroup, subscriptionId",
}
# Listed targets are looked up by id, a page's worth per query (a no-op of N listed NSGs: ceil(N / 1000)
# queries). Graph documents no limit on a query's length; egress keeps each under this many characters (1,000
# NSG ids are ~150,000) and sends more, shorter queries past it.
MAX_QUERY_CHARS = 200_000


# The types a listed target can be looked up by id: Graph holds their rules or routes (firewall policies' rule
# collection groups are not in Graph's Resources table).
LISTED_TYPES = (NSG_TYPE, ROUTE_TABLE_TYPE)


def listed_queries(ids: Sequence[str], resource_type: str = NSG_TYPE) -> list[tuple[str, list[str]]]:
    """Graph queries for the NSGs (or route tables) with these resource ids (rules or routes included, as
    `discovery_query`), each with the subscriptions it reads: at most GRAPH_PAGE_SIZE ids and MAX_QUERY_CHARS
    characters a query."""
    if resource_type not in LISTED_TYPES:
        raise ValueError(f"Graph does not hold what a plan of {resource_type} reads")
    head = f"Resources\n| where type =~ {_quote(resource_type)}\n| where id in~ ("
    tail = f")\n{_COLUMNS[resource_type]}\n| order by id asc"
    unique = sorted({i.strip().rstrip("/").lower() for i in ids if i.strip()})
    chunks: list[list[str]] = []
    size = 0
    for rid in unique:
        quoted = len(_quote(rid)) + 2
        if (
            not chunks
            or len(chunks[-1]) >= GRAPH_PAGE_SIZE
            or size + quoted > MAX_QUERY_CHARS - len(head + tail)
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(rid)
        size += quoted
    out = []
    for chunk in chunks:
        subs = sorted({rid.split("/")[2] for rid in chunk if rid.startswith("/subscriptions/")})
        out.append((head + ", ".join(_quote(r) for r in chunk) + tail, subs))
    return out


def target_name(entry: str, row: Mapping[str, Any]) -> str:
    return f"{entry}/{str(row.get('subscriptionId', '')).lower()}/{row.get('resourceGroup', '')}/{row.get('name', '')}"


def discovered(
    entry: str, rows: Iterable[Mapping[str, Any]], rcg_name: str | None = None
) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(target name, azure: target, row) per row, sorted by name: the report's order does not depend on Graph's.
    With `rcg_name` (firewall policies: Graph's Resources table does not hold rule collection groups, so the
    entry's `rcg_name` setting names the one egress manages) the target is that group of each policy found."""
    out = []
    for row in rows:
        rid = str(row.get("id") or "").rstrip("/")
        if not rid:
            continue
        target = "azure:" + rid + (f"/ruleCollectionGroups/{rcg_name}" if rcg_name else "")
        out.append((target_name(entry, row), target, row))
    return sorted(out, key=lambda t: t[0].lower())


def graph_rules(row: Mapping[str, Any]) -> Sequence[Any] | None:
    """The rules a Graph row holds (its `securityRules` column), or None when it shows none to plan on (then
    the target is read). A row with no rules at all shows `[]` (an empty NSG): Graph returns the array."""
    rules = row.get("securityRules")
    return rules if isinstance(rules, list) else None


def graph_document(row: Mapping[str, Any], rules: Sequence[Any]) -> dict[str, Any]:
    """The NSG as a plan reads it (ARM's GET shape, rules only) from a Graph row."""
    return {
        "id": row.get("id"),
        "name": row.get("name"),
        "location": row.get("location"),
        "properties": {"securityRules": list(rules)},
    }
