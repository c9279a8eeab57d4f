"""A local HTTPS stand-in for the Azure Resource Manager Network API.

It serves what egress talks to: network security groups (get / create-or-update / delete / list), their
security rules and default rules, the long-running-operation status URLs, and the Service Tag Discovery API.
Responses have the shape of Microsoft's spec examples (id, name, type, location, etag `W/"<guid>"`, rules with
id / etag / type / provisioningState, the six default rules, resourceGuid, provisioningState), writes follow
Azure's LRO protocol (200/201 + `Azure-AsyncOperation`, polled to `Succeeded` or `Failed`), every write
changes the etag and a stale `If-Match` gets 412 `PreconditionFailed`. Validation answers with Azure's error
codes (see validation.py).

Test hooks: `inject()` queues faults (429, 409 AnotherOperationInProgress, 500, a dropped connection, a failed
LRO, any status), `on_request()` runs a callback before each request is handled (e.g. a concurrent editor
calling `edit_nsg()`), and `requests` records every request so tests can count GETs, PUTs and polls.

Behaviour worth knowing:
- A write applies at once and the NSG reads `Updating` until its operation has been polled `lro_polls` times
  (then `Succeeded`); while it is `Updating` another write to the same NSG gets 409
  AnotherOperationInProgress.
- A failed operation restores the rules as they were before the write and leaves provisioningState `Failed`.
- Unset plural fields of a rule are returned as `[]` and enum values in Azure's casing (`tcp` -> `Tcp`), as
  the real service does; read-only fields in a PUT body are ignored.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import json
import re
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import trustme

from tests.armdouble import firewall_policies, route_tables
from tests.armdouble.ratelimits import RateLimits
from tests.armdouble.resource_graph import ResourceGraph
from tests.armdouble.topology import KINDS as TOPOLOGY_KINDS
from tests.armdouble.topology import ROUTES as TOPOLOGY_ROUTES
from tests.armdouble.topology import TopologyStore
from tests.armdouble.validation import (
    ACCESS,
    DIRECTIONS,
    PROTOCOLS,
    ArmValidationError,
    check_name,
    check_rules,
)

NSG_TYPE = "Microsoft.Network/networkSecurityGroups"
RULE_TYPE = "Microsoft.Network/networkSecurityGroups/securityRules"
DEFAULT_RULE_TYPE = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"
FAULT_KINDS = ("throttle", "busy", "error", "drop", "drop-after", "lro-failed", "status")
_PLURALS = (
    "sourcePortRanges",
    "destinationPortRanges",
    "sourceAddressPrefixes",
    "destinationAddressPrefixes",
)
_RULE_READONLY = ("provisioningState",)
_NSG_REFS = ("subnets", "networkInterfaces", "flowLogs")
_NSG_READONLY_PROPS = ("provisioningState", "resourceGuid", "defaultSecurityRules", *_NSG_REFS)
_CANONICAL = {k: {v.lower(): v for v in vals} for k, vals in (("protocol", PROTOCOLS), ("access", ACCESS))}
_CANONICAL["direction"] = {v.lower(): v for v in DIRECTIONS}

# (name, description, direction, source, destination, access, priority) of every NSG's default rules.
DEFAULT_RULES: tuple[tuple[str, str, str, str, str, str, int], ...] = (
    ("AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", "Inbound", "VirtualNetwork",
     "VirtualNetwork", "Allow", 65000),
    ("AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer", "Inbound",
     "AzureLoadBalancer", "*", "Allow", 65001),
    ("DenyAllInBound", "Deny all inbound traffic", "Inbound", "*", "*", "Deny", 65500),
    ("AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET", "Outbound",
     "VirtualNetwork", "VirtualNetwork", "Allow", 65000),
    ("AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet", "Outbound", "*", "Internet",
     "Allow", 65001),
    ("DenyAllOutBound", "Deny all outbound traffic", "Outbound", "*", "*", "Deny", 65500),
)  # fmt: skip

_SEG = r"([^/]+)"
_NSG_BASE = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/microsoft\.network/networksecuritygroups"
_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern + "/?$", re.IGNORECASE))
    for kind, pattern in (
        ("nsg-list", rf"^{_NSG_BASE}"),
        ("nsg-list-all", rf"^/subscriptions/{_SEG}/providers/microsoft\.network/networksecuritygroups"),
        ("nsg", rf"^{_NSG_BASE}/{_SEG}"),
        ("rule-list", rf"^{_NSG_BASE}/{_SEG}/securityrules"),
        ("rule", rf"^{_NSG_BASE}/{_SEG}/securityrules/{_SEG}"),
        ("default-rule-list", rf"^{_NSG_BASE}/{_SEG}/defaultsecurityrules"),
        ("default-rule", rf"^{_NSG_BASE}/{_SEG}/defaultsecurityrules/{_SEG}"),
        (
            "service-tags",
            rf"^/subscriptions/{_SEG}/providers/microsoft\.network/locations/{_SEG}/servicetags",
        ),
        (
            "operation",
            rf"^/subscriptions/{_SEG}/providers/microsoft\.network/locations/{_SEG}/operations/{_SEG}",
        ),
        (
            "operation-result",
            rf"^/subscriptions/{_SEG}/providers/microsoft\.network/locations/{_SEG}/operationresults/{_SEG}",
        ),
    )
) + tuple(  # resource types kept in their own modules (route_tables.py, firewall_policies.py)
    (kind, re.compile(pattern + "/?$", re.IGNORECASE))
    for kind, pattern in (*route_tables.ROUTES, *firewall_policies.ROUTES)
)
_ROUTES += TOPOLOGY_ROUTES  # Resource Graph, VNets/subnets, NICs, VMs, ... (topology.py)


def nsg_id(subscription: str, resource_group: str, name: str) -> str:
    """The resource id of an NSG, in ARM's canonical casing."""
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Network/networkSecurityGroups/{name}"
    )


