"""The Azure Resource Graph queries `egress path` sends, and the shape of the topology they export. Pure.

One query exports what the path check needs for every VM in scope, in ARM's REST GET shape (`id`, `name`,
`type`, `location`, `tags`, `sku`, `zones`, `properties`, plus Graph's `resourceGroup` and `subscriptionId`):

    az graph query -q "$(egress path --print-query)" --first 1000 -o json > topology.json

(`--first` is at most 1,000: past that, `az graph query` prints a `skip_token` to pass back with `--skip-token`
for the next page, and the pages' `data` arrays are joined; its `{"data": [...]}` wrapper is accepted as is.
The portal's Resource Graph Explorer downloads the same rows.)

What Graph holds, and where:
- `Resources`: virtual machines, NICs, virtual networks with their subnets (inside `properties.subnets`), NSGs,
  route tables, NAT gateways, public IPs, load balancers (outbound rules in `properties.outboundRules`), Azure
  Firewalls and firewall policies. Graph writes `type` in lower case (`microsoft.network/virtualnetworks`) and
  may differ from ARM in the casing of ids: readers compare both case-insensitively.
- Firewall policy rule collection groups are NOT in `Resources`: Microsoft lists
  `microsoft.network/firewallpolicies/rulecollectiongroups` under the `NetworkResources` table, and Graph lets a
  `union` span only `Resources` and `ResourceContainers`. The live path lists them per policy from ARM
  (`GET {policy}/ruleCollectionGroups`, one paged call per firewall policy a firewall in scope uses); offline,
  `RULE_COLLECTION_GROUPS_QUERY` exports them from `NetworkResources` into a second file.
- Virtual Network Manager admin rules are not resources of a VNet: ARM computes them per VNet
  (`POST {vnet}/listNetworkManagerEffectiveSecurityAdminRules`). The topology carries each VNet's answer as one
  record made by `admin_rules_record` (see there).
- `--protected-by-backup`: Azure Backup's protected items live in `RecoveryServicesResources`, which Graph
  lets a query join *to* (kind `microsoft.recoveryservices/vaults/backupfabrics/protectioncontainers/
  protecteditems`, `properties.backupManagementType == "AzureIaasVM"`, the VM in `properties.sourceResourceId`).

Paging: Graph answers at most 1,000 rows a page and continues with `$skipToken` only for queries without
`limit`/`take`; the rows are ordered by `id` so pages are stable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from egress.errors import UsageError

VM_TYPE = "microsoft.compute/virtualmachines"
# Every network resource type the path check reads (Graph's lower-case spelling).
NETWORK_TYPES: tuple[str, ...] = (
    "microsoft.network/networkinterfaces",
    "microsoft.network/virtualnetworks",
    "microsoft.network/networksecuritygroups",
    "microsoft.network/routetables",
    "microsoft.network/natgateways",
    "microsoft.network/publicipaddresses",
    "microsoft.network/loadbalancers",
    "microsoft.network/azurefirewalls",
    "microsoft.network/firewallpolicies",
)
PROTECTED_ITEM_TYPE = "microsoft.recoveryservices/vaults/backupfabrics/protectioncontainers/protecteditems"
RULE_COLLECTION_GROUP_TYPE = "microsoft.network/firewallpolicies/rulecollectiongroups"
# The columns every exported row keeps: ARM's GET shape plus Graph's two scope columns.
COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "type",
    "location",
    "resourceGroup",
    "subscriptionId",
    "tags",
    "sku",
    "zones",
    "properties",
)
GRAPH_PAGE_SIZE = 1000  # Graph's largest page ($top 1..1000)

# One VNet's effective admin rules in the topology array (see admin_rules_record).
ADMIN_RULES_TYPE = "Microsoft.Network/virtualNetworks/listNetworkManagerEffectiveSecurityAdminRules"
ADMIN_RULES_ACTION = "listNetworkManagerEffectiveSecurityAdminRules"

SCOPE_PREFIX = "azure:"
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_SCOPE_RE = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)(?:/resourcegroups/(?P<rg>[^/]+))?/?$",
    re.IGNORECASE,
)
_RG_RE = re.compile(r"^[\w\-.()]{0,89}[\w\-()]$")
_SCOPE_EXAMPLE = "azure:/subscriptions/<subscription-id>[/resourceGroups/<group>]"


@dataclass(frozen=True, order=True)
class Scope:
    """Where `egress path` looks: a whole subscription, or the VMs of one resource group in it.

    A resource group narrows the VMs only: their VNets, NSGs, route tables and firewalls often live in other
    groups (a hub), so network resources come from the whole subscription.
    """

    subscription: str
    resource_group: str | None = None

    def __str__(self) -> str:
        text = f"{SCOPE_PREFIX}/subscriptions/{self.subscription}"
        return text + (f"/resourceGroups/{self.resource_group}" if self.resource_group else "")


def parse_scope(text: str) -> Scope:
    """`azure:/subscriptions/S[/resourceGroups/RG]` (the `azure:` prefix optional) -> Scope; UsageError else."""
    raw = text.strip()
    body = raw[len(SCOPE_PREFIX) :] if raw.lower().startswith(SCOPE_PREFIX) else raw
    m = _SCOPE_RE.match(body)
    if not m:
        raise UsageError(f"--scope {text!r} is not a subscription or resource group; write {_SCOPE_EXAMPLE}.")
    sub, rg = m.group("sub"), m.group("rg")
    if not re.fullmatch(_GUID, sub):
        raise UsageError(f"subscription {sub!r} in --scope {text!r} is not a subscription id (a GUID).")
    if rg is not None and not _RG_RE.fullmatch(rg):
        raise UsageError(f"resource group {rg!r} in --scope {text!r} is not a valid resource group name.")
    return Scope(sub.lower(), rg)


def subscriptions_of(scopes: Iterable[Scope]) -> list[str]:
    """The distinct subscriptions of `scopes`, sorted: what the Graph request's `subscriptions` lists."""
    return sorted({s.subscription for s in scopes})


