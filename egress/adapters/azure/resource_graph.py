"""Azure Resource Graph and the per-VNet admin rules: the live topology `egress path` reads.

    endpoint = resolve_endpoint(cloud, arm_endpoint)                # --cloud / --arm-endpoint / $EGRESS_ARM_ENDPOINT
    resources = load_topology([parse_scope("azure:/subscriptions/S")], auth="cli", endpoint=endpoint)

`load_topology` returns the JSON array an offline `egress path --resources FILE` reads (see
egress.core.graph_queries for the shape): the Graph rows of the topology query, every rule collection group of
the firewall policies in use, and one admin-rules record per VNet that a NIC uses.

Requests, without faults:
- Resource Graph: one POST per 1,000 rows (`$top` 1000, then `$skipToken`), for every scope at once.
- Admin rules: one `listNetworkManagerEffectiveSecurityAdminRules` POST per VNet that a NIC in the result uses,
  plus one more per 20 rules (`$top` 20 is the API's largest page; the next page is asked with `skipToken`).
- Rule collection groups: one GET per firewall policy that an Azure Firewall in the result uses (and per base
  policy it inherits from), plus one per further page (Graph keeps them in `NetworkResources`, which a query
  cannot union with `Resources`).
Never one GET per resource. `GraphClient.requests` counts them by kind.

Retries: the SDK's RetryPolicy as for NSGs (429, 5xx, dropped connections; `Retry-After` honoured, capped); a
throttled Graph answer without Retry-After waits `x-ms-user-quota-resets-after`, and a page that leaves
`x-ms-user-quota-remaining: 0` waits that long before the next page.

Access: Graph answers only with what the caller may read, so a subscription without access gives no rows (a
note says so); ARM refuses the admin-rule call there with 403, which is an error naming the VNet.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from egress.adapters.azure.errors import AzureApiError
from egress.adapters.azure.target import Endpoint
from egress.core.graph_queries import (
    GRAPH_PAGE_SIZE,
    Scope,
    admin_rules_record,
    path_topology_query,
    subscriptions_of,
)
from egress.errors import EgressError, FetchError, TargetError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from egress.adapters.azure.session import AzureSession

GRAPH_API_VERSION = "2024-04-01"  # the Resource Graph spec egress (and its test double) follows
ADMIN_RULES_PAGE_SIZE = 20  # listNetworkManagerEffectiveSecurityAdminRules: $top 1..20
MAX_PAGES = 10_000  # 10 million rows, or 200,000 admin rules on one VNet: a server that never stops paging
MAX_QUOTA_WAIT = 60.0  # seconds; the longest pause egress takes to let Graph's per-user quota refill
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_ARM_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<type>[^/]+)/"
    r"(?P<name>[^/]+)",
    re.IGNORECASE,
)
_HMS = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def quota_resets_after(value: str | None) -> float | None:
    """Seconds in Graph's `x-ms-user-quota-resets-after` (`hh:mm:ss`), or None if absent or malformed."""
    m = _HMS.match((value or "").strip())
    if not m:
        return None
    h, mnt, s = m.groups()
    return int(h) * 3600 + int(mnt) * 60 + float(s)


