"""What every resource the double writes shares with the others: ARM's resource protocol, once.

A store (a `ResourceStore` subclass, one per resource type) keeps documents by lower-cased id and says only what
is its own: the document's shape (`build`), the resource provider's checks (`validate`), its read-only
properties and the child resources its documents list inside them (an NSG's securityRules, a table's routes).
Adding a type to the double is a subclass (TYPE, NOUN, DOCUMENT_KIND / CHILD_KIND, `build`, `validate`), its URL
patterns in server.py's route table and an instance in `ArmDouble._stores`. The rest follows Microsoft's specs
and examples (tests/data/microsoft/reference/) here:
- GET answers the document and its `ETag`, else 404 `ResourceNotFound` (a child: `NotFound`).
- A write whose `If-Match` names another etag (or any, where nothing exists), or whose `If-None-Match: *` meets
  an existing resource, gets 412 `PreconditionFailed`; a write while one runs on the resource gets 409
  `AnotherOperationInProgress` (unless the double's `busy_while_updating` is off).
- A PUT applies at once with a new etag, reads `Updating`, and answers 201 (created) or 200 with an
  `Azure-AsyncOperation` URL (and `Retry-After`); a DELETE answers 202 with that URL and a `Location`, or 204
  when there is nothing to delete. A child's write is a write of its parent, answered with the child.
- The operation reads `InProgress` for the double's `lro_polls` polls, then `Succeeded` (and so does the
  document, its children taking its etag), or `Failed` when an `lro-failed` fault was injected: the document
  goes back to what it was before the write, marked `Failed`, and a failed create leaves nothing.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tests.armdouble.validation import ArmValidationError, check_name

if TYPE_CHECKING:
    from tests.armdouble.server import ArmDouble, RecordedRequest

Failure = tuple[str, str] | None  # (code, message) an injected `lro-failed` ends the operation with
_SCOPE = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/.+/([^/]+)$", re.IGNORECASE)


def key(resource_id: str) -> str:
    return resource_id.strip().rstrip("/").lower()


def new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": []}}


def scope(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of a resource id."""
    m = _SCOPE.match(resource_id.strip().rstrip("/"))
    if not m:
        raise ValueError(f"not an ARM resource id: {resource_id!r}")
    return m.group(1), m.group(2), m.group(3)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def not_found(resource_type: str, resource_group: str, name: str) -> Reply:
    return Reply(
        404,
        error(
            "ResourceNotFound",
            f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. For "
            "more details please go to https://aka.ms/ARMResourceNotFoundFix",
        ),
    )


def precondition(rec: RecordedRequest, current: Mapping[str, Any] | None) -> Reply | None:
    """412 when `If-Match` / `If-None-Match` do not hold for `current` (None: nothing there)."""
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
    return Reply(
        412,
        error(
            "PreconditionFailed",
            "The condition specified using HTTP conditional header(s) is not met: If-Match "
            f"{if_match!s}, current etag {current.get('etag') if current else None}.",
        ),
    )


@dataclass
class Operation:
    id: str
    store: ResourceStore
    key: str  # the written document's key in its store
    subscription: str
    location: str
    action: str  # put / delete (of the whole document: a child's write is a put of its parent)
    polls_left: int
    rollback: dict[str, Any] | None  # the document before the write, restored if the operation fails
    failure: Failure = None
    status: str = "InProgress"
    resource_path: str = ""


