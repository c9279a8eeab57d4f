"""Read and write one NSG for `apply`/`refresh`: a local JSON file or a live Azure NSG, behind one interface.

Both keep foreign rules exactly as read and refuse to overwrite a change made after the read (a file whose bytes
moved, an Azure etag that moved): the caller re-reads and re-plans.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
from egress.places.nsg.model import Nsg, parse_nsg_document
from egress.places.nsg.reconcile import failed_state


@dataclass(slots=True)
class Snapshot:
    nsg: Nsg
    raw_rules: list[dict[str, Any]]  # the rule objects exactly as read
    token: str  # etag (Azure) or sha256 of the file's bytes
    document: dict[str, Any] = field(repr=False, default_factory=dict)
    repair: str | None = None  # why a live NSG needs a write even if its rules are right (a Failed state)


class NsgTarget(Protocol):
    label: str

    def read(self) -> Snapshot: ...

    def write(self, snapshot: Snapshot, rules: Sequence[Mapping[str, Any]]) -> None: ...

    def request_counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...


def _flattened(document: Mapping[str, Any]) -> bool:
    return not isinstance(document.get("properties"), Mapping)


def _flatten_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    props = rule.get("properties")
    if not isinstance(props, Mapping):
        return dict(rule)
    return {"name": rule["name"], **props}


class FileTarget(LockedFile):
    """An NSG kept as JSON in a file (ARM resource shape, or what `az network nsg show -o json` prints)."""

    def read(self) -> Snapshot:
        self._reads += 1
        # One read: the rules planned on, the document written back and the token are of the same bytes.
        data = read_document_bytes(self.path)
        document = load_document_json(data, source=str(self.path))
        nsg = parse_nsg_document(document, source=str(self.path))
        if _flattened(document):
            raw = document.get("securityRules") or []
        else:
            raw = document["properties"].get("securityRules") or []
        return Snapshot(nsg, [dict(r) for r in raw], hashlib.sha256(data).hexdigest(), document)

    def write(self, snapshot: Snapshot, rules: Sequence[Mapping[str, Any]]) -> None:
        document = copy.deepcopy(snapshot.document)
        if _flattened(document):
            # Rules read from the file go back as they were, whatever their shape (`jq .properties` of a REST
            # GET keeps ARM-shaped rules under a flattened top); egress's new ones follow the file's rules.
            read = {str(r.get("name")): r for r in snapshot.raw_rules}
            arm_rules = bool(read) and all(isinstance(r.get("properties"), Mapping) for r in read.values())
            document["securityRules"] = [
                dict(r) if read.get(str(r.get("name"))) == r or arm_rules else _flatten_rule(r) for r in rules
            ]
        else:
            document["properties"]["securityRules"] = [dict(r) for r in rules]
        self._replace(snapshot.token, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


class AzureTarget:
    """A live NSG through the Azure adapter (the SDK is imported on first use, inside the adapter)."""

    def __init__(
        self,
        target: str,
        *,
        cloud: str = "public",
        arm_endpoint: str | None = None,
        auth: str = "default",
        credential: Any = None,
        polling_interval: float | None = None,
        session: Any = None,
    ) -> None:
        """`session`: an AzureSession shared with the run's other targets (one sign-in, shared clients)."""
        from egress.adapters import azure

        self.ref = azure.parse_nsg_id(target)
        self.label = self.ref.target
        endpoint = azure.resolve_endpoint(cloud, arm_endpoint)
        if polling_interval is None:
            polling_interval = poll_interval()
        if session is not None:
            self._client = azure.NsgClient(
                self.ref, endpoint, session=session, polling_interval=polling_interval
            )
        else:
            cred = credential if credential is not None else azure.make_credential(auth, endpoint.authority)
            self._client = azure.NsgClient(self.ref, endpoint, cred, polling_interval=polling_interval)
        self._precondition = azure.PreconditionFailedError

    def read(self) -> Snapshot:
        document, etag = self._client.get()
        nsg = parse_nsg_document(document, source=self.label)
        raw = (document.get("properties") or {}).get("securityRules") or []
        # A file's provisioningState is a saved copy, which a write cannot repair; a live one a re-PUT can.
        return Snapshot(nsg, [dict(r) for r in raw], etag, document, repair=failed_state(document))

    def write(self, snapshot: Snapshot, rules: Sequence[Mapping[str, Any]]) -> None:
        body = copy.deepcopy(snapshot.document)
        body.setdefault("properties", {})["securityRules"] = [dict(r) for r in rules]
        try:
            self._client.put(body, snapshot.token)
        except self._precondition:
            raise StaleTargetError(
                f"{self.label} changed since it was read (etag moved); re-planning."
            ) from None

    def request_counts(self) -> dict[str, int]:
        return dict(self._client.requests)

    def close(self) -> None:
        self._client.close()


def open_target(
    target: str,
    *,
    cloud: str = "public",
    arm_endpoint: str | None = None,
    auth: str = "default",
    credential: Any = None,
    polling_interval: float | None = None,
    session: Any = None,
) -> NsgTarget:
    """`azure:/subscriptions/...` or a bare resource id → AzureTarget; `PATH` or `file:PATH` → FileTarget."""
    value = target.strip()
    if not value:
        raise UsageError(
            "empty --target: give azure:/subscriptions/.../networkSecurityGroups/NAME or a JSON file."
        )
    lowered = value.lower()
    if lowered.startswith(AZURE_SCHEME) or lowered.startswith("/subscriptions/"):
        return AzureTarget(
            value,
            cloud=cloud,
            arm_endpoint=arm_endpoint,
            auth=auth,
            credential=credential,
            polling_interval=polling_interval,
            session=session,
        )
    if lowered.startswith(FILE_SCHEME):
        value = value[len(FILE_SCHEME) :]
    if value == "-":
        raise UsageError("apply cannot write to standard input; pass the NSG's JSON file.")
    return FileTarget(Path(value))