def _id_parts(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of a top-level ARM resource id."""
    m = _ARM_ID.match(resource_id.strip())
    if not m:
        raise FetchError(f"Resource Graph returned an id ARM cannot address: {resource_id!r}.")
    return m.group("sub"), m.group("rg"), m.group("name")


def _raw(pipeline_response: Any, deserialized: Any, headers: Any) -> tuple[Any, Any]:
    # `cls` hook: Azure's JSON as sent, and the response headers (Graph's quota).
    http = pipeline_response.http_response
    try:
        body = http.json()
    except ValueError:
        body = None
    return body, http.headers


class GraphClient:
    """Resource Graph queries and the per-VNet/per-policy lists, through the real Azure SDK clients."""

    def __init__(
        self,
        endpoint: Endpoint,
        credential: TokenCredential,
        *,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        ca_bundle: str | None = None,
        session: AzureSession | None = None,
    ) -> None:
        """`session`: send through the run's connection pool (one TLS connection per host for the whole run)
        instead of a pool of this client's own."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.endpoint = endpoint
        self._session = session
        self.max_attempts = max_attempts
        self.requests: Counter[str] = Counter()  # graph | admin-rules | rule-collection-groups
        self.retries = 0
        self._credential = credential
        self._sleep = sleep
        self._ca_bundle = ca_bundle
        self._graph: Any = None
        self._network: dict[str, Any] = {}

    # -- Resource Graph --------------------------------------------------------------------------------------

    def query(self, query: str, subscriptions: Sequence[str]) -> list[dict[str, Any]]:
        """Every row of `query` over `subscriptions`, paged 1,000 rows at a time with `$skipToken`."""
        from azure.core.exceptions import AzureError as SdkError
        from azure.core.rest import HttpRequest

        client = self._graph_client()
        # The client's own pipeline (auth, retries, counting) with the body as JSON: its `resources()` would
        # also turn every row into model objects first (~0.6 s per 1,000 rows) only for egress to want JSON.
        send = getattr(client, "send_request", None) or client._send_request
        url = f"/providers/Microsoft.ResourceGraph/resources?api-version={GRAPH_API_VERSION}"
        rows: list[dict[str, Any]] = []
        token: str | None = None
        total: int | None = None
        for page_no in range(1, MAX_PAGES + 1):
            options: dict[str, Any] = {"resultFormat": "objectArray"}
            if token:
                options["$skipToken"] = token  # carries the page size
            else:
                options["$top"] = GRAPH_PAGE_SIZE
            request = HttpRequest(
                "POST", url, json={"subscriptions": list(subscriptions), "query": query, "options": options}
            )
            try:
                response = send(request)
                response.raise_for_status()
            except SdkError as exc:
                raise self._error(exc, "query Resource Graph for", ", ".join(subscriptions)) from None
            try:
                body: Any = response.json()
            except ValueError:
                body = None
            headers = response.headers
            data, token, total = self._page(body, page_no, total)
            rows.extend(data)
            if not token:
                return rows
            self._pace(headers)
        raise FetchError(f"Resource Graph kept paging past {MAX_PAGES} pages; narrow the --scope.")

    @staticmethod
    def _page(body: Any, page_no: int, total: int | None) -> tuple[list[dict[str, Any]], str | None, int]:
        where = f"page {page_no} of the Resource Graph answer"
        if not isinstance(body, dict):
            raise FetchError(f"{where} is not a JSON object; try again, or narrow the --scope.")
        data = body.get("data")
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise FetchError(
                f"{where} has no list of rows in `data` (resultFormat objectArray); try again later."
            )
        count, records = body.get("count"), body.get("totalRecords")
        if not isinstance(count, int) or count != len(data) or not isinstance(records, int):
            raise FetchError(f"{where} says count {count!r} but holds {len(data)} rows; try again later.")
        if str(body.get("resultTruncated", "false")).lower() == "true":
            raise FetchError(f"{where} is truncated (resultTruncated); narrow the --scope.")
        token = body.get("$skipToken")
        if token is not None and (not isinstance(token, str) or not token):
            raise FetchError(f"{where} has a $skipToken that is not a string; try again later.")
        return data, token, records if total is None else total

    def _pace(self, headers: Mapping[str, str]) -> None:
        # Graph's per-user quota (e.g. 15 queries per 5 s): out of it, wait for the window rather than a 429.
        remaining = str(headers.get("x-ms-user-quota-remaining", "")).strip()
        if remaining == "0":
            wait = quota_resets_after(headers.get("x-ms-user-quota-resets-after"))
            if wait:
                self._sleep(min(wait, MAX_QUOTA_WAIT))

    # -- ARM lists -------------------------------------------------------------------------------------------

    def admin_rules(self, vnet_id: str) -> list[dict[str, Any]]:
        """Every effective security admin rule of one VNet, as `listNetworkManagerEffectiveSecurityAdminRules`
        returns them (all pages)."""
        from azure.core.exceptions import AzureError as SdkError

        sub, rg, name = _id_parts(vnet_id)
        client = self._network_client(sub)
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            try:
                body, _headers = client.list_network_manager_effective_security_admin_rules(
                    rg,
                    name,
                    {"skipToken": token} if token else {},
                    top=ADMIN_RULES_PAGE_SIZE,
                    cls=_raw,
                )
            except SdkError as exc:
                raise self._error(exc, "list the effective admin rules of", vnet_id) from None
            value = body.get("value") if isinstance(body, dict) else None
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise FetchError(f"ARM's admin-rule list for {vnet_id} has no `value` list; try again later.")
            items.extend(value)
            token = body.get("skipToken") or None
            if not token:
                return items
        raise FetchError(f"ARM kept paging the admin rules of {vnet_id} past {MAX_PAGES} pages.")

    def rule_collection_groups(self, policy_id: str) -> list[dict[str, Any]]:
        """Every rule collection group of one firewall policy, in ARM's GET shape (all pages)."""
        from azure.core.exceptions import AzureError as SdkError

        sub, rg, name = _id_parts(policy_id)
        client = self._network_client(sub)
        try:
            pages = client.firewall_policy_rule_collection_groups.list(rg, name).by_page()
            groups = [g.as_dict() for page in pages for g in page]
        except SdkError as exc:
            raise self._error(exc, "list the rule collection groups of", policy_id) from None
        return [_rest_shape(g) for g in groups]

    # -- plumbing --------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None
        for client in self._network.values():
            client.close()
        self._network.clear()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _options(self) -> dict[str, Any]:
        from egress.adapters.azure._graph_sdk import GraphRetryPolicy

        options: dict[str, Any] = {
            "base_url": self.endpoint.arm,
            "credential_scopes": [self.endpoint.scope],
            "retry_policy": GraphRetryPolicy(
                max_attempts=self.max_attempts, sleep=self._sleep, on_retry=self._count_retry
            ),
            "raw_request_hook": self._count_request,
        }
        if self._session is not None:
            options["transport"] = self._session.transport()
        elif self._ca_bundle:
            options["connection_verify"] = self._ca_bundle
        return options

    def _graph_client(self) -> Any:
        if self._graph is None:
            from azure.mgmt.resourcegraph import ResourceGraphClient

            self._graph = ResourceGraphClient(self._credential, **self._options())
        return self._graph

    def _network_client(self, subscription: str) -> Any:
        key = subscription.lower()
        if key not in self._network:
            from azure.mgmt.network import NetworkManagementClient

            self._network[key] = NetworkManagementClient(self._credential, subscription, **self._options())
        return self._network[key]

    def _count_request(self, request: Any) -> None:
        path = request.http_request.url.split("?", 1)[0].lower()
        if path.endswith("/providers/microsoft.resourcegraph/resources"):
            kind = "graph"
        elif path.endswith("/listnetworkmanagereffectivesecurityadminrules"):
            kind = "admin-rules"
        elif "/rulecollectiongroups" in path:
            kind = "rule-collection-groups"
        else:
            kind = "other"
        self.requests[kind] += 1

    def _count_retry(self) -> None:
        self.retries += 1

    def _error(self, exc: Exception, action: str, what: str) -> EgressError:
        from azure.core.exceptions import HttpResponseError

        from egress.adapters.azure._sdk import one_line, read_error, sign_in_or_network_error

        response = getattr(exc, "response", None)
        if isinstance(exc, HttpResponseError) and response is not None and exc.status_code is not None:
            status = int(exc.status_code)
            code, message = read_error(response)
            code = code or getattr(getattr(exc, "error", None), "code", None)
            details = _error_details(response)
            text = one_line(details or message or getattr(exc, "message", "") or exc)
            label = f"{status} {code}" if code else str(status)
            if status == 400 and details:
                return AzureApiError(
                    f"Azure refused to {action} {what} ({label}): {text}; the query egress sent was refused, "
                    "please report this with the message.",
                    code=code,
                    status=status,
                )
            if status == 401:
                advice = "sign in again (`az login`) or choose another --auth method"
            elif status == 403:
                advice = (
                    "the signed-in identity needs Reader on that scope (Network Contributor is not needed)"
                )
            elif status == 404:
                return TargetError(f"{what} was not found ({label}): {text}; check the --scope.")
            elif status in _RETRYABLE_STATUS:
                return AzureApiError(
                    f"Azure still refused to {action} {what} after {self.max_attempts} attempts ({label}): "
                    f"{text}; try again later.",
                    code=code,
                    status=status,
                )
            else:
                advice = "check the --scope"
            return AzureApiError(
                f"Azure refused to {action} {what} ({label}): {text}; {advice}.", code=code, status=status
            )
        failed = sign_in_or_network_error(exc, self.endpoint.arm, self.max_attempts)
        if failed is not None:
            return failed
        return AzureApiError(f"Azure request to {action} {what} failed: {one_line(exc)}")


def _error_details(http_response: Any) -> str | None:
    """The messages of `error.details[]` (Graph says what is wrong with a query there), joined, or None."""
    try:
        data = json.loads(http_response.text() or "null")
        details = data["error"]["details"]
        messages = [str(d["message"]) for d in details if isinstance(d, dict) and d.get("message")]
    except Exception:
        return None
    return " ".join(m.rstrip(".") + "." for m in messages) or None


def _rest_shape(group: Mapping[str, Any]) -> dict[str, Any]:
    """An SDK model's `as_dict()` keeps ARM's camelCase keys; drop the Nones the model adds for unset fields."""
    if isinstance(group, Mapping):
        return {k: _rest_shape(v) for k, v in group.items() if v is not None}  # type: ignore[misc]
    if isinstance(group, list):
        return [_rest_shape(v) for v in group]  # type: ignore[return-value]
    return group  # type: ignore[return-value]


def _lower(value: object) -> str:
    return str(value or "").rstrip("/").lower()


def _ref(value: object) -> str:
    return _lower(value.get("id")) if isinstance(value, Mapping) else ""


def vnets_in_use(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The VNet ids that NICs in `rows` have subnets in, in the VNet rows' own spelling, sorted."""
    used: set[str] = set()
    for row in rows:
        if _lower(row.get("type")) != "microsoft.network/networkinterfaces":
            continue
        for ipc in (row.get("properties") or {}).get("ipConfigurations") or []:
            subnet = _ref((ipc.get("properties") or {}).get("subnet")) if isinstance(ipc, Mapping) else ""
            if "/subnets/" in subnet:
                used.add(subnet.split("/subnets/", 1)[0])
    spelled = {
        _lower(r.get("id")): str(r.get("id")).rstrip("/")
        for r in rows
        if _lower(r.get("type")) == "microsoft.network/virtualnetworks"
    }
    return sorted((spelled[v] for v in used if v in spelled), key=str.lower)


def policies_in_use(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The firewall policy ids that Azure Firewalls in `rows` use, with the base policies they inherit from."""
    rows = list(rows)
    policies = {
        _lower(r.get("id")): r for r in rows if _lower(r.get("type")) == "microsoft.network/firewallpolicies"
    }
    wanted: dict[str, str] = {}
    todo = [
        (r.get("properties") or {}).get("firewallPolicy")
        for r in rows
        if _lower(r.get("type")) == "microsoft.network/azurefirewalls"
    ]
    while todo:
        ref = todo.pop()
        key = _ref(ref)
        if not key or key in wanted:
            continue
        wanted[key] = str(ref.get("id")).rstrip("/")  # type: ignore[union-attr]
        policy = policies.get(key)
        if policy is not None:
            todo.append((policy.get("properties") or {}).get("basePolicy"))
    return sorted(wanted.values(), key=str.lower)


def load_topology(
    scopes: Sequence[Scope],
    *,
    auth: str = "default",
    endpoint: Endpoint,
    protected_only: bool = False,
    credential: TokenCredential | None = None,
    ca_bundle: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    client: GraphClient | None = None,
    note: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """The topology of `scopes` as the JSON array `egress path --resources` reads.

    `credential`/`ca_bundle`/`sleep`/`client` are seams for tests and benchmarks (`client.requests` counts
    requests by kind); `note` receives remarks for the person at the terminal (e.g. a subscription that
    showed no resources).
    """
    if not scopes:
        raise ValueError("load_topology needs at least one scope")
    subscriptions = subscriptions_of(scopes)
    own = client is None
    if client is None:
        from egress.adapters.azure.credentials import make_credential

        cred = credential if credential is not None else make_credential(auth, endpoint.authority)
        client = GraphClient(endpoint, cred, sleep=sleep, ca_bundle=ca_bundle)
    try:
        rows = client.query(path_topology_query(scopes, protected_only=protected_only), subscriptions)
        seen = {_lower(r.get("subscriptionId")) for r in rows}
        if note is not None:
            for sub in subscriptions:
                if sub not in seen:
                    note(
                        f"Resource Graph showed nothing in subscription {sub}: it is empty, or the signed-in "
                        "identity cannot read it."
                    )
        out = [dict(r) for r in rows]
        for policy in policies_in_use(rows):
            out.extend(client.rule_collection_groups(policy))
        for vnet in vnets_in_use(rows):
            out.append(admin_rules_record(vnet, client.admin_rules(vnet)))
        return out
    finally:
        if own:
            client.close()
