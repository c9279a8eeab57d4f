"""Read and write one NSG for `apply`/`refresh`: a local JSON file or a live Azure NSG, behind one interface.

Both keep foreign rules exactly as read and refuse to overwrite a change made after the read (a file whose bytes
moved, an Azure etag that moved): the caller re-reads and re-plans.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from egress.adapters.files import write_atomic
from egress.adapters.targets import AZURE_SCHEME, FILE_SCHEME, load_nsg_json, read_nsg_bytes
from egress.core.nsg import Nsg, parse_nsg_document
from egress.core.reconcile import failed_state
from egress.errors import ConflictError, TargetError, UsageError

POLL_ENV = "EGRESS_POLL_INTERVAL"
# Seconds between long-running-operation polls when Azure sends no Retry-After (the SDK's own default is 30).
DEFAULT_POLL_INTERVAL = 2.0


class StaleTargetError(ConflictError):
    """The NSG changed between our read and our write; nothing was written."""


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


class FileTarget:
    """An NSG kept as JSON in a file (ARM resource shape, or what `az network nsg show -o json` prints)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        self._reads = 0
        self._writes = 0

    def read(self) -> Snapshot:
        self._reads += 1
        # One read: the rules planned on, the document written back and the token are of the same bytes.
        data = read_nsg_bytes(self.path)
        document = load_nsg_json(data, source=str(self.path))
        nsg = parse_nsg_document(document, source=str(self.path))
        if _flattened(document):
            raw = document.get("securityRules") or []
        else:
            raw = document["properties"].get("securityRules") or []
        return Snapshot(nsg, [dict(r) for r in raw], hashlib.sha256(data).hexdigest(), document)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        real = Path(os.path.realpath(self.path))  # one lock per file, whichever link names it
        lock = real.with_name(real.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise TargetError(f"{lock}: cannot create the lock file ({exc.strerror or exc}).") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

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

    def _replace(self, token: str, text: str) -> None:
        """Write `text` over the file if it still holds the bytes read (sha256 `token`); else StaleTargetError."""
        with self._locked():
            try:
                current = hashlib.sha256(self.path.read_bytes()).hexdigest()
            except OSError as exc:
                raise TargetError(
                    f"{self.path}: cannot re-read before writing ({exc.strerror or exc})."
                ) from None
            if current != token:
                raise StaleTargetError(f"{self.path} changed since it was read; re-reading and re-planning.")
            write_atomic(self.path, text)
            self._writes += 1

    def request_counts(self) -> dict[str, int]:
        return {"read": self._reads, "write": self._writes}

    def close(self) -> None:
        pass


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
            polling_interval = _poll_interval()
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


def _poll_interval() -> float:
    raw = os.environ.get(POLL_ENV)
    if not raw:
        return DEFAULT_POLL_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"${POLL_ENV}={raw!r} is not a number of seconds.") from None
    if not 0 <= value < math.inf:  # NaN and inf too: time.sleep refuses them
        raise UsageError(f"${POLL_ENV}={raw!r}: give a finite number of seconds, 0 or more.")
    return value


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
