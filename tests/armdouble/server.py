"""A local HTTPS stand-in for the Azure Resource Manager Network API.

It serves what egress talks to: network security groups (get / create-or-update / delete / list), their
security rules and default rules (nsgs.py), route tables and their routes (route_tables.py), firewall policies'
rule collection groups (firewall_policies.py), what `egress path` reads and Resource Graph (topology.py,
resource_graph.py), the long-running-operation status URLs, and the Service Tag Discovery API.
Each writable type is a store of resources.py, which holds ARM's protocol once: responses have the shape of
Microsoft's spec examples (id, name, type, location, etag `W/"<guid>"`, children with id / etag / type /
provisioningState), writes follow Azure's LRO protocol (200/201 + `Azure-AsyncOperation`, polled to `Succeeded`
or `Failed`), every write changes the etag and a stale `If-Match` gets 412 `PreconditionFailed`. Validation
answers with Azure's error codes (see validation.py and each store).

Test hooks: `inject()` queues faults (429, 409 AnotherOperationInProgress, 500, a dropped connection, a failed
LRO, any status), `on_request()` runs a callback before each request is handled (e.g. a concurrent editor
calling `edit_nsg()`), `requests` records every request so tests can count GETs, PUTs and polls, and
`connections` counts the connections clients opened.

Behaviour worth knowing:
- A write applies at once and the resource reads `Updating` until its operation has been polled `lro_polls`
  times (then `Succeeded`); while it is `Updating` another write to the same resource gets 409
  AnotherOperationInProgress.
- A failed operation restores the resource as it was before the write and leaves provisioningState `Failed`.
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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import trustme

from tests.armdouble import firewall_policies, nsgs, route_tables
from tests.armdouble.nsgs import DEFAULT_RULES, NSG_TYPE, canonical_id, nsg_id, nsg_usable
from tests.armdouble.ratelimits import RateLimits
from tests.armdouble.resource_graph import ResourceGraph
from tests.armdouble.resources import Operations, Reply, error, key
from tests.armdouble.topology import KINDS as TOPOLOGY_KINDS
from tests.armdouble.topology import ROUTES as TOPOLOGY_ROUTES
from tests.armdouble.topology import TopologyStore
from tests.armdouble.validation import ArmValidationError

__all__ = ["DEFAULT_RULES", "NSG_TYPE", "ArmDouble", "Fault", "RecordedRequest", "nsg_id"]
FAULT_KINDS = ("throttle", "busy", "error", "drop", "drop-after", "lro-failed", "status", "stall")
STALL_SECONDS = 30.0  # how long a `stall` fault holds a request before hanging up (a hung ARM front end)

_SEG = r"([^/]+)"
_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern + "/?$", re.IGNORECASE))
    for kind, pattern in (
        *nsgs.ROUTES,
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
        # resource types kept in their own modules (route_tables.py, firewall_policies.py)
        *route_tables.ROUTES,
        *firewall_policies.ROUTES,
    )
)
_ROUTES += TOPOLOGY_ROUTES  # Resource Graph, VNets/subnets, NICs, VMs, ... (topology.py)


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
    seconds: float = STALL_SECONDS  # stall: how long to hold the request unanswered

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method.upper() == method.upper()) and fnmatch.fnmatchcase(
            path.lower(), self.path.lower()
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, ssl_context: ssl.SSLContext, double: ArmDouble) -> None:
        self.ssl_context = ssl_context
        self.double = double
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.double.connections += 1  # accept() runs in one thread: no lock needed
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
        self.connections = 0  # TCP (then TLS) connections accepted: how well clients reuse their pool
        self._ca = ca or trustme.CA()
        self._lock = threading.RLock()
        self.operations = Operations(self)  # every write's long-running operation (resources.py)
        self._faults: list[Fault] = []
        self._closing = threading.Event()  # set by close(): stalled requests end at once
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
        # Every store writes with ARM's protocol (resources.py) and holds one type's documents by id.
        self.nsgs = nsgs.NsgStore(self)
        self.route_tables = route_tables.RouteTableStore(self)
        self.firewall_policies = firewall_policies.FirewallPolicyStore(self)
        self._stores = (self.nsgs, self.route_tables, self.firewall_policies)
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
        self._closing.set()
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
        return self.nsgs.seed(canonical_id(resource_id), body)

    def nsg(self, resource_id: str) -> dict[str, Any] | None:
        """The NSG as stored (a copy), or None."""
        return self.nsgs.get(resource_id)

    def edit_nsg(self, resource_id: str, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Change an NSG as another writer would: `edit` mutates the document, then the etag changes."""
        return self.nsgs.edit(resource_id, edit)

    def remove_nsg(self, resource_id: str) -> None:
        self.nsgs.remove(resource_id)

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
        seconds: float = STALL_SECONDS,
    ) -> Fault:
        """Queue a fault for the next `times` requests matching `method` and the fnmatch `path` pattern.

        Kinds: throttle (429 + Retry-After), busy (409 AnotherOperationInProgress), error (500), drop (close
        the connection without answering), drop-after (handle the request, then close without answering),
        lro-failed (accept a write whose operation then ends Failed), status (any `status`/`code`/`message`),
        stall (read the request, answer nothing for `seconds`, then hang up: a hung front end).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        fault = Fault(kind, method, path, times, status, code, message, retry_after, seconds)
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
            docs = [d for _, d in sorted(self.nsgs.docs.items())]
            for source in self.resource_sources:
                docs.extend(source())
            return [copy.deepcopy(d) for d in docs] if copies else docs

    def freeze_graph(self, resource_id: str) -> None:
        """Resource Graph keeps showing this NSG as it is now while ARM moves on, until `thaw_graph()`."""
        with self._lock:
            self.graph_lag[key(resource_id)] = copy.deepcopy(self.nsgs.docs[key(resource_id)])

    def thaw_graph(self) -> None:
        with self._lock:
            self.graph_lag.clear()

    def _graph_view(self) -> list[dict[str, Any]]:
        docs = self.all_resources(copies=False)
        if not self.graph_lag:
            return docs
        return [self.graph_lag.get(key(str(d.get("id", ""))), d) for d in docs]

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
            if fault is not None and fault.kind == "stall":
                reply = None
            elif fault is not None and fault.kind in ("throttle", "busy", "error", "status"):
                reply = self._fault_reply(fault)
            elif bad_json:
                reply = Reply(400, error("InvalidRequestContent", "The request content was invalid JSON."))
            else:
                limit_headers, throttled = self.limits.take(method, path)
                reply = Reply(*throttled) if throttled else self._dispatch(rec, fault)
                reply.headers = {**limit_headers, **reply.headers}
            if fault is not None and fault.kind == "drop-after":
                self._drop(h)
                return
            if reply is not None:
                rec.status = reply.status
        if reply is None:  # stall, outside the lock: other requests are served meanwhile
            self._closing.wait(fault.seconds if fault is not None else STALL_SECONDS)
            self._drop(h)
            return
        self._write(h, reply, head=method == "HEAD")

    @staticmethod
    def _drop(h: _Handler) -> None:
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.request.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _write(h: _Handler, reply: Reply, *, head: bool = False) -> None:
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

    def _fault_reply(self, f: Fault) -> Reply:
        headers = {"Retry-After": f.retry_after} if f.retry_after is not None else {}
        if f.kind == "throttle":
            headers.setdefault("Retry-After", "1")
            code = f.code or "TooManyRequests"
            return Reply(
                f.status or 429, error(code, f.message or "The request is being throttled."), headers
            )
        if f.kind == "busy":
            code = f.code or "AnotherOperationInProgress"
            msg = f.message or "Another operation on this or dependent resource is in progress. Retry later."
            return Reply(f.status or 409, error(code, msg), headers)
        if f.kind == "error":
            code = f.code or "InternalServerError"
            return Reply(f.status or 500, error(code, f.message or "An error occurred."), headers)
        return Reply(f.status or 400, error(f.code or "BadRequest", f.message or "Injected error."), headers)

    def _dispatch(self, rec: RecordedRequest, fault: Fault | None) -> Reply:
        auth = rec.headers.get("authorization", "")
        if not rec.authorized:
            what = "missing" if not auth else "malformed"
            return Reply(
                401,
                error(
                    "AuthenticationFailed", f"Authentication failed. The 'Authorization' header is {what}."
                ),
            )
        if not rec.query.get("api-version"):
            return Reply(
                400,
                error(
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                ),
            )
        denied = self._denied(rec)
        if denied is not None:
            return denied
        m = next((rx.match(rec.path) for k, rx in _ROUTES if k == rec.kind), None)
        if m is None:
            return Reply(404, error("InvalidResourceType", f"No route for {rec.method} {rec.path}."))
        args = m.groups()
        if rec.kind == "graph":
            return Reply(*self.graph.handle(rec.body, rec.token or ""))
        if rec.kind in TOPOLOGY_KINDS:
            url = f"{self.base_url}{rec.path}?{_qs(rec.query)}"
            return Reply(*self.topology.handle(rec.method, rec.kind, args, rec.query, rec.body, url))
        failure = None
        if fault is not None and fault.kind == "lro-failed":
            failure = (fault.code or "InternalServerError", fault.message or "An error occurred.")
        for store in self._stores:
            if rec.kind in store.KINDS:
                try:
                    reply = store.handle(rec, rec.kind, args, failure)
                except ArmValidationError as err:
                    return Reply(err.status, error(err.code, err.message))
                if reply is not None:
                    return reply
                return self._topology_reply(rec)  # not one it holds: a resource seeded in `topology`
        handler = {
            ("service-tags", "GET"): lambda: self._service_tags(rec, *args),
            ("operation", "GET"): lambda: self.operations.poll(rec, args[2], result=False),
            ("operation-result", "GET"): lambda: self.operations.poll(rec, args[2], result=True),
        }.get((rec.kind, rec.method if rec.method != "HEAD" else "GET"))
        if handler is None:
            return Reply(405, error("MethodNotAllowed", f"{rec.method} is not supported on {rec.path}."))
        return handler()

    def _topology_reply(self, rec: RecordedRequest) -> Reply:
        for kind, rx in TOPOLOGY_ROUTES:
            m = rx.match(rec.path)
            if m is not None and kind in TOPOLOGY_KINDS:
                url = f"{self.base_url}{rec.path}?{_qs(rec.query)}"
                return Reply(*self.topology.handle(rec.method, kind, m.groups(), rec.query, rec.body, url))
        return Reply(405, error("MethodNotAllowed", f"{rec.method} is not supported on {rec.path}."))

    def _denied(self, rec: RecordedRequest) -> Reply | None:
        m = re.match(r"^/subscriptions/([^/]+)", rec.path, re.IGNORECASE)
        if not m or m.group(1).lower() not in self.graph.denied_subscriptions:
            return None
        return Reply(
            403,
            error(
                "AuthorizationFailed",
                "The client '00000000-0000-0000-0000-000000000000' with object id "
                "'00000000-0000-0000-0000-000000000000' does not have authorization to perform action "
                f"'{rec.method}' over scope '{rec.path}' or the scope is invalid. If access was recently "
                "granted, please refresh your credentials.",
            ),
        )

    # -- service tags ----------------------------------------------------------------------------------------

    def _service_tags(self, rec: RecordedRequest, sub: str, location: str) -> Reply:
        if self._tags is None:
            return Reply(501, error("DoubleNotConfigured", "armdouble: call set_service_tags() first."))
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
            if nsg_usable(v)  # the API lists only tags an NSG can use
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
        return Reply(200, body)


def _qs(query: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in query.items())