class Operations:
    """The double's long-running operations, answered at their Azure-AsyncOperation and Location URLs."""

    def __init__(self, double: ArmDouble) -> None:
        self.double = double
        self.ops: dict[str, Operation] = {}

    def start(
        self, rec: RecordedRequest, store: ResourceStore, doc_key: str, location: str, action: str,
        rollback: dict[str, Any] | None, failure: Failure,
    ) -> dict[str, str]:  # fmt: skip
        """Register the write's operation; return the headers its answer carries."""
        sub = scope(rec.path)[0]
        op = Operation(
            str(uuid.uuid4()), store, doc_key, sub, location, action, self.double.lro_polls, rollback, failure,
            resource_path=rec.path,
        )  # fmt: skip
        self.ops[op.id] = op
        api = rec.query.get("api-version", "")
        base = f"{self.double.base_url}/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}"
        headers = {"Azure-AsyncOperation": f"{base}/operations/{op.id}?api-version={api}"}
        if rec.method == "DELETE":  # ARM's deletes answer with a Location too
            headers["Location"] = f"{base}/operationResults/{op.id}?api-version={api}"
        if self.double.retry_after is not None:
            headers["Retry-After"] = self.double.retry_after
        return headers

    def busy(self, doc_key: str) -> Reply | None:
        """409 while an operation on this document runs."""
        if not self.double.busy_while_updating:
            return None
        if any(op.key == doc_key and op.status == "InProgress" for op in self.ops.values()):
            return Reply(
                409,
                error(
                    "AnotherOperationInProgress",
                    "Another operation on this or dependent resource is in progress. To retrieve status of "
                    "the operation use uri: (see Azure-AsyncOperation).",
                ),
            )
        return None

    def poll(self, rec: RecordedRequest, op_id: str, *, result: bool) -> Reply:
        """One poll of the status URL (`result`: the Location URL, which answers 202 until the end)."""
        op = self.ops.get(op_id)
        if op is None:
            return Reply(404, error("OperationNotFound", f"Operation {op_id} was not found."))
        if op.status == "InProgress":
            if op.polls_left > 0:
                op.polls_left -= 1
            else:
                op.status = "Failed" if op.failure else "Succeeded"
                op.store.finish(op)
        retry = self.double.retry_after
        headers = {"Retry-After": retry} if retry is not None else {}
        if result:
            if op.status == "InProgress":
                query = "&".join(f"{k}={v}" for k, v in rec.query.items())
                return Reply(202, None, {**headers, "Location": f"{self.double.base_url}{rec.path}?{query}"})
            if op.status == "Failed":
                code, message = op.failure or ("InternalServerError", "")
                return Reply(400, error(code, message))
            return Reply(204)
        body: dict[str, Any] = {"id": rec.path, "name": op.id, "status": op.status}
        if op.status == "Failed":
            code, message = op.failure or ("InternalServerError", "")
            body["error"] = {"code": code, "message": message, "details": []}
        return Reply(200, body, headers if op.status == "InProgress" else {})


