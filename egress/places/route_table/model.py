"""A route table document and its routes, read from ARM's shape (REST GET, `properties.routes[]`) or the
flattened shape `az network route-table show -o json` prints (`routes[]` at the top, properties inline)."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from egress.core.model import ServiceTag
from egress.errors import TargetError
from egress.places.route_table import limits

_ROUTE_RESOURCE_KEYS = {"name", "id", "etag", "type", "properties", "resourceGroup"}
_ROUTE_READ_ONLY = {"provisioningState", "hasBgpOverride"}


def udr_usable(tag: ServiceTag) -> bool:
    """Whether a route may name the tag (files without networkFeatures at all: assume yes, as for NSGs)."""
    return tag.network_features is None or limits.UDR_FEATURE in tag.network_features


def is_prefix(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    address_prefix: str
    next_hop_type: str
    next_hop_ip: str | None = None

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {"addressPrefix": self.address_prefix, "nextHopType": self.next_hop_type}
        if self.next_hop_ip:
            props["nextHopIpAddress"] = self.next_hop_ip
        return props

    def to_arm(self) -> dict[str, Any]:
        return {"name": self.name, "properties": self.properties()}

    @property
    def is_tag(self) -> bool:
        return not is_prefix(self.address_prefix)


@dataclass
class RouteTable:
    name: str
    routes: list[Route]
    raw_routes: list[dict[str, Any]]  # as read, so foreign routes are written back byte for byte
    document: dict[str, Any] = field(repr=False, default_factory=dict)
    flattened: bool = False


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def parse_route(obj: Any, label: str) -> Route:
    if not isinstance(obj, Mapping):
        raise TargetError(f"{label}: expected a JSON object, got {_kind(obj)}.")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise TargetError(f"{label}: has no name.")
    props = obj.get("properties")
    if props is None:
        props = {k: v for k, v in obj.items() if k not in _ROUTE_RESOURCE_KEYS}
    if not isinstance(props, Mapping):
        raise TargetError(f"{label} ({name}): 'properties' must be an object, got {_kind(props)}.")
    prefix = props.get("addressPrefix")
    if not isinstance(prefix, str) or not prefix.strip():
        raise TargetError(f"{label} ({name}): addressPrefix must be a prefix or a service tag.")
    hop = props.get("nextHopType")
    canonical = {h.lower(): h for h in limits.NEXT_HOP_TYPES}
    if not isinstance(hop, str) or hop.lower() not in canonical:
        raise TargetError(
            f"{label} ({name}): nextHopType must be one of {', '.join(limits.NEXT_HOP_TYPES)}, got {hop!r}."
        )
    ip = props.get("nextHopIpAddress")
    if ip is not None and not isinstance(ip, str):
        raise TargetError(f"{label} ({name}): nextHopIpAddress must be a string.")
    return Route(name, prefix.strip(), canonical[hop.lower()], ip or None)


def parse_route_table(obj: Any, *, source: str) -> RouteTable:
    if not isinstance(obj, Mapping):
        raise TargetError(f"{source}: expected a JSON object describing one route table, got {_kind(obj)}.")
    flattened = not isinstance(obj.get("properties"), Mapping)
    if flattened and "routes" not in obj:
        raise TargetError(
            f"{source}: not a route table document (no 'properties' and no 'routes'); pass a REST GET of the "
            "route table or `az network route-table show -o json`."
        )
    if not flattened and "securityRules" in obj["properties"]:
        raise TargetError(f"{source}: is a network security group, not a route table; use --place nsg.")
    raw = obj.get("routes") if flattened else obj["properties"].get("routes")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise TargetError(f"{source}: 'routes' must be a list, got {_kind(raw)}.")
    routes = [parse_route(r, f"{source}: routes[{i}]") for i, r in enumerate(raw)]
    name = obj.get("name")
    return RouteTable(
        name=name if isinstance(name, str) else "",
        routes=routes,
        raw_routes=[copy.deepcopy(dict(r)) for r in raw],
        document=copy.deepcopy(dict(obj)),
        flattened=flattened,
    )


def with_routes(table: RouteTable, routes: list[dict[str, Any]]) -> dict[str, Any]:
    """The document as read with its route list replaced (in the document's own shape)."""
    doc = copy.deepcopy(table.document)
    if table.flattened:
        doc["routes"] = [_flatten(r) for r in routes]
    else:
        doc["properties"]["routes"] = [dict(r) for r in routes]
    return doc


def _flatten(route: Mapping[str, Any]) -> dict[str, Any]:
    props = route.get("properties")
    if not isinstance(props, Mapping):
        return dict(route)
    return {"name": route["name"], **props}


def comparable(route: Route) -> dict[str, Any]:
    return route.properties()


def read_only(key: str) -> bool:
    return key in _ROUTE_READ_ONLY
