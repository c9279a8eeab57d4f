"""Targets of the places beyond the NSG: one resource document (a route table, a rule collection group) kept
in a local JSON file or live in Azure, behind the interface `apply` and `refresh` already use for NSGs.

A place gives: `parse(document, source) -> model` (with `.document`), `rebuild(model, items) -> document`
(the model's document with egress's write applied), and for Azure its client class, id parser and, for a
resource egress may create when it is missing, `blank(ref) -> document`. The file
side is egress.adapters.documents' LockedFile (lock, sha256 check, atomic write); the Azure side the place's
client, built on ArmResourceClient's machinery (one GET, one If-Match PUT, retries, LRO).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egress.adapters.documents import (
    AZURE_SCHEME,
    FILE_SCHEME,
    LockedFile,
    StaleTargetError,
    load_document_json,
    poll_interval,
    read_document_bytes,
)
from egress.errors import UsageError

Parse = Callable[[Any, str], Any]
Rebuild = Callable[[Any, Any], dict[str, Any]]


@dataclass(slots=True)
class PlaceSnapshot:
    model: Any  # the place's parsed document (RouteTable, RuleCollectionGroup)
    token: str  # etag (Azure) or sha256 of the file's bytes
    document: dict[str, Any] = field(repr=False, default_factory=dict)


class DocumentFileTarget(LockedFile):
    def __init__(self, path: Path, parse: Parse, rebuild: Rebuild, what: str) -> None:
        super().__init__(path)
        self._parse = parse
        self._rebuild = rebuild
        self._what = what

    def read(self) -> PlaceSnapshot:
        self._reads += 1
        data = read_document_bytes(self.path, what=self._what)
        document = load_document_json(data, source=str(self.path), what=self._what)
        return PlaceSnapshot(
            self._parse(document, str(self.path)), hashlib.sha256(data).hexdigest(), document
        )

    def write(self, snapshot: PlaceSnapshot, items: Any) -> None:
        document = self._rebuild(snapshot.model, items)
        self._replace(snapshot.token, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


class DocumentAzureTarget:
    """A live resource through a client with `get() -> (document, etag)` and `put(body, etag)`."""

    def __init__(
        self,
        ref: Any,
        client_class: Any,
        parse: Parse,
        rebuild: Rebuild,
        *,
        blank: Callable[[Any], dict[str, Any]] | None = None,
        cloud: str = "public",
        arm_endpoint: str | None = None,
        auth: str = "default",
        credential: Any = None,
        polling_interval: float | None = None,
    ) -> None:
        from egress.adapters import azure

        self.ref = ref
        self.label = ref.target
        endpoint = azure.resolve_endpoint(cloud, arm_endpoint)
        cred = credential if credential is not None else azure.make_credential(auth, endpoint.authority)
        interval = poll_interval() if polling_interval is None else polling_interval
        self._client = client_class(ref, endpoint, cred, polling_interval=interval)
        self._precondition = azure.PreconditionFailedError
        self._parse = parse
        self._rebuild = rebuild
        self._blank = blank

    def read(self) -> PlaceSnapshot:
        found = self._client.get(missing_ok=self._blank is not None)
        if found is None:  # a resource egress may create: plan against an empty one, write with If-None-Match
            assert self._blank is not None
            document = self._blank(self.ref)
            return PlaceSnapshot(self._parse(document, self.label), "", document)
        document, etag = found
        return PlaceSnapshot(self._parse(document, self.label), etag, document)

    def write(self, snapshot: PlaceSnapshot, items: Any) -> None:
        body = copy.deepcopy(self._rebuild(snapshot.model, items))
        try:
            self._client.put(body, snapshot.token or None, create=not snapshot.token)
        except self._precondition:
            raise StaleTargetError(
                f"{self.label} changed since it was read (etag moved); re-planning."
            ) from None

    def request_counts(self) -> dict[str, int]:
        return dict(self._client.requests)

    def close(self) -> None:
        self._client.close()


def open_document_target(
    target: str,
    *,
    what: str,
    parse: Parse,
    rebuild: Rebuild,
    azure_ref: Callable[[str], Any],
    client_class: Callable[[], Any],
    blank: Callable[[Any], dict[str, Any]] | None = None,
    cloud: str = "public",
    arm_endpoint: str | None = None,
    auth: str = "default",
    credential: Any = None,
    polling_interval: float | None = None,
) -> DocumentFileTarget | DocumentAzureTarget:
    """`azure:/subscriptions/...` (or the bare id) -> Azure; `PATH` or `file:PATH` -> a local JSON file."""
    value = target.strip()
    if not value:
        raise UsageError(f"empty --target: give azure:/subscriptions/... of the {what} or a JSON file.")
    lowered = value.lower()
    if lowered.startswith(AZURE_SCHEME) or lowered.startswith("/subscriptions/"):
        ref = azure_ref(value)  # a bad id is a usage error before any credential is made
        return DocumentAzureTarget(
            ref,
            client_class(),
            parse,
            rebuild,
            blank=blank,
            cloud=cloud,
            arm_endpoint=arm_endpoint,
            auth=auth,
            credential=credential,
            polling_interval=polling_interval,
        )
    if lowered.startswith(FILE_SCHEME):
        value = value[len(FILE_SCHEME) :]
    if value == "-":
        raise UsageError(f"apply cannot write to standard input; pass the {what}'s JSON file.")
    return DocumentFileTarget(Path(value), parse, rebuild, what)