class ResourceStore:
    """The documents of one ARM resource type, written as ARM writes them. Subclasses say what is their own."""

    TYPE: ClassVar[str]  # ARM's type, e.g. Microsoft.Network/routeTables
    NOUN: ClassVar[str]  # how check_name names it: "route table"
    KINDS: ClassVar[frozenset[str]] = frozenset()  # the request kinds (server routes) `handle` answers
    # The kinds of a document's URL (.../{type}/{name}: GET, PUT, DELETE) and of a child's (.../{name}/{children}/
    # {child}), whose first three groups are subscription, resource group and name.
    DOCUMENT_KIND: ClassVar[str | None] = None
    CHILD_KIND: ClassVar[str | None] = None
    READ_ONLY: ClassVar[tuple[str, ...]] = ("provisioningState",)  # properties a PUT cannot set
    CHILDREN: ClassVar[str | None] = None  # the property listing child resources kept inside the document
    CHILD_CREATED: ClassVar[int] = 201  # the status of a PUT that creates a child
    # The topology store may hold read-only documents of this type (seeded for `egress path`): they are read
    # here too and a write takes them over.
    SHARED_WITH_TOPOLOGY: ClassVar[bool] = False

    def __init__(self, double: ArmDouble) -> None:
        self.double = double
        self.docs: dict[str, dict[str, Any]] = {}

    # -- what a resource type says (override) ----------------------------------------------------------------

    def build(
        self, rid: str, name: str, location: str, props: Mapping[str, Any], *, tags: Any, etag: str, state: str,
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any]:  # fmt: skip
        """The stored document: `props` are writable properties as sent; `previous` the document it replaces."""
        raise NotImplementedError

    def validate(self, rid: str, props: Mapping[str, Any]) -> None:
        """The resource provider's checks of a new version; raise ArmValidationError."""

    def placed(self, rid: str, current: Mapping[str, Any] | None, location: Any) -> str:
        """Where a write lands (its location); raises for a missing or moved location (or parent)."""
        if current is None:
            if not location:
                raise ArmValidationError(
                    "LocationRequired", "The location property is required for this definition."
                )
            return str(location)
        if location and str(location).replace(" ", "").lower() != current["location"].lower():
            _, rg, name = scope(rid)
            raise ArmValidationError(
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{current['location']}' in resource group "
                f"'{rg}'. A resource with the same name cannot be created in location '{location}'. Please "
                "select a new resource name.",
            )
        return str(current["location"])

    def written(self, doc: dict[str, Any]) -> None:
        """After a document is stored (e.g. a parent lists its children)."""

    def tags_for(self, feature: str) -> set[str] | None:
        """Lower-cased names of the served service tags whose networkFeatures list `feature` (UDR, FW, ...);
        None when the double serves no tag file (every name passes)."""
        tags = self.double._tags
        if tags is None:
            return None
        out = set()
        for value in tags.get("values", []):
            props = value.get("properties") or {}
            # An old file without the field says nothing (allowed); a null list, as AzureBackup.<Region> has, is none.
            features = props.get("networkFeatures") if "networkFeatures" in props else [feature]
            if features and feature in features:
                out.add(str(value.get("name", "")).lower())
        return out

    # -- test API (with or without the double's lock held) -------------------------------------------------

    def seed(self, rid: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create or replace a document without validation (any state a test needs); return it as GET would."""
        body = dict(body or {})
        props = dict(body.get("properties") or {})
        _, _, name = scope(rid)
        with self.double._lock:
            doc = self.build(
                rid, name, str(body.get("location") or "eastus"), props, tags=body.get("tags"),
                etag=str(body.get("etag") or new_etag()), state=str(props.get("provisioningState") or "Succeeded"),
                previous=None,
            )  # fmt: skip
            self.docs[key(rid)] = doc
            self.written(doc)
            return copy.deepcopy(doc)

    def get(self, resource_id: str) -> dict[str, Any] | None:
        """The document as stored here (a copy), or None."""
        with self.double._lock:
            doc = self.docs.get(key(resource_id))
            return copy.deepcopy(doc) if doc is not None else None

    def edit(self, resource_id: str, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Change a document as another writer would: `edit` mutates a copy, then the etag changes."""
        with self.double._lock:
            doc = self.docs[key(resource_id)]
            draft = copy.deepcopy(doc)
            edit(draft)
            props = draft.get("properties") or {}
            new = self.build(
                doc["id"], doc["name"], str(draft.get("location") or doc.get("location") or ""), props,
                tags=draft.get("tags"), etag=new_etag(), state=str(props.get("provisioningState") or "Succeeded"),
                previous=None,
            )  # fmt: skip
            self.docs[key(doc["id"])] = new
            self.written(new)
            return copy.deepcopy(new)

    def remove(self, resource_id: str) -> None:
        with self.double._lock:
            self.docs.pop(key(resource_id), None)

    # -- requests (the double's lock held) ------------------------------------------------------------------

    def handle(
        self, rec: RecordedRequest, kind: str, args: tuple[str, ...], failure: Failure
    ) -> Reply | None:
        """Answer a request of one of KINDS; None: not this store's (another store or the topology answers)."""
        method = "GET" if rec.method == "HEAD" else rec.method
        if kind == self.DOCUMENT_KIND:
            rid = self.resource_id(*args[:3])
            if method == "GET":
                return self.read(rid)
            if method == "PUT":
                return self.put(rec, rid, failure)
            if method == "DELETE":
                return self.delete(rec, rid, failure)
        if kind == self.CHILD_KIND:
            rid = self.resource_id(*args[:3])
            if method == "GET":
                return self.child(rid, args[3])
            if method == "PUT":
                return self.put_child(rec, rid, args[3], failure)
            if method == "DELETE":
                return self.delete_child(rec, rid, args[3], failure)
        return None

    def resource_id(self, subscription: str, resource_group: str, name: str) -> str:
        """A document's id in ARM's canonical casing."""
        return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{self.TYPE}/{name}"

    def current(self, doc_key: str) -> dict[str, Any] | None:
        doc = self.docs.get(doc_key)
        if doc is None and self.SHARED_WITH_TOPOLOGY:
            return self.double.topology.get(doc_key)
        return doc

    def read(self, rid: str) -> Reply | None:
        """GET of a document; None when it is not here and the topology store may hold it."""
        doc = self.docs.get(key(rid))
        if doc is not None:
            return Reply(200, copy.deepcopy(doc), {"ETag": doc["etag"]})
        if self.SHARED_WITH_TOPOLOGY:
            return None
        return self.missing(rid)

    def missing(self, rid: str) -> Reply:
        _, rg, name = scope(rid)
        return not_found(self.TYPE, rg, name)

    def listing(self, prefix: str) -> Reply:
        """The documents whose keys start with `prefix` (a subscription's or resource group's)."""
        return Reply(
            200, {"value": [copy.deepcopy(d) for k, d in sorted(self.docs.items()) if k.startswith(prefix)]}
        )

    def put(self, rec: RecordedRequest, rid: str, failure: Failure) -> Reply:
        current = self.current(key(rid))
        refused = precondition(rec, current) or (self.double.operations.busy(key(rid)) if current else None)
        if refused:
            return refused
        body = rec.body
        if not isinstance(body, dict):
            raise ArmValidationError("InvalidRequestContent", "The request content must be a JSON object.")
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise ArmValidationError("InvalidRequestContent", "properties must be a JSON object.")
        writable = {k: v for k, v in props.items() if k not in self.READ_ONLY}
        doc, headers = self.write(rec, rid, writable, body.get("location"), body.get("tags"), failure)
        return Reply(201 if current is None else 200, copy.deepcopy(doc), headers)

    def write(
        self,
        rec: RecordedRequest,
        rid: str,
        props: Mapping[str, Any],
        location: Any,
        tags: Any,
        failure: Failure,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Check and store a new version of a document and start its operation. Raises ArmValidationError."""
        doc_key = key(rid)
        current = self.current(doc_key)
        where = self.placed(rid, current, location)
        name = current["name"] if current else scope(rid)[2]
        if current is None:
            check_name(name, self.NOUN)
        rid = current["id"] if current else rid
        self.validate(rid, props)
        doc = self.build(
            rid, name, where, props, tags=tags if tags is not None else (current or {}).get("tags"), etag=new_etag(),
            state="Updating", previous=current,
        )  # fmt: skip
        self.docs[doc_key] = doc
        if self.SHARED_WITH_TOPOLOGY:
            self.double.topology.remove(doc_key)  # written here from now on
        self.written(doc)
        rollback = copy.deepcopy(current)
        headers = self.double.operations.start(rec, self, doc_key, where, "put", rollback, failure)
        return doc, headers

    def delete(self, rec: RecordedRequest, rid: str, failure: Failure) -> Reply:
        doc_key = key(rid)
        current = self.current(doc_key)
        if current is None:
            return Reply(204)
        refused = precondition(rec, current) or self.double.operations.busy(doc_key)
        if refused:
            return refused
        self.docs.pop(doc_key, None)
        if self.SHARED_WITH_TOPOLOGY:
            self.double.topology.remove(doc_key)
        headers = self.double.operations.start(
            rec, self, doc_key, current["location"], "delete", current, failure
        )
        return Reply(202, None, headers)

    # -- child resources listed inside the document ---------------------------------------------------------

    def children(self, rid: str, which: str | None = None) -> Reply:
        doc = self.current(key(rid))
        if doc is None:
            return self.missing(rid)
        return Reply(200, {"value": copy.deepcopy(doc["properties"][which or self.CHILDREN])})

    def child(self, rid: str, name: str, which: str | None = None) -> Reply:
        doc = self.current(key(rid))
        if doc is None:
            return self.missing(rid)
        which = which or self.CHILDREN
        assert which is not None
        for c in doc["properties"][which]:
            if c["name"].lower() == name.lower():
                return Reply(200, copy.deepcopy(c), {"ETag": c["etag"]})
        return Reply(404, error("NotFound", f"Resource {doc['id']}/{which}/{name} not found."))

    def put_child(self, rec: RecordedRequest, rid: str, name: str, failure: Failure) -> Reply:
        doc = self.current(key(rid))
        if doc is None:
            return self.missing(rid)
        existing = self._find_child(doc, name)
        refused = precondition(rec, existing) or self.double.operations.busy(key(doc["id"]))
        if refused:
            return refused
        if not isinstance(rec.body, dict):
            raise ArmValidationError("InvalidRequestContent", "The request content must be a JSON object.")
        new = {"name": existing["name"] if existing else name, "properties": rec.body.get("properties") or {}}
        kept = [self._as_sent(c) for c in doc["properties"][self.CHILDREN]]
        listed = [new if c["name"].lower() == name.lower() else c for c in kept]
        new_doc, headers = self.write(
            rec, rid, self._with_children(doc, listed if existing else [*kept, new]), None, None, failure
        )
        out = self._find_child(new_doc, name)
        return Reply(self.CHILD_CREATED if existing is None else 200, copy.deepcopy(out), headers)

    def delete_child(self, rec: RecordedRequest, rid: str, name: str, failure: Failure) -> Reply:
        doc = self.current(key(rid))
        if doc is None:
            return self.missing(rid)
        existing = self._find_child(doc, name)
        refused = precondition(rec, existing) if existing else None
        refused = refused or self.double.operations.busy(key(doc["id"]))
        if refused:
            return refused
        if existing is None:
            return Reply(204)
        kept = [self._as_sent(c) for c in doc["properties"][self.CHILDREN] if c is not existing]
        _, headers = self.write(rec, rid, self._with_children(doc, kept), None, None, failure)
        return Reply(202, None, headers)

    def _find_child(self, doc: Mapping[str, Any], name: str) -> dict[str, Any] | None:
        return next((c for c in doc["properties"][self.CHILDREN] if c["name"].lower() == name.lower()), None)

    @staticmethod
    def _as_sent(child: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": child["name"], "properties": child["properties"]}

    def _with_children(self, doc: Mapping[str, Any], listed: list[dict[str, Any]]) -> dict[str, Any]:
        props = {k: v for k, v in doc["properties"].items() if k not in self.READ_ONLY}
        props[str(self.CHILDREN)] = listed
        return props

    # -- the end of an operation ----------------------------------------------------------------------------

    def finish(self, op: Operation) -> None:
        """Succeeded: the document (and its children) read so. Failed: back to the document before the write."""
        doc = self.docs.get(op.key)
        if op.failure is None:
            if doc is not None and op.action != "delete":
                self.set_state(doc, "Succeeded")
            return
        if op.rollback is None:
            gone = self.docs.pop(op.key, None)
            if gone is not None:
                self.written(gone)  # e.g. its parent stops listing it
            return
        old = copy.deepcopy(op.rollback)
        if doc is not None:
            old["etag"] = new_etag()
        self.set_state(old, "Failed")
        self.docs[op.key] = old
        self.written(old)

    def set_state(self, doc: dict[str, Any], state: str) -> None:
        doc["properties"]["provisioningState"] = state
        for c in doc["properties"].get(self.CHILDREN or "", []):
            c["properties"]["provisioningState"] = state
            c["etag"] = doc["etag"]
