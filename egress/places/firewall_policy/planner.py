"""Plan one Azure Firewall policy rule collection group for Azure Backup: an application rule collection
allowing the FQDN tag AzureBackup over HTTPS, a network rule collection allowing the other tags (service tags
where the data's networkFeatures list `FW`, else their CIDRs) on TCP 443, from the VNet; and the route the
subnets need (0.0.0.0/0 to the firewall). Then, against a group as it is, the changes that leave every rule
collection not egress's untouched."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from egress.core import prefixes
from egress.core.model import Dataset, ServiceTag
from egress.core.naming import MARKER, slug
from egress.core.priorities import allocate
from egress.core.selection import used_tags
from egress.core.spec import EgressSpec
from egress.errors import ConflictError, RuleError, UsageError
from egress.places.common import ItemApplyPlan, diff_items, host_address, item_name, tag_summaries
from egress.places.firewall_policy import limits
from egress.places.firewall_policy.model import RuleCollectionGroup, combinations, fw_usable, size_bytes
from egress.places.route_table.model import Route
from egress.places.route_table.planner import PlannedRoute, RoutePlan

DEFAULT_ROUTE = "0.0.0.0/0"


@dataclass(frozen=True, slots=True)
class FirewallPlan:
    collections: tuple[dict[str, Any], ...]  # ARM rule collections (filter collections, egress's rules)
    routes: RoutePlan  # the second artifact: the subnets' route to the firewall
    spec: EgressSpec
    provenance: dict[str, Any]
    sources: tuple[str, ...]
    priority: int  # the group's
    tags: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    size: int = 0
    combinations: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "place": "firewall-policy",
            "option": self.spec.option,
            "ruleCollectionGroup": self.spec.rcg_name,
            "priority": self.priority,
            "ruleCollections": len(self.collections),
            "rules": sum(len(c["rules"]) for c in self.collections),
            "sources": list(self.sources),
            "firewallIp": self.spec.firewall_ip,
            "limitsChecked": {
                "ruleCollectionGroupBytes": {"used": self.size, "limit": limits.MAX_RCG_BYTES},
                "uniqueSourceDestinations": {
                    "used": self.combinations,
                    "limit": limits.MAX_UNIQUE_SOURCE_DESTINATIONS,
                },
                "priorities": f"{limits.MIN_PRIORITY}-{limits.MAX_PRIORITY}, unique among the group's collections",
            },
            "limitsNotChecked": ["IP Groups (none used)", "rule collection groups per policy"],
            "notes": list(self.notes),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleCollectionGroup": {
                "name": self.spec.rcg_name,
                "properties": {"priority": self.priority, "ruleCollections": list(self.collections)},
            },
            "routes": [r.to_arm() for r in self.routes.routes],
            "summary": self.summary(),
            "provenance": {**self.provenance, "tags": list(self.tags)},
        }


def _networks(values: Iterable[str], flag: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise UsageError(f"{flag} {value!r} is not an address prefix.") from None
    return out


def check_spec(spec: EgressSpec, given: dict[str, Any]) -> None:
    if spec.option not in ("service-tags", "ip-ranges"):
        raise UsageError(
            f"--place firewall-policy takes --option service-tags or ip-ranges, not {spec.option}."
        )
    for key, flag in (
        ("deny_internet", "--deny-internet"),
        ("proxy_ip", "--proxy-ip"),
        ("proxy_port", "--proxy-port"),
        ("for_nsg", "--for"),
        ("next_hop", "--next-hop"),
        ("next_hop_ip", "--next-hop-ip"),
        (
            "max_prefixes",
            "--max-prefixes",
        ),  # the rules take every prefix; the size limits are checked instead
    ):
        if key in given:
            raise UsageError(f"{flag} does not apply to --place firewall-policy.")
    if not spec.vnet:
        raise UsageError(
            "--place firewall-policy needs --vnet (the VNet's address prefixes: the rules' sources)."
        )
    vnets = _networks(spec.vnet, "--vnet")
    if not spec.firewall_ip:
        raise UsageError(
            "--place firewall-policy needs --firewall-ip (the firewall's private IP, inside --vnet)."
        )
    ip = host_address(spec.firewall_ip, "--firewall-ip")
    if not any(ip.version == n.version and ip in n for n in vnets):
        raise UsageError(
            f"--firewall-ip {spec.firewall_ip} is outside the VNet ({', '.join(spec.vnet)}); the subnets' route "
            "must point at the firewall's private IP in their VNet."
        )
    if "source" in given or spec.source != "VirtualNetwork":
        _networks([spec.source], "--source (firewall rules take address prefixes)")
    if not limits.MIN_PRIORITY <= spec.priority_start <= limits.MAX_PRIORITY:
        raise UsageError(
            f"--priority-start {spec.priority_start} is outside the firewall's {limits.MIN_PRIORITY}-"
            f"{limits.MAX_PRIORITY}."
        )
    from egress.places.common import NAME

    if not NAME.match(spec.rcg_name):
        raise UsageError(f"--rcg-name {spec.rcg_name!r} is not a valid Azure resource name.")


def sources(spec: EgressSpec) -> tuple[str, ...]:
    if spec.source != "VirtualNetwork":
        return (str(ipaddress.ip_network(spec.source, strict=False)),)
    return tuple(str(ipaddress.ip_network(v, strict=False)) for v in spec.vnet)


def _describe(*parts: str) -> str:
    return " ".join([MARKER, *parts])[:140]


def _cidrs(tag: ServiceTag, family: set[int]) -> list[str]:
    parsed = prefixes.parse_tag_prefixes(tag, RuleError)
    return [prefixes.format_prefix(p) for p in prefixes.aggregate(p for p in parsed if p[0] in family)]


def build_policy(
    spec: EgressSpec,
    dataset: Dataset,
    *,
    used_priorities: Iterable[int] = (),
    current: dict[str, int] | None = None,
    group_priority: int | None = None,
) -> FirewallPlan:
    check_spec(spec, {})
    tags = list(used_tags(spec, dataset))
    srcs = sources(spec)
    families = {ipaddress.ip_network(s).version for s in srcs}
    notes: list[str] = []
    prefix = spec.rule_prefix
    app_rule = {
        "ruleType": "ApplicationRule",
        "name": item_name(prefix, "azurebackup-fqdn-tag"),
        "description": _describe(
            f"allow the FQDN tag {limits.BACKUP_FQDN_TAG} over https/{limits.HTTPS_PORT}"
        ),
        "sourceAddresses": list(srcs),
        "fqdnTags": [limits.BACKUP_FQDN_TAG],
        "protocols": [{"protocolType": "Https", "port": limits.HTTPS_PORT}],
    }
    network_tags = [t for t in tags if t.name.lower() != limits.BACKUP_FQDN_TAG.lower()]
    if len(network_tags) < len(tags):
        notes.append(f"{limits.BACKUP_FQDN_TAG} is allowed by the application rule's FQDN tag")
    unusable = [t for t in network_tags if not fw_usable(t)]
    if spec.option == "service-tags" and unusable and not spec.expand_unusable:
        raise RuleError(
            f"{', '.join(t.name for t in unusable)}: a firewall network rule cannot name this service tag (its "
            "networkFeatures lack FW); use --expand-unusable to allow its IP ranges instead, or --option ip-ranges."
        )
    net_rules = []
    for tag in network_tags:
        if spec.option == "service-tags" and fw_usable(tag):
            destinations, what = [tag.name], f"allow {tag.name} tcp/443 (service tag)"
        else:
            destinations = _cidrs(tag, families)
            what = f"allow {tag.name} tcp/443 ({len(destinations)} prefixes)"
            if not destinations:
                notes.append(f"{tag.name}: no prefixes of the sources' address family")
                continue
        net_rules.append(
            {
                "ruleType": "NetworkRule",
                "name": item_name(prefix, slug(tag.name)),
                "description": _describe(what),
                "ipProtocols": ["TCP"],
                "sourceAddresses": list(srcs),
                "destinationAddresses": destinations,
                "destinationPorts": [str(limits.HTTPS_PORT)],
            }
        )
    names = [item_name(prefix, "backup-app"), item_name(prefix, "backup-net")]
    wanted = [names[0]] + ([names[1]] if net_rules else [])
    numbers = allocate(
        len(wanted),
        start=limits.MIN_PRIORITY,
        stop=limits.MAX_PRIORITY + 1,
        used=set(used_priorities),
        preferred=[(current or {}).get(n) for n in wanted],
    )
    collections: list[dict[str, Any]] = [
        {
            "ruleCollectionType": limits.FILTER_COLLECTION,
            "name": wanted[0],
            "priority": numbers[0],
            "action": {"type": "Allow"},
            "rules": [app_rule],
        }
    ]
    if net_rules:
        collections.append(
            {
                "ruleCollectionType": limits.FILTER_COLLECTION,
                "name": wanted[1],
                "priority": numbers[1],
                "action": {"type": "Allow"},
                "rules": net_rules,
            }
        )
    combos = sum(combinations(r) for r in net_rules)
    if combos > limits.MAX_UNIQUE_SOURCE_DESTINATIONS:
        raise RuleError(
            f"the network rules make {combos} unique source-destination combinations, over Azure Firewall's "
            f"{limits.MAX_UNIQUE_SOURCE_DESTINATIONS}; use service tags (--option service-tags) or fewer --vnet."
        )
    size = size_bytes(collections)
    if size > limits.MAX_RCG_BYTES:
        raise RuleError(
            f"the rule collection group would hold {size} bytes of rules, over the firewall's "
            f"{limits.MAX_RCG_BYTES} (1 MB) per group; use service tags or fewer tags."
        )
    route = Route(
        item_name(prefix, "default-to-firewall"), DEFAULT_ROUTE, "VirtualAppliance", spec.firewall_ip
    )
    routes = RoutePlan(
        routes=(PlannedRoute(route, None, "prefix"),),
        spec=spec,
        provenance=dataset.provenance.to_dict(),
        notes=(f"the subnets' route table: {DEFAULT_ROUTE} to the firewall {spec.firewall_ip}",),
        mode="exact",
    )
    tags_info = tag_summaries(tags, "fwUsable", fw_usable)
    return FirewallPlan(
        collections=tuple(collections),
        routes=routes,
        spec=spec,
        provenance=dataset.provenance.to_dict(),
        sources=srcs,
        priority=group_priority if group_priority is not None else spec.priority_start,
        tags=tags_info,
        notes=tuple(notes),
        size=size,
        combinations=combos,
    )


# --- against a rule collection group as it is ----------------------------------------------------------------


def is_managed(name: str, rule_prefix: str) -> bool:
    """Egress's rule collections are those named with its prefix (every rule in them is egress's)."""
    return name.startswith(rule_prefix)


def _clean(value: Any) -> Any:
    """Azure answers with empty lists (and nulls) for every rule field not set: they mean nothing."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v not in (None, [], {}) and k not in _READ_ONLY}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