def _key(resource_id: str) -> str:
    return resource_id.strip().rstrip("/").lower()


def _new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": []}}


@dataclass
class RecordedRequest:
    """One request as the double saw it. `status` is None when the connection was dropped."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any
    kind: str  # nsg, nsg-list, rule(-list), default-rule(-list), service-tags, operation(-result), unknown
    status: int | None = None
    fault: str | None = None

    @property
    def if_match(self) -> str | None:
        return self.headers.get("if-match")

    @property
    def authorized(self) -> bool:
        value = self.headers.get("authorization", "")
        return value.lower().startswith("bearer ") and bool(value[7:].strip())

    @property
    def token(self) -> str | None:
        return self.headers.get("authorization", "")[7:].strip() or None if self.authorized else None

    @property
    def is_poll(self) -> bool:
        return self.kind in ("operation", "operation-result")


@dataclass
class Fault:
    """A queued fault: consumed by the next `times` requests whose method and path match."""

    kind: str
    method: str = "*"
    path: str = "*"  # fnmatch pattern on the URL path, case-insensitive
    times: int = 1
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method.upper() == method.upper()) and fnmatch.fnmatchcase(
            path.lower(), self.path.lower()
        )


@dataclass
class _Operation:
    id: str
    key: str  # the NSG's state key
    subscription: str
    location: str
    action: str  # put-nsg, put-rule, delete-nsg, delete-rule
    polls_left: int
    rollback: dict[str, Any] | None  # the NSG before the write, restored if the operation fails
    failure: tuple[str, str] | None = None
    status: str = "InProgress"
    resource_path: str = ""


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, ssl_context: ssl.SSLContext, double: ArmDouble) -> None:
        self.ssl_context = ssl_context
        self.double = double
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )  # headers and body leave as separate writes
        # The TLS handshake runs in the handler's thread, so one slow client cannot stall accept().
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (or fail the handshake) are normal here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(30)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        self.server.double._serve(self)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST = do_HEAD = _any


class ArmDouble:
    """The running double. Use as a context manager or call `start()` / `close()`."""

    def __init__(
        self,
        *,
        lro_polls: int = 1,
        retry_after: str | None = "0",
        service_tags: str | Path | Mapping[str, Any] | None = None,
        service_tags_page_size: int | None = None,
        busy_while_updating: bool = True,
        ca: trustme.CA | None = None,
    ) -> None:
        self.lro_polls = lro_polls  # polls answered InProgress before an operation ends
        self.retry_after = retry_after  # Retry-After sent with LRO answers (None: no header)
        self.service_tags_page_size = service_tags_page_size
        self.busy_while_updating = busy_while_updating
        self.requests: list[RecordedRequest] = []
        self._ca = ca or trustme.CA()
        self._lock = threading.RLock()
        self._nsgs: dict[str, dict[str, Any]] = {}
        self._ops: dict[str, _Operation] = {}
        self._faults: list[Fault] = []
        self._hooks: list[Callable[[RecordedRequest], None]] = []
        self._tags: dict[str, Any] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.ca_path = ""
        # Beyond NSGs (topology.py, resource_graph.py, ratelimits.py). `resource_sources` lets other stores
        # show their documents to Resource Graph too: each yields its stored documents (read, never changed).
        self.clock: Callable[[], float] = time.monotonic
        self.topology = TopologyStore()
        self.resource_sources: list[Callable[[], Any]] = [lambda: self.topology.docs(copies=False)]
        # NSG key -> the copy Resource Graph still shows (freeze_graph): Graph lags ARM by seconds to minutes.
        self.graph_lag: dict[str, dict[str, Any]] = {}
        self.graph = ResourceGraph(self._graph_view, lambda: self.clock())
        self.limits = RateLimits(lambda: self.clock())
        # Route tables and rule collection groups egress writes (route_tables.py, firewall_policies.py): they
        # take PUTs and answer GETs of what they hold; a GET of anything else of those types goes to `topology`.
        self.route_tables = route_tables.RouteTableStore(self)
        self.firewall_policies = firewall_policies.FirewallPolicyStore(self)
        self._stores = (self.route_tables, self.firewall_policies)
        self.resource_sources.append(
            lambda: [*self.route_tables.tables.values(), *self.firewall_policies.policies.values()]
        )
        if service_tags is not None:
            self.set_service_tags(service_tags)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> ArmDouble:
        cert = self._ca.issue_cert("127.0.0.1", "localhost", "::1")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(ctx)
        self._tmp = tempfile.TemporaryDirectory(prefix="armdouble-")
        ca_file = Path(self._tmp.name) / "ca.pem"
        self._ca.cert_pem.write_to_path(str(ca_file))
        self.ca_path = str(ca_file)
        self._server = _Server(ctx, self)
        self.base_url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="armdouble", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ArmDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- test API --------------------------------------------------------------------------------------------

    def seed_nsg(self, resource_id: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create or replace an NSG without validation (any state a test needs); return it as GET would."""
        body = dict(body or {})
        sub, rg, name = self._parse_id(resource_id)
        props = dict(body.get("properties") or {})
        with self._lock:
            doc = self._build(
                nsg_id(sub, rg, name),
                name,
                str(body.get("location") or "eastus"),
                props,
                tags=body.get("tags"),
                etag=str(body.get("etag") or _new_etag()),
                state=str(props.get("provisioningState") or "Succeeded"),
                resource_guid=str(props.get("resourceGuid") or uuid.uuid4()),
                previous=None,
            )
            self._nsgs[_key(doc["id"])] = doc
            return copy.deepcopy(doc)

    def nsg(self, resource_id: str) -> dict[str, Any] | None:
        """The NSG as stored (a copy), or None."""
        with self._lock:
            doc = self._nsgs.get(_key(resource_id))
            return copy.deepcopy(doc) if doc is not None else None

    def edit_nsg(self, resource_id: str, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Change an NSG as another writer would: `edit` mutates the document, then the etag changes."""
        with self._lock:
            doc = self._nsgs[_key(resource_id)]
            draft = copy.deepcopy(doc)
            edit(draft)
            props = draft.get("properties") or {}
            new = self._build(
                doc["id"],
                doc["name"],
                str(draft.get("location") or doc["location"]),
                props,
                tags=draft.get("tags"),
                etag=_new_etag(),
                state=str(props.get("provisioningState") or "Succeeded"),
                resource_guid=doc["properties"]["resourceGuid"],
                previous=None,
            )
            self._nsgs[_key(doc["id"])] = new
            return copy.deepcopy(new)

    def remove_nsg(self, resource_id: str) -> None:
        with self._lock:
            self._nsgs.pop(_key(resource_id), None)

    def inject(
        self,
        kind: str,
        *,
        method: str = "*",
        path: str = "*",
        times: int = 1,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        retry_after: str | None = None,
    ) -> Fault:
        """Queue a fault for the next `times` requests matching `method` and the fnmatch `path` pattern.

        Kinds: throttle (429 + Retry-After), busy (409 AnotherOperationInProgress), error (500), drop (close
        the connection without answering), drop-after (handle the request, then close without answering),
        lro-failed (accept a write whose operation then ends Failed), status (any `status`/`code`/`message`).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        fault = Fault(kind, method, path, times, status, code, message, retry_after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def on_request(self, hook: Callable[[RecordedRequest], None]) -> Callable[[], None]:
        """Run `hook(request)` before each request is handled (that request sees what the hook changes).

        Hooks run in the server's thread holding its lock: they may call the double's methods (`edit_nsg`,
        `inject`, ...) but not send it HTTP requests. Returns a function that removes the hook.
        """
        with self._lock:
            self._hooks.append(hook)

        def remove() -> None:
            with self._lock:
                if hook in self._hooks:
                    self._hooks.remove(hook)

        return remove

    def count(self, method: str | None = None, kind: str | None = None) -> int:
        """How many recorded requests have this method and/or kind (`poll` counts both status URL kinds)."""

        def wanted(r: RecordedRequest) -> bool:
            if method is not None and r.method != method.upper():
                return False
            if kind == "poll":
                return r.is_poll
            return kind is None or r.kind == kind

        with self._lock:
            return sum(1 for r in self.requests if wanted(r))

    def all_resources(self, *, copies: bool = True) -> list[dict[str, Any]]:
        """Every ARM document the double holds (NSGs and every other store), as a GET would return it.

        `copies=False` shares the stored documents (read-only use under the lock, as Resource Graph does).
        """
        with self._lock:
            docs = [d for _, d in sorted(self._nsgs.items())]
            for source in self.resource_sources:
                docs.extend(source())
            return [copy.deepcopy(d) for d in docs] if copies else docs

    def freeze_graph(self, resource_id: str) -> None:
        """Resource Graph keeps showing this NSG as it is now while ARM moves on, until `thaw_graph()`."""
        with self._lock:
            self.graph_lag[_key(resource_id)] = copy.deepcopy(self._nsgs[_key(resource_id)])

    def thaw_graph(self) -> None:
        with self._lock:
            self.graph_lag.clear()

    def _graph_view(self) -> list[dict[str, Any]]:
        docs = self.all_resources(copies=False)
        if not self.graph_lag:
            return docs
        return [self.graph_lag.get(_key(str(d.get("id", ""))), d) for d in docs]

    def deny_subscription(self, subscription: str) -> None:
        """The caller may not read `subscription`: ARM answers 403 there and Resource Graph hides its rows."""
        with self._lock:
            self.graph.denied_subscriptions.add(subscription.lower())

    def set_service_tags(self, source: str | Path | Mapping[str, Any]) -> None:
        """Serve the Discovery API from a weekly ServiceTags_*.json file (path or parsed dict)."""
        data = (
            dict(source) if isinstance(source, Mapping) else json.loads(Path(source).read_text("utf-8-sig"))
        )
        with self._lock:
            self._tags = data

    # -- request handling ------------------------------------------------------------------------------------

    @staticmethod
    def _parse_id(resource_id: str) -> tuple[str, str, str]:
        m = _ROUTES[2][1].match(resource_id.strip())
        if not m:
            raise ValueError(f"not an NSG resource id: {resource_id!r}")
        return m.group(1), m.group(2), m.group(3)

    def _serve(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        method = h.command.upper()
        kind = next((k for k, rx in _ROUTES if rx.match(path)), "unknown")
        rec = RecordedRequest(method, path, query, {k.lower(): v for k, v in h.headers.items()}, body, kind)
        with self._lock:
            self.requests.append(rec)
            for hook in list(self._hooks):
                hook(rec)
            fault = next((f for f in self._faults if f.matches(method, path)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                rec.fault = fault.kind
            if fault is not None and fault.kind == "drop":
                self._drop(h)
                return
            if fault is not None and fault.kind in ("throttle", "busy", "error", "status"):
                reply = self._fault_reply(fault)
            elif bad_json:
                reply = _Reply(400, _error("InvalidRequestContent", "The request content was invalid JSON."))
            else:
                limit_headers, throttled = self.limits.take(method, path)
                reply = _Reply(*throttled) if throttled else self._dispatch(rec, fault)
                reply.headers = {**limit_headers, **reply.headers}
            if fault is not None and fault.kind == "drop-after":
                self._drop(h)
                return
            rec.status = reply.status
        self._write(h, reply, head=method == "HEAD")

    @staticmethod
    def _drop(h: _Handler) -> None:
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.request.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _write(h: _Handler, reply: _Reply, *, head: bool = False) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        h.send_response(reply.status)
        headers = {"Content-Type": "application/json; charset=utf-8", "x-ms-request-id": str(uuid.uuid4())}
        headers.update(reply.headers)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if not head:
            h.wfile.write(data)

    def _fault_reply(self, f: Fault) -> _Reply:
        headers = {"Retry-After": f.retry_after} if f.retry_after is not None else {}
        if f.kind == "throttle":
            headers.setdefault("Retry-After", "1")
            code = f.code or "TooManyRequests"
            return _Reply(
                f.status or 429, _error(code, f.message or "The request is being throttled."), headers
            )
        if f.kind == "busy":
            code = f.code or "AnotherOperationInProgress"
            msg = f.message or "Another operation on this or dependent resource is in progress. Retry later."
            return _Reply(f.status or 409, _error(code, msg), headers)
        if f.kind == "error":
            code = f.code or "InternalServerError"
            return _Reply(f.status or 500, _error(code, f.message or "An error occurred."), headers)
        return _Reply(
            f.status or 400, _error(f.code or "BadRequest", f.message or "Injected error."), headers
        )

    def _dispatch(self, rec: RecordedRequest, fault: Fault | None) -> _Reply:
        auth = rec.headers.get("authorization", "")
        if not rec.authorized:
            what = "missing" if not auth else "malformed"
            return _Reply(
                401,
                _error(
                    "AuthenticationFailed", f"Authentication failed. The 'Authorization' header is {what}."
                ),
            )
        if not rec.query.get("api-version"):
            return _Reply(
                400,
                _error(
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                ),
            )
        denied = self._denied(rec)
        if denied is not None:
            return denied
        m = next((rx.match(rec.path) for k, rx in _ROUTES if k == rec.kind), None)
        if m is None:
            return _Reply(404, _error("InvalidResourceType", f"No route for {rec.method} {rec.path}."))
        args = m.groups()
        if rec.kind == "graph":
            return _Reply(*self.graph.handle(rec.body, rec.token or ""))
        if rec.kind in TOPOLOGY_KINDS:
            url = f"{self.base_url}{rec.path}?{_qs(rec.query)}"
            return _Reply(*self.topology.handle(rec.method, rec.kind, args, rec.query, rec.body, url))
        failure = None
        if fault is not None and fault.kind == "lro-failed":
            failure = (fault.code or "InternalServerError", fault.message or "An error occurred.")
        for store in self._stores:
            if rec.kind in store.KINDS:
                try:
                    reply = store.handle(rec, rec.kind, args, failure)
                except ArmValidationError as err:
                    return _Reply(err.status, _error(err.code, err.message))
                if reply is not None:
                    return reply
                return self._topology_reply(rec)  # not one it holds: a resource seeded in `topology`
        handler = {
            ("nsg", "GET"): lambda: self._get_nsg(*args),
            ("nsg", "PUT"): lambda: self._put_nsg(rec, *args, failure=failure),
            ("nsg", "DELETE"): lambda: self._delete_nsg(rec, *args, failure=failure),
            ("nsg-list", "GET"): lambda: self._list_nsgs(args[0], args[1]),
            ("nsg-list-all", "GET"): lambda: self._list_nsgs(args[0], None),
            ("rule-list", "GET"): lambda: self._list_rules(*args, "securityRules"),
            ("rule", "GET"): lambda: self._get_rule(*args, "securityRules"),
            ("rule", "PUT"): lambda: self._put_rule(rec, *args, failure=failure),
            ("rule", "DELETE"): lambda: self._delete_rule(rec, *args, failure=failure),
            ("default-rule-list", "GET"): lambda: self._list_rules(*args, "defaultSecurityRules"),
            ("default-rule", "GET"): lambda: self._get_rule(*args, "defaultSecurityRules"),
            ("service-tags", "GET"): lambda: self._service_tags(rec, *args),
            ("operation", "GET"): lambda: self._poll(rec, args[2], result=False),
            ("operation-result", "GET"): lambda: self._poll(rec, args[2], result=True),
        }.get((rec.kind, rec.method if rec.method != "HEAD" else "GET"))
        if handler is None:
            return _Reply(405, _error("MethodNotAllowed", f"{rec.method} is not supported on {rec.path}."))
        try:
            return handler()
        except ArmValidationError as err:
            return _Reply(err.status, _error(err.code, err.message))

    def _topology_reply(self, rec: RecordedRequest) -> _Reply:
        for kind, rx in TOPOLOGY_ROUTES:
            m = rx.match(rec.path)
            if m is not None and kind in TOPOLOGY_KINDS:
                url = f"{self.base_url}{rec.path}?{_qs(rec.query)}"
                return _Reply(*self.topology.handle(rec.method, kind, m.groups(), rec.query, rec.body, url))
        return _Reply(405, _error("MethodNotAllowed", f"{rec.method} is not supported on {rec.path}."))

    def _denied(self, rec: RecordedRequest) -> _Reply | None:
        m = re.match(r"^/subscriptions/([^/]+)", rec.path, re.IGNORECASE)
        if not m or m.group(1).lower() not in self.graph.denied_subscriptions:
            return None
        return _Reply(
            403,
            _error(
                "AuthorizationFailed",
                "The client '00000000-0000-0000-0000-000000000000' with object id "
                "'00000000-0000-0000-0000-000000000000' does not have authorization to perform action "
                f"'{rec.method}' over scope '{rec.path}' or the scope is invalid. If access was recently "
                "granted, please refresh your credentials.",
            ),
        )

    # -- documents -------------------------------------------------------------------------------------------

    def _build(
        self,
        rid: str,
        name: str,
        location: str,
        props: Mapping[str, Any],
        *,
        tags: Any,
        etag: str,
        state: str,
        resource_guid: str,
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        rules = [self._rule_doc(rid, r, etag, state) for r in props.get("securityRules") or []]
        defaults = [
            {
                "name": n,
                "id": f"{rid}/defaultSecurityRules/{n}",
                "etag": etag,
                "type": DEFAULT_RULE_TYPE,
                "properties": {
                    "provisioningState": "Succeeded",
                    "description": desc,
                    "protocol": "*",
                    "sourcePortRange": "*",
                    "destinationPortRange": "*",
                    "sourceAddressPrefix": src,
                    "destinationAddressPrefix": dst,
                    "access": access,
                    "priority": prio,
                    "direction": direction,
                    **{p: [] for p in _PLURALS},
                },
            }
            for n, desc, direction, src, dst, access, prio in DEFAULT_RULES
        ]
        out_props: dict[str, Any] = {
            "provisioningState": state,
            "resourceGuid": resource_guid,
            "securityRules": rules,
            "defaultSecurityRules": defaults,
        }
        # References to subnets / NICs are read-only: a write keeps the stored ones. Other extras are copied.
        refs = previous["properties"] if previous else props
        for k in _NSG_REFS:
            if k in refs:
                out_props[k] = copy.deepcopy(refs[k])
        for k, v in props.items():
            if k not in ("securityRules", *_NSG_READONLY_PROPS):
                out_props[k] = copy.deepcopy(v)
        doc: dict[str, Any] = {
            "name": name,
            "id": rid,
            "etag": etag,
            "type": NSG_TYPE,
            "location": location,
        }
        if tags:
            doc["tags"] = copy.deepcopy(tags)
        doc["properties"] = out_props
        return doc

    @staticmethod
    def _rule_doc(rid: str, rule: Mapping[str, Any], etag: str, state: str) -> dict[str, Any]:
        name = str(rule.get("name"))
        props: dict[str, Any] = {"provisioningState": state}
        for k, v in (rule.get("properties") or {}).items():
            if k in _RULE_READONLY:
                continue
            if k in _CANONICAL and isinstance(v, str):
                v = _CANONICAL[k].get(v.lower(), v)
            props[k] = copy.deepcopy(v)
        for p in _PLURALS:
            props.setdefault(p, [])
        return {
            "name": name,
            "id": f"{rid}/securityRules/{name}",
            "etag": etag,
            "type": RULE_TYPE,
            "properties": props,
        }

    def _not_found(self, rg: str, name: str) -> _Reply:
        return _Reply(
            404,
            _error(
                "ResourceNotFound",
                f"The Resource '{NSG_TYPE}/{name}' under resource group '{rg}' was not found. For more "
                "details please go to https://aka.ms/ARMResourceNotFoundFix",
            ),
        )

    @staticmethod
    def _precondition(rec: RecordedRequest, current: Mapping[str, Any] | None) -> _Reply | None:
        if_match = rec.headers.get("if-match")
        if_none = rec.headers.get("if-none-match")
        failed = False
        if if_match is not None and if_match.strip() != "*":
            failed = current is None or if_match.strip() != current.get("etag")
        elif if_match is not None and current is None:
            failed = True
        if if_none is not None and if_none.strip() == "*" and current is not None:
            failed = True
        if not failed:
            return None
        return _Reply(
            412,
            _error(
                "PreconditionFailed",
                "The condition specified using HTTP conditional header(s) is not met: If-Match "
                f"{if_match!s}, current etag {current.get('etag') if current else None}.",
            ),
        )

    def _busy(self, key: str) -> _Reply | None:
        if not self.busy_while_updating:
            return None
        if any(op.key == key and op.status == "InProgress" for op in self._ops.values()):
            return _Reply(
                409,
                _error(
                    "AnotherOperationInProgress",
                    "Another operation on this or dependent resource is in progress. To retrieve status of "
                    "the operation use uri: (see Azure-AsyncOperation).",
                ),
            )
        return None

    def _known_tags(self) -> set[str] | None:
        if self._tags is None:
            return None
        return {str(v.get("name", "")).lower() for v in self._tags.get("values", []) if self._nsg_usable(v)}

    @staticmethod
    def _nsg_usable(value: Mapping[str, Any]) -> bool:
        features = (value.get("properties") or {}).get("networkFeatures")
        return features is None or "NSG" in features

    def _start_op(
        self,
        rec: RecordedRequest,
        key: str,
        sub: str,
        location: str,
        action: str,
        rollback: Any,
        failure: Any,
    ) -> tuple[_Operation, dict[str, str]]:
        op = _Operation(
            id=str(uuid.uuid4()),
            key=key,
            subscription=sub,
            location=location,
            action=action,
            polls_left=self.lro_polls,
            rollback=rollback,
            failure=failure,
            resource_path=rec.path,
        )
        self._ops[op.id] = op
        api = rec.query.get("api-version", "")
        base = f"{self.base_url}/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}"
        headers = {"Azure-AsyncOperation": f"{base}/operations/{op.id}?api-version={api}"}
        if action.startswith("delete"):
            headers["Location"] = f"{base}/operationResults/{op.id}?api-version={api}"
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return op, headers

    def _get_nsg(self, sub: str, rg: str, name: str) -> _Reply:
        doc = self._nsgs.get(_key(nsg_id(sub, rg, name)))
        if doc is None:
            return self._not_found(rg, name)
        return _Reply(200, copy.deepcopy(doc), {"ETag": doc["etag"]})

    def _list_nsgs(self, sub: str, rg: str | None) -> _Reply:
        prefix = _key(nsg_id(sub, rg, "")) if rg else f"/subscriptions/{sub.lower()}/"
        docs = [copy.deepcopy(d) for k, d in sorted(self._nsgs.items()) if k.startswith(prefix)]
        return _Reply(200, {"value": docs})

    def _write_nsg(
        self,
        rec: RecordedRequest,
        sub: str,
        rg: str,
        name: str,
        props: Mapping[str, Any],
        location: str | None,
        tags: Any,
        *,
        action: str,
        failure: Any,
    ) -> tuple[dict[str, Any], bool, dict[str, str]]:
        """Validate and store a new version of an NSG; start its operation. Raises ArmValidationError."""
        key = _key(nsg_id(sub, rg, name))
        current = self._nsgs.get(key)
        rid = current["id"] if current else nsg_id(sub, rg, name)
        if current is None:
            check_name(name, "network security group")
            if not location:
                raise ArmValidationError(
                    "LocationRequired", "The location property is required for this definition."
                )
        elif location and location.replace(" ", "").lower() != current["location"].lower():
            raise ArmValidationError(
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{current['location']}' in resource group "
                f"'{rg}'. A resource with the same name cannot be created in location '{location}'. Please "
                "select a new resource name.",
            )
        check_rules(rid, name, list(props.get("securityRules") or []), self._known_tags())
        etag = _new_etag()
        doc = self._build(
            rid,
            current["name"] if current else name,
            current["location"] if current else str(location),
            props,
            tags=tags if tags is not None else (current or {}).get("tags"),
            etag=etag,
            state="Updating",
            resource_guid=current["properties"]["resourceGuid"] if current else str(uuid.uuid4()),
            previous=current,
        )
        self._nsgs[key] = doc
        _, headers = self._start_op(rec, key, sub, doc["location"], action, copy.deepcopy(current), failure)
        return doc, current is None, headers

    def _put_nsg(self, rec: RecordedRequest, sub: str, rg: str, name: str, *, failure: Any) -> _Reply:
        key = _key(nsg_id(sub, rg, name))
        current = self._nsgs.get(key)
        refused = self._precondition(rec, current) or (self._busy(key) if current else None)
        if refused:
            return refused
        body = rec.body
        if not isinstance(body, dict):
            raise ArmValidationError("InvalidRequestContent", "The request content must be a JSON object.")
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise ArmValidationError("InvalidRequestContent", "properties must be a JSON object.")
        writable = {k: v for k, v in props.items() if k not in _NSG_READONLY_PROPS}
        doc, created, headers = self._write_nsg(
            rec,
            sub,
            rg,
            name,
            writable,
            body.get("location"),
            body.get("tags"),
            action="put-nsg",
            failure=failure,
        )
        return _Reply(201 if created else 200, copy.deepcopy(doc), headers)

    def _delete_nsg(self, rec: RecordedRequest, sub: str, rg: str, name: str, *, failure: Any) -> _Reply:
        key = _key(nsg_id(sub, rg, name))
        current = self._nsgs.get(key)
        refused = self._precondition(rec, current) if current else None
        refused = refused or (self._busy(key) if current else None)
        if refused:
            return refused
        if current is None:
            return _Reply(204)
        del self._nsgs[key]
        _, headers = self._start_op(rec, key, sub, current["location"], "delete-nsg", current, failure)
        return _Reply(202, None, headers)

    def _nsg_or_404(self, sub: str, rg: str, name: str) -> tuple[dict[str, Any] | None, _Reply | None]:
        doc = self._nsgs.get(_key(nsg_id(sub, rg, name)))
        return (doc, None) if doc is not None else (None, self._not_found(rg, name))

    def _list_rules(self, sub: str, rg: str, name: str, which: str) -> _Reply:
        doc, missing = self._nsg_or_404(sub, rg, name)
        if doc is None:
            return missing  # type: ignore[return-value]
        return _Reply(200, {"value": copy.deepcopy(doc["properties"][which])})

    def _get_rule(self, sub: str, rg: str, name: str, rule: str, which: str) -> _Reply:
        doc, missing = self._nsg_or_404(sub, rg, name)
        if doc is None:
            return missing  # type: ignore[return-value]
        for r in doc["properties"][which]:
            if r["name"].lower() == rule.lower():
                return _Reply(200, copy.deepcopy(r), {"ETag": r["etag"]})
        kind = "securityRules" if which == "securityRules" else "defaultSecurityRules"
        return _Reply(
            404,
            _error(
                "NotFound",
                f"Resource {doc['id']}/{kind}/{rule} not found.",
            ),
        )

    def _put_rule(
        self, rec: RecordedRequest, sub: str, rg: str, name: str, rule: str, *, failure: Any
    ) -> _Reply:
        doc, missing = self._nsg_or_404(sub, rg, name)
        if doc is None:
            return missing  # type: ignore[return-value]
        existing = next(
            (r for r in doc["properties"]["securityRules"] if r["name"].lower() == rule.lower()), None
        )
        refused = self._precondition(rec, existing) or self._busy(_key(doc["id"]))
        if refused:
            return refused
        if not isinstance(rec.body, dict):
            raise ArmValidationError("InvalidRequestContent", "The request content must be a JSON object.")
        new_rule = {
            "name": existing["name"] if existing else rule,
            "properties": rec.body.get("properties") or {},
        }
        rules = [
            new_rule
            if r["name"].lower() == rule.lower()
            else {"name": r["name"], "properties": r["properties"]}
            for r in doc["properties"]["securityRules"]
        ]
        if existing is None:
            rules.append(new_rule)
        props = {k: v for k, v in doc["properties"].items() if k not in _NSG_READONLY_PROPS}
        props["securityRules"] = rules
        new_doc, _, headers = self._write_nsg(
            rec, sub, rg, name, props, None, None, action="put-rule", failure=failure
        )
        out = next(r for r in new_doc["properties"]["securityRules"] if r["name"].lower() == rule.lower())
        return _Reply(201 if existing is None else 200, copy.deepcopy(out), headers)

    def _delete_rule(
        self, rec: RecordedRequest, sub: str, rg: str, name: str, rule: str, *, failure: Any
    ) -> _Reply:
        doc, missing = self._nsg_or_404(sub, rg, name)
        if doc is None:
            return missing  # type: ignore[return-value]
        existing = next(
            (r for r in doc["properties"]["securityRules"] if r["name"].lower() == rule.lower()), None
        )
        refused = (self._precondition(rec, existing) if existing else None) or self._busy(_key(doc["id"]))
        if refused:
            return refused
        if existing is None:
            return _Reply(204)
        props = {k: v for k, v in doc["properties"].items() if k not in _NSG_READONLY_PROPS}
        props["securityRules"] = [r for r in doc["properties"]["securityRules"] if r is not existing]
        _, _, headers = self._write_nsg(
            rec, sub, rg, name, props, None, None, action="delete-rule", failure=failure
        )
        loc = f"{self.base_url}/subscriptions/{sub}/providers/Microsoft.Network/locations/{doc['location']}"
        op_id = headers["Azure-AsyncOperation"].rsplit("/", 1)[1].split("?")[0]
        headers["Location"] = f"{loc}/operationResults/{op_id}?api-version={rec.query.get('api-version', '')}"
        return _Reply(202, None, headers)

    # -- long-running operations -----------------------------------------------------------------------------

    def _finish(self, op: _Operation) -> None:
        op.status = "Failed" if op.failure else "Succeeded"
        if any(store.finish(op) for store in self._stores):
            return
        doc = self._nsgs.get(op.key)
        if op.failure is None:
            if doc is not None and not op.action.startswith("delete-nsg"):
                self._set_state(doc, "Succeeded")
            return
        # A failed write leaves the rules as they were, marked Failed; a failed delete keeps the NSG.
        if op.rollback is None:
            self._nsgs.pop(op.key, None)
            return
        old = copy.deepcopy(op.rollback)
        if doc is not None:
            old["etag"] = _new_etag()
        self._set_state(old, "Failed")
        self._nsgs[op.key] = old

    @staticmethod
    def _set_state(doc: dict[str, Any], state: str) -> None:
        doc["properties"]["provisioningState"] = state
        for rule in doc["properties"]["securityRules"]:
            rule["properties"]["provisioningState"] = state
            rule["etag"] = doc["etag"]

    def _poll(self, rec: RecordedRequest, op_id: str, *, result: bool) -> _Reply:
        op = self._ops.get(op_id)
        if op is None:
            return _Reply(404, _error("OperationNotFound", f"Operation {op_id} was not found."))
        if op.status == "InProgress":
            if op.polls_left > 0:
                op.polls_left -= 1
            else:
                self._finish(op)
        headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
        if result:
            if op.status == "InProgress":
                return _Reply(
                    202, None, {**headers, "Location": f"{self.base_url}{rec.path}?{_qs(rec.query)}"}
                )
            if op.status == "Failed":
                code, message = op.failure or ("InternalServerError", "")
                return _Reply(400, _error(code, message))
            return _Reply(204)
        body: dict[str, Any] = {"id": rec.path, "name": op.id, "status": op.status}
        if op.status == "Failed":
            code, message = op.failure or ("InternalServerError", "")
            body["error"] = {"code": code, "message": message, "details": []}
        return _Reply(200, body, headers if op.status == "InProgress" else {})

    # -- service tags ----------------------------------------------------------------------------------------

    def _service_tags(self, rec: RecordedRequest, sub: str, location: str) -> _Reply:
        if self._tags is None:
            return _Reply(501, _error("DoubleNotConfigured", "armdouble: call set_service_tags() first."))
        cloud = str(self._tags.get("cloud", "Public"))
        values = [
            {
                "name": v["name"],
                "id": v.get("id", v["name"]),
                "properties": {
                    "changeNumber": str((v.get("properties") or {}).get("changeNumber", "")),
                    "region": (v.get("properties") or {}).get("region", ""),
                    "systemService": (v.get("properties") or {}).get("systemService", ""),
                    "addressPrefixes": list((v.get("properties") or {}).get("addressPrefixes") or []),
                },
            }
            for v in self._tags.get("values", [])
            if self._nsg_usable(v)  # the API lists only tags an NSG can use
        ]
        body: dict[str, Any] = {
            "name": cloud.lower(),
            "id": f"/subscriptions/{sub}/providers/Microsoft.Network/serviceTags/{cloud.lower()}",
            "type": "Microsoft.Network/serviceTags",
            "changeNumber": str(self._tags.get("changeNumber", "")),
            "cloud": cloud,
        }
        size = self.service_tags_page_size
        if size:
            start = int(rec.query.get("$skipToken") or 0)
            body["values"] = values[start : start + size]
            if start + size < len(values):
                query = {**rec.query, "$skipToken": str(start + size)}
                body["nextLink"] = f"{self.base_url}{rec.path}?{_qs(query)}"
        else:
            body["values"] = values
        return _Reply(200, body)


def _qs(query: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in query.items())
