"""The double's other ARM resources: what `egress path` reads besides NSGs, and Graph's view of all of them.

Stored (seeded by tests, read through the API): virtual machines, NICs, virtual networks with their subnets,
NAT gateways, public IPs, load balancers, Azure Firewalls, route tables, firewall policies and their rule
collection groups, Recovery Services protected items, and each VNet's effective security admin rules.

Served, following Microsoft's specs (tests/data/microsoft/reference/azure-rest-spec-2025-05-01):
- `GET` of each resource by id (`Microsoft.Network/...`, `Microsoft.Compute/virtualMachines`), 404
  `ResourceNotFound` otherwise; `GET {vnet}/subnets[/{name}]`;
- `GET {policy}/ruleCollectionGroups[/{name}]` (the list paged with `nextLink` when `rcg_page_size` is set);
  a policy's read-only `properties.ruleCollectionGroups` lists its stored groups, as ARM does;
- `POST {vnet}/listNetworkManagerEffectiveSecurityAdminRules?$top=1..20` with body `{"skipToken"}` ->
  `{"value": [...], "skipToken"}` (ListTopParameter is 1..20; without `$top` the whole list comes back).

`graph_table()` and `graph_row()` say where Resource Graph keeps a resource and how its row looks (lower-case
`type`, `resourceGroup`, `subscriptionId`, `tenantId`, ... and ARM's `properties`).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tests.armdouble.resources import error as _error
from tests.armdouble.resources import key as _key
from tests.armdouble.resources import new_etag as _etag

_SEG = r"([^/]+)"
_BASE = rf"^/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers"
_VNET = rf"{_BASE}/microsoft\.network/virtualnetworks/{_SEG}"
_POLICY = rf"{_BASE}/microsoft\.network/firewallpolicies/{_SEG}"
# Top-level types this store serves by GET (lower case, without the namespace's provider prefix).
RESOURCE_TYPES = (
    "microsoft.network/virtualnetworks",
    "microsoft.network/networkinterfaces",
    "microsoft.network/natgateways",
    "microsoft.network/publicipaddresses",
    "microsoft.network/loadbalancers",
    "microsoft.network/azurefirewalls",
    "microsoft.network/routetables",
    "microsoft.network/firewallpolicies",
    "microsoft.compute/virtualmachines",
)
_TYPES_RX = "|".join(re.escape(t) for t in RESOURCE_TYPES)
ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern + "/?$", re.IGNORECASE))
    for kind, pattern in (
        ("graph", r"^/providers/microsoft\.resourcegraph/resources"),
        ("admin-rules", rf"{_VNET}/listnetworkmanagereffectivesecurityadminrules"),
        ("subnet-list", rf"{_VNET}/subnets"),
        ("subnet", rf"{_VNET}/subnets/{_SEG}"),
        ("rcg-list", rf"{_POLICY}/rulecollectiongroups"),
        ("rcg", rf"{_POLICY}/rulecollectiongroups/{_SEG}"),
        ("resource", rf"^/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/({_TYPES_RX})/{_SEG}"),
    )
)
KINDS = frozenset(kind for kind, _ in ROUTES)

SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
RCG_TYPE = "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
PROTECTED_ITEM_TYPE = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
_ID_RE = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/(.+)$", re.IGNORECASE)
ADMIN_TOP_MAX = 20  # ListTopParameter: minimum 1, maximum 20


def resource_type_of(resource_id: str) -> str:
    """ARM's type of a resource id: `Microsoft.Network/virtualNetworks/subnets` for `.../virtualNetworks/v/
    subnets/s`."""
    m = _ID_RE.match(resource_id.strip())
    if not m:
        raise ValueError(f"not an ARM resource id: {resource_id!r}")
    parts = m.group(3).strip("/").split("/")
    return "/".join([parts[0], *parts[1::2]])


def scope_of(resource_id: str) -> tuple[str, str]:
    m = _ID_RE.match(resource_id.strip())
    if not m:
        raise ValueError(f"not an ARM resource id: {resource_id!r}")
    return m.group(1), m.group(2)


def graph_table(resource_type: str) -> str | None:
    """The Resource Graph table that holds a type (Microsoft's table reference), or None if Graph has no row."""
    t = resource_type.lower()
    if t.startswith(("microsoft.recoveryservices/", "microsoft.dataprotection/")):
        return "recoveryservicesresources"
    if t == RCG_TYPE.lower():
        return "networkresources"
    if t.count("/") == 1:
        return "resources"
    return None  # child resources (subnets, security rules, ...) live inside their parent's properties


GRAPH_COLUMNS: dict[str, tuple[str, ...]] = {
    "resources": (
        "id",
        "name",
        "type",
        "tenantId",
        "kind",
        "location",
        "resourceGroup",
        "subscriptionId",
        "managedBy",
        "sku",
        "plan",
        "properties",
        "tags",
        "identity",
        "zones",
        "extendedLocation",
    ),
}
GRAPH_COLUMNS["recoveryservicesresources"] = GRAPH_COLUMNS["resources"]
GRAPH_COLUMNS["networkresources"] = GRAPH_COLUMNS["resources"]


def graph_row(doc: Mapping[str, Any], tenant_id: str) -> dict[str, Any]:
    """A stored ARM document as Resource Graph's row: lower-case type, scope columns, no etag.

    The row shares the document's values (no copy): callers copy what they hand out.
    """
    rid = str(doc["id"])
    sub, rg = scope_of(rid)
    return {
        "id": rid,
        "name": doc.get("name"),
        "type": str(doc.get("type", "")).lower(),
        "tenantId": tenant_id,
        "kind": doc.get("kind", ""),
        "location": str(doc.get("location", "")).replace(" ", "").lower(),
        "resourceGroup": rg.lower(),
        "subscriptionId": sub.lower(),
        "managedBy": doc.get("managedBy", ""),
        "sku": doc.get("sku"),
        "plan": doc.get("plan"),
        "properties": doc.get("properties") or {},
        "tags": doc.get("tags") or {},
        "identity": doc.get("identity"),
        "zones": doc.get("zones"),
        "extendedLocation": doc.get("extendedLocation"),
    }


class TopologyStore:
    """Resources by id (any ARM type), plus each VNet's effective admin rules."""

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, Any]] = {}
        self._admin: dict[str, list[dict[str, Any]]] = {}
        self.rcg_page_size: int | None = None

    # -- seeding ---------------------------------------------------------------------------------------------

    def seed(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Store a resource in its GET shape (id required; name, type, etag, subnet ids filled in)."""
        out = copy.deepcopy(dict(doc))
        rid = str(out["id"]).rstrip("/")
        out["id"] = rid
        out.setdefault("name", rid.rsplit("/", 1)[-1])
        out.setdefault("type", resource_type_of(rid))
        out.setdefault("etag", _etag())
        if graph_table(out["type"]) == "resources":
            out.setdefault("location", "eastus")
        props = out.setdefault("properties", {})
        props.setdefault("provisioningState", "Succeeded")
        if out["type"].lower() == "microsoft.network/virtualnetworks":
            for subnet in props.get("subnets") or []:
                subnet.setdefault("id", f"{rid}/subnets/{subnet['name']}")
                subnet.setdefault("type", SUBNET_TYPE)
                subnet.setdefault("etag", out["etag"])
                subnet.setdefault("properties", {}).setdefault("provisioningState", "Succeeded")
        self._docs[_key(rid)] = out
        return self.get(rid)  # type: ignore[return-value]

    def seed_admin_rules(self, vnet_id: str, rules: Sequence[Mapping[str, Any]]) -> None:
        """The VNet's effective admin rules, as `listNetworkManagerEffectiveSecurityAdminRules` items."""
        self._admin[_key(vnet_id)] = [copy.deepcopy(dict(r)) for r in rules]

    def seed_protected_item(self, vm_id: str, vault_id: str) -> dict[str, Any]:
        """An Azure IaaS VM backup item of `vault_id` protecting `vm_id` (RecoveryServicesResources)."""
        _, rg = scope_of(vm_id)
        vm = vm_id.rstrip("/").rsplit("/", 1)[-1]
        container = f"IaasVMContainer;iaasvmcontainerv2;{rg};{vm}"
        item = f"VM;iaasvmcontainerv2;{rg};{vm}"
        return self.seed(
            {
                "id": f"{vault_id}/backupFabrics/Azure/protectionContainers/{container}/protectedItems/{item}",
                "name": item,
                "type": PROTECTED_ITEM_TYPE,
                "properties": {
                    "friendlyName": vm,
                    "backupManagementType": "AzureIaasVM",
                    "workloadType": "VM",
                    "protectedItemType": "Microsoft.Compute/virtualMachines",
                    "protectionState": "Protected",
                    "sourceResourceId": vm_id,
                    "virtualMachineId": vm_id,
                },
            }
        )

    def remove(self, resource_id: str) -> None:
        self._docs.pop(_key(resource_id), None)

    # -- reading ---------------------------------------------------------------------------------------------

    def get(self, resource_id: str) -> dict[str, Any] | None:
        doc = self._docs.get(_key(resource_id))
        return None if doc is None else copy.deepcopy(self._view(doc))

    def docs(self, *, copies: bool = True) -> Iterable[dict[str, Any]]:
        """Every stored document as GET returns it; `copies=False` shares them (read-only use, e.g. Graph)."""
        for key in sorted(self._docs):
            doc = self._view(self._docs[key])
            yield copy.deepcopy(doc) if copies else doc

    def _view(self, doc: dict[str, Any]) -> dict[str, Any]:
        if doc["type"].lower() != "microsoft.network/firewallpolicies":
            return doc
        # Read-only in ARM: the policy names its rule collection groups.
        groups = [{"id": g["id"]} for g in self._groups(doc["id"])]
        return {**doc, "properties": {**doc["properties"], "ruleCollectionGroups": groups}}

    def _groups(self, policy_id: str) -> list[dict[str, Any]]:
        prefix = _key(policy_id) + "/rulecollectiongroups/"
        return [copy.deepcopy(d) for k, d in sorted(self._docs.items()) if k.startswith(prefix)]

    # -- HTTP ------------------------------------------------------------------------------------------------

    def handle(
        self, method: str, kind: str, args: Sequence[str], query: Mapping[str, str], body: Any, url: str
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request of `kind` (a key of ROUTES other than graph): (status, body, headers)."""
        sub, rg = args[0], args[1]
        if kind == "admin-rules":
            if method != "POST":
                return _not_allowed(method, url)
            return self._admin_rules(sub, rg, args[2], query, body)
        if method not in ("GET", "HEAD"):
            return _not_allowed(method, url)
        if kind == "resource":
            rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{args[2]}/{args[3]}"
            return self._get(rid, args[2], args[3], rg)
        if kind in ("subnet", "subnet-list"):
            vnet_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{args[2]}"
            vnet = self.get(vnet_id)
            if vnet is None:
                return _missing("Microsoft.Network/virtualNetworks", args[2], rg)
            subnets = vnet["properties"].get("subnets") or []
            if kind == "subnet-list":
                return 200, {"value": subnets}, {}
            for subnet in subnets:
                if subnet["name"].lower() == args[3].lower():
                    return 200, subnet, {"ETag": subnet.get("etag", "")}
            return 404, _error("NotFound", f"Resource {vnet['id']}/subnets/{args[3]} not found."), {}
        policy_id = (
            f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/firewallPolicies/{args[2]}"
        )
        if self.get(policy_id) is None:
            return _missing("Microsoft.Network/firewallPolicies", args[2], rg)
        groups = self._groups(policy_id)
        if kind == "rcg":
            for g in groups:
                if g["name"].lower() == args[3].lower():
                    return 200, g, {"ETag": g.get("etag", "")}
            return (
                404,
                _error("NotFound", f"Resource {policy_id}/ruleCollectionGroups/{args[3]} not found."),
                {},
            )
        return 200, self._page(groups, query, url), {}

    def _get(self, rid: str, rtype: str, name: str, rg: str) -> tuple[int, Any, dict[str, str]]:
        doc = self.get(rid)
        if doc is None or doc["type"].lower() != rtype.lower():
            return _missing(rtype, name, rg)
        return 200, doc, {"ETag": doc.get("etag", "")}

    def _page(self, items: list[dict[str, Any]], query: Mapping[str, str], url: str) -> dict[str, Any]:
        size = self.rcg_page_size
        if not size:
            return {"value": items}
        start = _decode_offset(query.get("$skipToken"))
        out: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            rest = {k: v for k, v in query.items() if k != "$skipToken"}
            rest["$skipToken"] = _encode_offset(start + size)
            out["nextLink"] = url.split("?", 1)[0] + "?" + "&".join(f"{k}={v}" for k, v in rest.items())
        return out

    def _admin_rules(
        self, sub: str, rg: str, vnet: str, query: Mapping[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        vnet_id = (
            f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}"
        )
        if self.get(vnet_id) is None:
            return _missing("Microsoft.Network/virtualNetworks", vnet, rg)
        if not isinstance(body, dict):
            return 400, _error("InvalidRequestContent", "The request content must be a JSON object."), {}
        top_text = query.get("$top")
        top: int | None = None
        if top_text is not None:
            if not top_text.isdigit() or not 1 <= int(top_text) <= ADMIN_TOP_MAX:
                return (
                    400,
                    _error(
                        "InvalidParameter",
                        f"The value '{top_text}' of parameter '$top' is out of range: 1 to {ADMIN_TOP_MAX}.",
                    ),
                    {},
                )
            top = int(top_text)
        token = body.get("skipToken")
        try:
            start = _decode_offset(token)
        except ValueError:
            return 400, _error("InvalidSkipToken", f"The skipToken '{token}' is not valid."), {}
        rules = self._admin.get(_key(vnet_id), [])
        page = rules[start : start + top] if top else rules[start:]
        out: dict[str, Any] = {"value": copy.deepcopy(page)}
        if top and start + top < len(rules):
            out["skipToken"] = _encode_offset(start + top)
        return 200, out, {}


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _decode_offset(token: object) -> int:
    if token in (None, ""):
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = int(value["o"])
    except Exception as exc:
        raise ValueError(str(token)) from exc
    if offset < 0:
        raise ValueError(str(token))
    return offset


def _missing(rtype: str, name: str, rg: str) -> tuple[int, Any, dict[str, str]]:
    return (
        404,
        _error(
            "ResourceNotFound",
            f"The Resource '{rtype}/{name}' under resource group '{rg}' was not found. For more details please "
            "go to https://aka.ms/ARMResourceNotFoundFix",
        ),
        {},
    )


def _not_allowed(method: str, url: str) -> tuple[int, Any, dict[str, str]]:
    return 405, _error("MethodNotAllowed", f"{method} is not supported on {url.split('?', 1)[0]}."), {}