_READ_ONLY = {"provisioningState", "etag", "id"}


def _comparable(collection: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in _clean(collection).items() if k != "name"}


def plan_apply(group: RuleCollectionGroup, spec: EgressSpec, dataset: Dataset) -> ItemApplyPlan:
    foreign = [c for c in group.collections if not is_managed(c.name, spec.rule_prefix)]
    managed = {c.name: c for c in group.collections if is_managed(c.name, spec.rule_prefix)}
    planned = build_policy(
        spec,
        dataset,
        used_priorities=[c.priority for c in foreign],
        current={n: c.priority for n, c in managed.items()},
        group_priority=group.priority,
    )
    label = group.name or "the rule collection group"
    names = {c.name.lower(): c.name for c in foreign}
    taken = [names[c["name"].lower()] for c in planned.collections if c["name"].lower() in names]
    if taken:
        raise ConflictError(
            f"rule collection(s) {', '.join(taken)} already exist in {label}; choose another --rule-prefix."
        )
    findings: list[str] = []
    if group.priority is None:
        findings.append(f"{label} does not exist yet: egress creates it with priority {planned.priority}")
    elif group.priority != spec.priority_start:
        findings.append(
            f"{label} has priority {group.priority}, not --priority-start {spec.priority_start}; egress keeps the "
            "group's priority (other groups of the policy may rely on it)"
        )
    after = [c.raw for c in foreign]
    for c in planned.collections:
        existing = managed.get(c["name"])
        unchanged = existing is not None and _comparable(existing.raw) == _comparable(c)
        after.append(existing.raw if unchanged else dict(c))  # unchanged: written back as read
    size = size_bytes(after)
    if size > limits.MAX_RCG_BYTES:
        raise RuleError(
            f"{label} would hold {size} bytes of rules with egress's merged in, over the firewall's "
            f"{limits.MAX_RCG_BYTES} (1 MB) per group; nothing was written."
        )
    changes = diff_items(
        [
            (c["name"], f"{len(c['rules'])} rules, priority {c['priority']}", _comparable(c))
            for c in planned.collections
        ],
        {n: _comparable(c.raw) for n, c in managed.items()},
    )
    return ItemApplyPlan(
        resource_name=group.name,
        kind="rule collections",
        changes=changes,
        ruleset=planned,
        foreign=tuple(sorted(c.name for c in foreign)),
        planned_count=len(planned.collections),
        rules_after={"priority": planned.priority, "ruleCollections": after},
        findings=tuple(findings),
    )


def check_network_tags(rules: Sequence[dict[str, Any]], dataset: Dataset) -> list[tuple[str, str]]:
    """(rule, tag) pairs of network rules naming a service tag whose networkFeatures lack FW."""
    out = []
    for rule in rules:
        for dest in rule.get("destinationAddresses") or []:
            try:
                ipaddress.ip_network(dest, strict=False)
                continue
            except ValueError:
                pass
            if dest == "*":
                continue
            tag = dataset.find(dest)
            if tag is not None and not fw_usable(tag):
                out.append((str(rule.get("name")), tag.name))
    return out
