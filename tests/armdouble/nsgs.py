"""Network security groups for the ARM double: get / create-or-update / delete / list, their security rules
and default rules. ARM's protocol (etags, If-Match, busy, LRO) is resources.py's; this is what is the NSG's own.

Shapes follow Microsoft's examples (NetworkSecurityGroupGet.json, ...): id, name, type, location, etag, rules with
id / etag / type / provisioningState, the six default rules, resourceGuid, provisioningState. Unset plural fields
of a rule are returned as `[]` and enum values in Azure's casing (`tcp` -> `Tcp`), as the real service does;
read-only fields in a PUT body are ignored; references to subnets / NICs / flow logs are read-only (a write keeps
the stored ones). The rule checks are validation.py's.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping
from typing import Any

from tests.armdouble.resources import Failure, Reply, ResourceStore, key
from tests.armdouble.validation import ACCESS, DIRECTIONS, PROTOCOLS, check_rules

NSG_TYPE = "Microsoft.Network/networkSecurityGroups"
RULE_TYPE = "Microsoft.Network/networkSecurityGroups/securityRules"
DEFAULT_RULE_TYPE = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"
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
ROUTES = (
    ("nsg-list", rf"^{_NSG_BASE}"),
    ("nsg-list-all", rf"^/subscriptions/{_SEG}/providers/microsoft\.network/networksecuritygroups"),
    ("nsg", rf"^{_NSG_BASE}/{_SEG}"),
    ("rule-list", rf"^{_NSG_BASE}/{_SEG}/securityrules"),
    ("rule", rf"^{_NSG_BASE}/{_SEG}/securityrules/{_SEG}"),
    ("default-rule-list", rf"^{_NSG_BASE}/{_SEG}/defaultsecurityrules"),
    ("default-rule", rf"^{_NSG_BASE}/{_SEG}/defaultsecurityrules/{_SEG}"),
)
KINDS = frozenset(kind for kind, _ in ROUTES)
NSG_ID = re.compile(rf"^{_NSG_BASE}/{_SEG}/?$", re.IGNORECASE)


def nsg_id(subscription: str, resource_group: str, name: str) -> str:
    """The resource id of an NSG, in ARM's canonical casing."""
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Network/networkSecurityGroups/{name}"
    )


def canonical_id(resource_id: str) -> str:
    m = NSG_ID.match(resource_id.strip())
    if not m:
        raise ValueError(f"not an NSG resource id: {resource_id!r}")
    return nsg_id(*m.groups())


def nsg_usable(value: Mapping[str, Any]) -> bool:
    """Whether an NSG may name this service tag (its networkFeatures list NSG, or say nothing)."""
    features = (value.get("properties") or {}).get("networkFeatures")
    return features is None or "NSG" in features


class NsgStore(ResourceStore):
    TYPE = NSG_TYPE
    NOUN = "network security group"
    KINDS = KINDS
    DOCUMENT_KIND, CHILD_KIND = "nsg", "rule"
    READ_ONLY = _NSG_READONLY_PROPS
    CHILDREN = "securityRules"

    def handle(self, rec: Any, kind: str, args: tuple[str, ...], failure: Failure) -> Reply | None:
        method = "GET" if rec.method == "HEAD" else rec.method
        if method != "GET" or kind in (self.DOCUMENT_KIND, self.CHILD_KIND):
            return super().handle(rec, kind, args, failure)
        if kind == "nsg-list-all":
            return self.listing(f"/subscriptions/{args[0].lower()}/")
        if kind == "nsg-list":
            return self.listing(key(nsg_id(args[0], args[1], "")))
        rid = nsg_id(*args[:3])
        if kind == "rule-list":
            return self.children(rid)
        if kind == "default-rule-list":
            return self.children(rid, "defaultSecurityRules")
        return self.child(rid, args[3], "defaultSecurityRules")  # default-rule

    def validate(self, rid: str, props: Mapping[str, Any]) -> None:
        check_rules(rid, rid.rsplit("/", 1)[-1], list(props.get("securityRules") or []), self._known_tags())

    def _known_tags(self) -> set[str] | None:
        tags = self.double._tags
        if tags is None:
            return None
        return {str(v.get("name", "")).lower() for v in tags.get("values", []) if nsg_usable(v)}

    def build(
        self, rid: str, name: str, location: str, props: Mapping[str, Any], *, tags: Any, etag: str, state: str,
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any]:  # fmt: skip
        rules = [_rule_doc(rid, r, etag, state) for r in props.get("securityRules") or []]
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
        before = previous["properties"] if previous else props
        out_props: dict[str, Any] = {
            "provisioningState": state,
            "resourceGuid": str(before.get("resourceGuid") or uuid.uuid4()),
            "securityRules": rules,
            "defaultSecurityRules": defaults,
        }
        # References to subnets / NICs are read-only: a write keeps the stored ones. Other extras are copied.
        for k in _NSG_REFS:
            if k in before:
                out_props[k] = copy.deepcopy(before[k])
        for k, v in props.items():
            if k not in ("securityRules", *_NSG_READONLY_PROPS):
                out_props[k] = copy.deepcopy(v)
        doc: dict[str, Any] = {"name": name, "id": rid, "etag": etag, "type": NSG_TYPE, "location": location}
        if tags:
            doc["tags"] = copy.deepcopy(tags)
        doc["properties"] = out_props
        return doc


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
