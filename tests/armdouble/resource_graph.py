"""Azure Resource Graph, as the double serves it: `POST /providers/Microsoft.ResourceGraph/resources`.

Faithful to Microsoft's spec (tests/data/microsoft/reference/azure-rest-spec-2025-05-01/resourcegraph, API
2024-04-01): the request `{subscriptions, managementGroups, query, options: {$top 1..1000, $skip >= 0,
$skipToken, resultFormat table|objectArray (default objectArray), allowPartialScopes,
authorizationScopeFilter}, facets}`; the answer `{totalRecords, count, resultTruncated "true"|"false", data,
facets, $skipToken}`. The query runs on every resource the double holds (NSGs and the topology store alike)
through the KQL subset in kql.py, so a query egress changes without teaching the double fails with Graph's own
error (400 BadRequest, details InvalidQuery + the parser's code).

Behaviour worth knowing:
- Scope: rows of the request's `subscriptions` only (all the caller may read when it names none); a
  subscription in `denied_subscriptions` is invisible, as Graph shows only what the caller may read.
  Management-group scopes and facets are not served (400, loudly).
- Paging: pages of `$top` rows (100 when not given, as Graph's default); the `$skipToken` encodes the offset,
  page size, a hash of the query and scopes (a token replayed with another query is refused) and the paging
  session: later pages read the result the first page computed (the newest 8 sessions are kept; an older
  token recomputes on the store as it is). A result
  without an `id` column, or one made by `limit`/`take`, is not paged further: Graph then answers the first
  page with `resultTruncated: "true"`.
- Per-user quota (`quota` queries per `quota_window` seconds on `clock`, default 15 per 5 s, keyed by bearer
  token): every answer carries `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (hh:mm:ss); a
  query beyond it gets 429 RateLimiting with those headers and no Retry-After. `quota = None` turns it off.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tests.armdouble.kql import KqlError, Table, run_query
from tests.armdouble.topology import GRAPH_COLUMNS, graph_row, graph_table

DEFAULT_PAGE = 100
SNAPSHOTS = 8  # paging sessions whose results are kept
MAX_TOP = 1000
RESULT_FORMATS = ("table", "objectArray")
TENANT_ID = "00000000-0000-0000-0000-0000000000a1"


def _support(message: str) -> str:
    return (
        f"Please provide below info when asking for support: timestamp = 2026-01-01T00:00:00.0000000Z, "
        f"correlationId = {uuid.uuid4()}. {message}"
    ).strip()


def bad_request(detail_code: str, detail: str, *, invalid_query: bool = True) -> dict[str, Any]:
    details = []
    if invalid_query:
        details.append(
            {
                "code": "InvalidQuery",
                "message": "Query is invalid. Please refer to the documentation for the Azure Resource Graph "
                "service and fix the error before retrying.",
            }
        )
    details.append({"code": detail_code, "message": detail})
    return {"error": {"code": "BadRequest", "message": _support(""), "details": details}}


def _hms(seconds: float) -> str:
    s = max(0, math.ceil(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _column_type(values: Iterable[Any]) -> str:
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, int):
            return "integer"
        if isinstance(v, float):
            return "number"
        if isinstance(v, str):
            return "string"
        return "object"
    return "string"


class ResourceGraph:
    """The endpoint. `resources` yields every stored ARM document; `queries` records each query text run."""

    def __init__(
        self, resources: Callable[[], Iterable[Mapping[str, Any]]], clock: Callable[[], float]
    ) -> None:
        self._resources = resources
        self.clock = clock
        self.quota: int | None = 15
        self.quota_window = 5.0
        self.denied_subscriptions: set[str] = set()
        self.queries: list[str] = []
        self._calls: dict[str, deque[float]] = {}
        # A paging session reads the result its first page computed (pages stay consistent, and a 10,000-row
        # result is not recomputed for each of its pages); the few newest sessions are kept.
        self._snapshots: OrderedDict[str, Table] = OrderedDict()

    def tables(self, subscriptions: set[str] | None) -> dict[str, Table]:
        tables = {name: Table(list(cols)) for name, cols in GRAPH_COLUMNS.items()}
        for doc in self._resources():
            table = graph_table(str(doc.get("type", "")))
            if table is None:
                continue
            row = graph_row(doc, TENANT_ID)
            sub = row["subscriptionId"]
            if sub in self.denied_subscriptions or (subscriptions is not None and sub not in subscriptions):
                continue
            tables[table].rows.append(row)
        return tables

    def handle(self, body: Any, token: str) -> tuple[int, Any, dict[str, str]]:
        limited, headers = self._quota(token)
        if limited:
            return (
                429,
                {"error": {"code": "RateLimiting", "message": _support("Rate limit exceeded.")}},
                headers,
            )
        status, answer = self._answer(body)
        return status, answer, headers

    def _quota(self, token: str) -> tuple[bool, dict[str, str]]:
        if self.quota is None:
            return False, {}
        now = self.clock()
        calls = self._calls.setdefault(token, deque())
        while calls and calls[0] <= now - self.quota_window:
            calls.popleft()
        if len(calls) >= self.quota:
            resets = calls[0] + self.quota_window - now
            return True, {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": _hms(resets)}
        calls.append(now)
        resets = calls[0] + self.quota_window - now
        return False, {
            "x-ms-user-quota-remaining": str(self.quota - len(calls)),
            "x-ms-user-quota-resets-after": _hms(resets),
        }

    def _answer(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, bad_request(
                "InvalidRequestContent", "The request content must be a JSON object.", invalid_query=False
            )
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return 400, bad_request(
                "MissingQuery", "The request must carry a 'query' string.", invalid_query=False
            )
        if body.get("managementGroups"):
            return 400, bad_request(
                "UnsupportedScope", "armdouble: management group scopes are not served.", invalid_query=False
            )
        if body.get("facets"):
            return 400, bad_request(
                "UnsupportedFacets", "armdouble: facets are not computed.", invalid_query=False
            )
        subs = body.get("subscriptions")
        if subs is not None and (not isinstance(subs, list) or not all(isinstance(s, str) for s in subs)):
            return 400, bad_request(
                "InvalidSubscriptions", "'subscriptions' must be a list of strings.", invalid_query=False
            )
        options = body.get("options") or {}
        if not isinstance(options, dict):
            return 400, bad_request("InvalidOptions", "'options' must be an object.", invalid_query=False)
        top, skip, token = options.get("$top"), options.get("$skip"), options.get("$skipToken")
        fmt = options.get("resultFormat", "objectArray")
        if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP):
            return 400, bad_request(
                "InvalidTop", f"$top must be an integer from 1 to {MAX_TOP}.", invalid_query=False
            )
        if skip is not None and (isinstance(skip, bool) or not isinstance(skip, int) or skip < 0):
            return 400, bad_request(
                "InvalidSkip", "$skip must be a non-negative integer.", invalid_query=False
            )
        if fmt not in RESULT_FORMATS:
            return 400, bad_request(
                "InvalidResultFormat",
                f"resultFormat must be one of {', '.join(RESULT_FORMATS)}.",
                invalid_query=False,
            )
        scope = None if subs is None else {s.lower() for s in subs}
        fingerprint = hashlib.sha256(json.dumps([query, sorted(scope or [])]).encode()).hexdigest()[:16]
        offset, size = (skip or 0), (top or DEFAULT_PAGE)
        session = uuid.uuid4().hex
        if token is not None:
            try:
                state = json.loads(base64.urlsafe_b64decode(str(token).encode()))
                if state["q"] != fingerprint:
                    raise ValueError("another query")
                offset = int(state["o"]) if skip is None else skip
                size = int(state["n"]) if top is None else top
                session = str(state["s"])
            except Exception:
                return 400, bad_request(
                    "InvalidSkipToken",
                    "The $skipToken is not valid for this query and scope; send the query and scopes it came with.",
                    invalid_query=False,
                )
        self.queries.append(query)
        result = self._snapshots.get(session)
        if result is None:
            try:
                result = run_query(query, self.tables(scope))
            except KqlError as err:
                return 400, bad_request(err.code, err.message)
            self._snapshots[session] = result
            while len(self._snapshots) > SNAPSHOTS:
                self._snapshots.popitem(last=False)
        rows = result.rows
        # Rows share the stored documents: hand out a snapshot of the page, taken under the double's lock.
        page = json.loads(json.dumps(rows[offset : offset + size]))
        more = offset + size < len(rows)
        answer: dict[str, Any] = {
            "totalRecords": len(rows),
            "count": len(page),
            "resultTruncated": "false",
            "facets": [],
        }
        if more and (result.limited or "id" not in result.columns):
            answer["resultTruncated"] = "true"
        elif more:
            state = {"o": offset + size, "n": size, "q": fingerprint, "s": session}
            answer["$skipToken"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
        if fmt == "table":
            answer["data"] = {
                "columns": [
                    {"name": c, "type": _column_type(r.get(c) for r in page)} for c in result.columns
                ],
                "rows": [[r.get(c) for c in result.columns] for r in page],
            }
        else:
            answer["data"] = page
        return 200, answer
