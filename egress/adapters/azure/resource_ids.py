"""Route table and rule collection group ids, parsed and checked like NSG ids (pure: no SDK, no network).

azure:/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/routeTables/<name>
azure:/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/firewallPolicies/<policy>
    /ruleCollectionGroups/<group>
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from egress.adapters.azure.target import _GUID_RE, _NAME_RE, _RG_RE, TARGET_PREFIX
from egress.errors import UsageError

_BASE = r"^/?subscriptions/(?P<sub>[^/]*)/resourcegroups/(?P<rg>[^/]*)/providers/microsoft\.network/"
_ROUTE_TABLE = re.compile(_BASE + r"routetables/(?P<name>[^/]*)/?$", re.IGNORECASE)
_RCG = re.compile(
    _BASE + r"firewallpolicies/(?P<policy>[^/]*)/rulecollectiongroups/(?P<name>[^/]*)/?$", re.IGNORECASE
)
_PREFIX = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/"


@dataclass(frozen=True)
class RouteTableRef:
    subscription: str
    resource_group: str
    name: str

    @property
    def resource_id(self) -> str:
        return _PREFIX.format(sub=self.subscription, rg=self.resource_group) + f"routeTables/{self.name}"

    @property
    def target(self) -> str:
        return TARGET_PREFIX + self.resource_id

    def __str__(self) -> str:
        return self.target


@dataclass(frozen=True)
class RuleCollectionGroupRef:
    subscription: str
    resource_group: str
    policy: str
    name: str

    @property
    def resource_id(self) -> str:
        return (
            _PREFIX.format(sub=self.subscription, rg=self.resource_group)
            + f"firewallPolicies/{self.policy}/ruleCollectionGroups/{self.name}"
        )

    @property
    def target(self) -> str:
        return TARGET_PREFIX + self.resource_id

    def __str__(self) -> str:
        return self.target


def _match(text: str, pattern: re.Pattern[str], what: str, example: str) -> re.Match[str]:
    raw = text.strip()
    body = raw[len(TARGET_PREFIX) :] if raw.lower().startswith(TARGET_PREFIX) else raw
    m = pattern.match(body)
    if not m:
        raise UsageError(f"{text!r} is not a {what} resource id; write it as {example}.")
    if not _GUID_RE.match(m.group("sub")):
        raise UsageError(f"subscription {m.group('sub')!r} in {text!r} is not a subscription id (a GUID).")
    if not _RG_RE.match(m.group("rg")):
        raise UsageError(f"resource group {m.group('rg')!r} in {text!r} is not a valid resource group name.")
    for key in ("policy", "name"):
        value = m.groupdict().get(key)
        if value is not None and not _NAME_RE.match(value):
            raise UsageError(f"name {value!r} in {text!r} is not a valid Azure resource name.")
    return m


def parse_route_table_id(text: str) -> RouteTableRef:
    m = _match(
        text,
        _ROUTE_TABLE,
        "route table",
        "azure:/subscriptions/<subscription-id>/resourceGroups/<group>/providers/Microsoft.Network/routeTables/<name>",
    )
    return RouteTableRef(m.group("sub").lower(), m.group("rg"), m.group("name"))


def parse_rule_collection_group_id(text: str) -> RuleCollectionGroupRef:
    m = _match(
        text,
        _RCG,
        "firewall policy rule collection group",
        "azure:/subscriptions/<subscription-id>/resourceGroups/<group>/providers/Microsoft.Network/"
        "firewallPolicies/<policy>/ruleCollectionGroups/<group-name>",
    )
    return RuleCollectionGroupRef(m.group("sub").lower(), m.group("rg"), m.group("policy"), m.group("name"))
