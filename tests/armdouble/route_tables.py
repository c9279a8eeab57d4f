"""Route tables (and their routes) for the ARM double: GET / PUT / DELETE of a table, GET / PUT of one route,
with the NSG's ETag / If-Match, LRO and busy behaviour, and the Network resource provider's route checks.

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
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.armdouble.validation import ArmValidationError, check_name

if TYPE_CHECKING:
    from tests.armdouble.server import ArmDouble, RecordedRequest, _Operation, _Reply

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
_READ_ONLY = ("provisioningState", "resourceGuid", "subnets")
_ID = re.compile(rf"^{_BASE}/{_SEG}/?$", re.IGNORECASE)


def table_id(subscription: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{TABLE_TYPE}/{name}"


def _key(resource_id: str) -> str:
    return resource_id.strip().rstrip("/").lower()


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


class RouteTableStore:
    KINDS = KINDS

    def __init__(self, double: ArmDouble) -> None:
        self.double = double
        self.tables: dict[str, dict[str, Any]] = {}

    # -- test API (call with or without the double's lock held) ---------------------------------------------

    def seed(self, resource_id: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create or replace a route table without validation; return it as GET would."""
        m = _ID.match(resource_id.strip())
        if not m:
            raise ValueError(f"not a route table id: {resource_id!r}")
        sub, rg, name = m.groups()
        body = dict(body or {})
        with self.double._lock:
            doc = self._build(
                table_id(sub, rg, name),
                name,
                str(body.get("location") or "eastus"),
                dict(body.get("properties") or {}),
                body.get("tags"),
                _etag(),
                "Succeeded",
                None,
            )
            self.tables[_key(doc["id"])] = doc
            return copy.deepcopy(doc)

    def get(self, resource_id: str) -> dict[str, Any] | None:
        with self.double._lock:
            doc = self.tables.get(_key(resource_id))
            return copy.deepcopy(doc) if doc is not None else None

    def edit(self, resource_id: str, edit: Any) -> dict[str, Any]:
        """Change a table as another writer would (the etag moves)."""
        with self.double._lock:
            doc = self.tables[_key(resource_id)]
            draft = copy.deepcopy(doc)
            edit(draft)
            new = self._build(
                doc["id"],
                doc["name"],
                doc["location"],
                draft["properties"],
                draft.get("tags"),
                _etag(),
                "Succeeded",
                doc,
            )
            self.tables[_key(doc["id"])] = new
            return copy.deepcopy(new)

    # -- requests --------------------------------------------------------------------------------------------

    def handle(self, rec: RecordedRequest, kind: str, args: tuple[str, ...], failure: Any) -> _Reply | None:
        method = rec.method if rec.method != "HEAD" else "GET"
        if kind == "route-table" and method == "GET":
            return self._get(*args)
        if kind == "route-table" and method == "PUT":
            return self._put(rec, *args, failure=failure)
        if kind == "route" and method == "GET":
            return self._get_route(*args)
        if kind == "route" and method == "PUT":
            return self._put_route(rec, *args, failure=failure)
        return None

    def finish(self, op: _Operation) -> bool:
        """End an operation on a table: Succeeded, or Failed with the routes as they were."""
        if op.action != "put-route-table":
            return False
        if op.failure is None:
            doc = self.tables.get(op.key)
            if doc is not None:
                self._set_state(doc, "Succeeded")
            return True
        if op.rollback is None:
            self.tables.pop(op.key, None)
            return True
        old = copy.deepcopy(op.rollback)
        old["etag"] = _etag()
        self._set_state(old, "Failed")
        self.tables[op.key] = old
        return True

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> _Reply:
        from tests.armdouble.server import _Reply

        return _Reply(status, body, headers or {})

    def _not_found(self, rg: str, name: str) -> _Reply:
        from tests.armdouble.server import _error

        return self._reply(
            404,
            _error(
                "ResourceNotFound",
                f"The Resource '{TABLE_TYPE}/{name}' under resource group '{rg}' was not found. For more "
                "details please go to https://aka.ms/ARMResourceNotFoundFix",
            ),
        )

    def _get(self, sub: str, rg: str, name: str) -> _Reply | None:
        doc = self.tables.get(_key(table_id(sub, rg, name)))
        if doc is None:
            return None  # perhaps one the topology store holds (read-only); it answers, 404 included
        return self._reply(200, copy.deepcopy(doc), {"ETag": doc["etag"]})

    def _current(self, key: str) -> dict[str, Any] | None:
        """The table as stored here, else as seeded in the topology store (a write moves it here)."""
        return self.tables.get(key) or self.double.topology.get(key)

    def _put(self, rec: RecordedRequest, sub: str, rg: str, name: str, *, failure: Any) -> _Reply:
        key = _key(table_id(sub, rg, name))
        current = self._current(key)
        refused = self.double._precondition(rec, current) or (self.double._busy(key) if current else None)
        if refused:
            return refused
        body = rec.body
        if not isinstance(body, dict) or not isinstance(body.get("properties") or {}, dict):
            raise ArmValidationError("InvalidRequestContent", "The request content must be a JSON object.")
        props = {k: v for k, v in (body.get("properties") or {}).items() if k not in _READ_ONLY}
        return self._write(rec, sub, rg, name, props, body.get("location"), body.get("tags"), failure=failure)

    def _write(
        self,
        rec: RecordedRequest,
        sub: str,
        rg: str,
        name: str,
        props: Mapping[str, Any],
        location: Any,
        tags: Any,
        *,
        failure: Any,
        reply_route: str | None = None,
    ) -> _Reply:
        key = _key(table_id(sub, rg, name))
        current = self._current(key)
        if current is None:
            check_name(name, "route table")
            if not location:
                raise ArmValidationError(
                    "LocationRequired", "The location property is required for this definition."
                )
        rid = current["id"] if current else table_id(sub, rg, name)
        check_routes(rid, list(props.get("routes") or []), self._routable_tags())
        doc = self._build(
            rid,
            current["name"] if current else name,
            current["location"] if current else str(location),
            props,
            tags if tags is not None else (current or {}).get("tags"),
            _etag(),
            "Updating",
            current,
        )
        self.tables[key] = doc
        self.double.topology.remove(key)
        _, headers = self.double._start_op(
            rec, key, sub, doc["location"], "put-route-table", copy.deepcopy(current), failure
        )
        if reply_route is not None:
            route = next(r for r in doc["properties"]["routes"] if r["name"].lower() == reply_route.lower())
            return self._reply(200, copy.deepcopy(route), headers)
        return self._reply(201 if current is None else 200, copy.deepcopy(doc), headers)

    def _get_route(self, sub: str, rg: str, name: str, route: str) -> _Reply | None:
        from tests.armdouble.server import _error

        doc = self._current(_key(table_id(sub, rg, name)))
        if doc is None:
            return self._not_found(rg, name)
        for r in doc["properties"]["routes"]:
            if r["name"].lower() == route.lower():
                return self._reply(200, copy.deepcopy(r), {"ETag": r["etag"]})
        return self._reply(404, _error("NotFound", f"Resource {doc['id']}/routes/{route} not found."))

    def _put_route(
        self, rec: RecordedRequest, sub: str, rg: str, name: str, route: str, *, failure: Any
    ) -> _Reply:
        doc = self._current(_key(table_id(sub, rg, name)))
        if doc is None:
            return self._not_found(rg, name)
        refused = self.double._busy(_key(doc["id"]))
        if refused:
            return refused
        if not isinstance(rec.body, dict):
            raise ArmValidationError("InvalidRequestContent", "The request content must be a JSON object.")
        new = {"name": route, "properties": rec.body.get("properties") or {}}
        routes = [
            new if r["name"].lower() == route.lower() else {"name": r["name"], "properties": r["properties"]}
            for r in doc["properties"]["routes"]
        ]
        if not any(r["name"].lower() == route.lower() for r in doc["properties"]["routes"]):
            routes.append(new)
        props = {k: v for k, v in doc["properties"].items() if k not in _READ_ONLY}
        props["routes"] = routes
        return self._write(rec, sub, rg, name, props, None, None, failure=failure, reply_route=route)

    def _routable_tags(self) -> set[str] | None:
        tags = self.double._tags
        if tags is None:
            return None
        out = set()
        for value in tags.get("values", []):
            props = value.get("properties") or {}
            # An old file without the field says nothing (allowed); a null list, as AzureBackup.<Region> has, is none.
            features = props.get("networkFeatures") if "networkFeatures" in props else ["UDR"]
            if features and "UDR" in features:
                out.add(str(value.get("name", "")).lower())
        return out

    # -- documents -------------------------------------------------------------------------------------------

    def _build(
        self,
        rid: str,
        name: str,
        location: str,
        props: Mapping[str, Any],
        tags: Any,
        etag: str,
        state: str,
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
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
        out: dict[str, Any] = {
            "provisioningState": state,
            "resourceGuid": (previous or {}).get("properties", {}).get("resourceGuid") or str(uuid.uuid4()),
            "disableBgpRoutePropagation": bool(props.get("disableBgpRoutePropagation", False)),
            "routes": routes,
        }
        if previous and "subnets" in previous["properties"]:
            out["subnets"] = copy.deepcopy(previous["properties"]["subnets"])
        elif "subnets" in props:
            out["subnets"] = copy.deepcopy(props["subnets"])
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

    @staticmethod
    def _set_state(doc: dict[str, Any], state: str) -> None:
        doc["properties"]["provisioningState"] = state
        for route in doc["properties"]["routes"]:
            route["properties"]["provisioningState"] = state
            route["etag"] = doc["etag"]


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
