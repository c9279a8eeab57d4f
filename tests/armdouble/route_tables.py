"""Route tables (and their routes) for the ARM double: GET / PUT / DELETE of a table and of one route,
with ARM's ETag / If-Match, LRO and busy behaviour (resources.py), and the Network resource provider's route checks.

Shapes follow Microsoft's examples (RouteTableGet.json, RouteTableCreateWithRoute.json, RouteTableRouteGet.json):
the table carries `provisioningState`, `resourceGuid`, `disableBgpRoutePropagation`, `routes[]` (each with id,
etag, type, and `provisioningState`, `addressPrefix`, `nextHopType`, `nextHopIpAddress` when set,
`hasBgpOverride`) and read-only `subnets`. Checks (codes marked "observed" appear in public error reports;
others are the double's own names, distinguishable in tests):
- next hop: one of RouteNextHopType; `nextHopIpAddress` required for VirtualAppliance and refused otherwise;
- addressPrefix: a CIDR, or a service tag whose networkFeatures list UDR (when the double serves a tag file);
- at most 400 routes and 25 service-tag routes per table; route names unique and valid; one route per prefix.
"""

from __future__ import annotations

import copy
import ipaddress
import uuid
from collections.abc import Mapping
from typing import Any

from tests.armdouble.resources import ResourceStore
from tests.armdouble.validation import ArmValidationError, check_name

TABLE_TYPE = "Microsoft.Network/routeTables"
ROUTE_TYPE = "Microsoft.Network/routeTables/routes"
NEXT_HOPS = ("VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None")
MAX_ROUTES = 400
MAX_TAG_ROUTES = 25
_SEG = r"([^/]+)"
_BASE = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/microsoft\.network/routetables"
ROUTES = (
    ("route-table", rf"^{_BASE}/{_SEG}"),
    ("route", rf"^{_BASE}/{_SEG}/routes/{_SEG}"),
)
KINDS = frozenset(kind for kind, _ in ROUTES)


def table_id(subscription: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{TABLE_TYPE}/{name}"


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


class RouteTableStore(ResourceStore):
    TYPE = TABLE_TYPE
    NOUN = "route table"
    KINDS = KINDS
    DOCUMENT_KIND, CHILD_KIND = "route-table", "route"
    READ_ONLY = ("provisioningState", "resourceGuid", "subnets")
    CHILDREN = "routes"
    CHILD_CREATED = 200  # the double's route PUT has always answered 200 (the spec allows 200 and 201)
    SHARED_WITH_TOPOLOGY = True

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return self.docs

    def validate(self, rid: str, props: Mapping[str, Any]) -> None:
        check_routes(rid, list(props.get("routes") or []), self.tags_for("UDR"))

    def build(
        self, rid: str, name: str, location: str, props: Mapping[str, Any], *, tags: Any, etag: str, state: str,
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any]:  # fmt: skip
        routes = []
        for r in props.get("routes") or []:
            rprops: dict[str, Any] = {"provisioningState": state}
            for k, v in (r.get("properties") or {}).items():
                if k in ("provisioningState", "hasBgpOverride"):
                    continue
                if k == "nextHopType" and isinstance(v, str):
                    v = {h.lower(): h for h in NEXT_HOPS}.get(v.lower(), v)
                rprops[k] = copy.deepcopy(v)
            rprops["hasBgpOverride"] = False
            routes.append(
                {
                    "name": r["name"],
                    "id": f"{rid}/routes/{r['name']}",
                    "etag": etag,
                    "type": ROUTE_TYPE,
                    "properties": rprops,
                }
            )
        before = previous["properties"] if previous else props
        out: dict[str, Any] = {
            "provisioningState": state,
            "resourceGuid": str(before.get("resourceGuid") or uuid.uuid4()),
            "disableBgpRoutePropagation": bool(props.get("disableBgpRoutePropagation", False)),
            "routes": routes,
        }
        if "subnets" in before:  # read-only: a write keeps the stored ones
            out["subnets"] = copy.deepcopy(before["subnets"])
        doc: dict[str, Any] = {
            "name": name,
            "id": rid,
            "etag": etag,
            "type": TABLE_TYPE,
            "location": location,
        }
        if tags:
            doc["tags"] = copy.deepcopy(tags)
        doc["properties"] = out
        return doc


def check_routes(table: str, routes: list[Any], routable_tags: set[str] | None) -> None:
    """The Network resource provider's checks of a table's route list; the first problem is the answer."""
    if len(routes) > MAX_ROUTES:
        raise ArmValidationError(
            "RouteTableExceedsMaxRoutes",
            f"Route table {table} has {len(routes)} routes, exceeding the maximum of {MAX_ROUTES}.",
        )
    names: set[str] = set()
    prefixes: dict[str, str] = {}
    tag_routes = 0
    for route in routes:
        if not isinstance(route, Mapping):
            raise ArmValidationError("InvalidRequestFormat", "Each route must be a JSON object.")
        name = route.get("name")
        check_name(name, "route")
        assert isinstance(name, str)
        if name.lower() in names:
            raise ArmValidationError(
                "DuplicateResourceName", f"Route table {table} has two routes named {name}."
            )
        names.add(name.lower())
        rid = f"{table}/routes/{name}"
        props = route.get("properties") or {}
        hop = props.get("nextHopType")
        canonical = {h.lower(): h for h in NEXT_HOPS}
        if not isinstance(hop, str) or hop.lower() not in canonical:
            raise ArmValidationError(
                "InvalidRequestFormat",
                f"Route {rid}: nextHopType {hop!r} is not one of {', '.join(NEXT_HOPS)}.",
            )
        ip = props.get("nextHopIpAddress")
        if canonical[hop.lower()] == "VirtualAppliance":
            try:
                ipaddress.ip_address(str(ip))
            except ValueError:
                raise ArmValidationError(
                    "InvalidNextHopIpAddress",
                    f"Route {rid} has next hop type VirtualAppliance and needs a valid nextHopIpAddress, not {ip!r}.",
                ) from None
        elif ip:
            raise ArmValidationError(
                "NextHopIpAddressNotAllowed",  # the spec: "only allowed in routes where the next hop type is VirtualAppliance"
                f"Route {rid}: nextHopIpAddress is allowed only when nextHopType is VirtualAppliance, not {hop}.",
            )
        prefix = props.get("addressPrefix")
        if not isinstance(prefix, str) or not prefix.strip():
            raise ArmValidationError("InvalidRequestFormat", f"Route {rid} has no addressPrefix.")
        if _network(prefix) is None:
            tag_routes += 1
            if routable_tags is not None and prefix.lower() not in routable_tags:
                raise ArmValidationError(
                    "InvalidServiceTagForRoute",
                    f"Route {rid}: addressPrefix {prefix} is neither a valid CIDR nor a service tag that supports "
                    "user-defined routes.",
                )
        key = str(_network(prefix) or prefix.lower())
        if key in prefixes:
            raise ArmValidationError(
                "RouteConflict",
                f"Route {rid} has addressPrefix {prefix}, the same as route {prefixes[key]} in the route table.",
            )
        prefixes[key] = name
    if tag_routes > MAX_TAG_ROUTES:
        raise ArmValidationError(
            "RouteTableExceedsMaxServiceTagRoutes",
            f"Route table {table} has {tag_routes} routes with a service tag, exceeding the maximum of {MAX_TAG_ROUTES}.",
        )