def _quote(value: str) -> str:
    # KQL string literal; ids, names and GUIDs never need more than escaping the quote and backslash.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


def _vm_filter(scopes: Sequence[Scope]) -> str | None:
    """A `where` predicate that keeps the VMs of `scopes`, or None when every scope is a whole subscription."""
    whole = {s.subscription for s in scopes if s.resource_group is None}
    groups: dict[str, set[str]] = {}
    for s in scopes:
        if s.resource_group is not None and s.subscription not in whole:
            groups.setdefault(s.subscription, set()).add(s.resource_group)
    if not groups:
        return None
    terms = [f"subscriptionId =~ {_quote(sub)}" for sub in sorted(whole)]
    terms += [
        f"(subscriptionId =~ {_quote(sub)} and resourceGroup in~ {_in_list(sorted(rgs, key=str.lower))})"
        for sub, rgs in sorted(groups.items())
    ]
    return " or ".join(terms)


def path_topology_query(scopes: Sequence[Scope] = (), *, protected_only: bool = False) -> str:
    """The Graph query that exports the path check's resources for the VMs of `scopes`.

    Without scopes (or with whole subscriptions only) every VM of the queried subscriptions is kept; the
    request's `subscriptions` list bounds the rest. `protected_only` keeps only VMs that a Recovery Services
    vault protects (Azure IaaS VM backup items).
    """
    vm_filter = _vm_filter(scopes)
    vms = f"Resources\n    | where type =~ {_quote(VM_TYPE)}"
    if vm_filter:
        vms += f"\n    | where {vm_filter}"
    if protected_only:
        vms += (
            "\n    | extend vmKey = tolower(id)"
            "\n    | join kind=inner ("
            "\n        RecoveryServicesResources"
            f"\n        | where type =~ {_quote(PROTECTED_ITEM_TYPE)}"
            "\n        | where properties.backupManagementType =~ 'AzureIaasVM'"
            "\n        | extend vmKey = tolower(tostring(properties.sourceResourceId))"
            "\n        | distinct vmKey"
            "\n      ) on vmKey"
        )
    return (
        "Resources\n"
        f"| where type in~ {_in_list(NETWORK_TYPES)}\n"
        f"| union (\n    {vms}\n  )\n"
        f"| project {', '.join(COLUMNS)}\n"
        "| order by id asc"
    )


PATH_TOPOLOGY_QUERY = path_topology_query()

# Offline only: the rule collection groups of every firewall policy, from the table Graph keeps them in.
RULE_COLLECTION_GROUPS_QUERY = (
    "NetworkResources\n"
    f"| where type =~ {_quote(RULE_COLLECTION_GROUP_TYPE)}\n"
    "| project id, name, type, resourceGroup, subscriptionId, properties\n"
    "| order by id asc"
)


def admin_rules_record(vnet_id: str, rules: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One VNet's effective security admin rules as an entry of the topology array.

    `rules` are the `value` items of `POST {vnet_id}/listNetworkManagerEffectiveSecurityAdminRules` exactly as
    ARM returns them (every page joined): `{id, configurationDescription, ruleCollectionDescription,
    ruleCollectionAppliesToGroups, ruleGroups, kind: Custom|Default, properties: {protocol, sources,
    destinations, sourcePortRanges, destinationPortRanges, access: Allow|Deny|AlwaysAllow, priority,
    direction, ...}}`. The record is the POST's own answer under the POST's own path:

        {"id": "<vnet id>/listNetworkManagerEffectiveSecurityAdminRules",
         "type": ADMIN_RULES_TYPE, "name": "<vnet name>",
         "properties": {"virtualNetworkId": "<vnet id>", "value": [...]}}

    An empty `value` means "asked, none apply", which differs from a VNet that has no record ("not asked").
    By hand: `az rest --method post --url "<vnet id>/listNetworkManagerEffectiveSecurityAdminRules?
    api-version=2025-05-01" --body '{}'` prints the `{"value": [...]}` to wrap.
    """
    vnet = vnet_id.rstrip("/")
    return {
        "id": f"{vnet}/{ADMIN_RULES_ACTION}",
        "type": ADMIN_RULES_TYPE,
        "name": vnet.rsplit("/", 1)[-1],
        "properties": {"virtualNetworkId": vnet, "value": [dict(r) for r in rules]},
    }


def is_admin_rules_record(entry: Mapping[str, Any]) -> bool:
    return str(entry.get("type", "")).lower() == ADMIN_RULES_TYPE.lower()
