"""Azure Firewall, as it processes a flow a route hands it: network rules, then application rules, then deny.

Rule collection groups come from the firewall's policy (a parent policy's groups first), ordered by group priority,
then collection priority (lower first); DNAT collections do not apply to outbound flows. A network rule matches by
protocol, source, destination (CIDRs, ranges, IP Groups, service tags) and port, and its collection's action ends
processing. What no network rule takes goes to the application rules, which match names, not addresses: a rule
matches a Backup destination (HTTPS) when it allows the flow's port over Https from the VM and names the FQDN tag
`AzureBackup` (for the AzureBackup tag) or target FQDNs covering every name of that service. Then the default deny.
A firewall without a policy is read from its classic rule collections the same way. Network rules naming FQDNs
(resolved by the firewall's DNS) and IP Groups missing from the input are skipped and reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from egress.core.addrset import EMPTY, IntSet, address_set, canonical_protocol, looks_like_address, to_cidrs
from egress.core.fqdns import BACKUP_FQDNS
from egress.core.model import Dataset
from egress.core.path.steps import Step, part_addresses, union
from egress.core.path.topology import (
    FIREWALL,
    FIREWALL_POLICY,
    IP_GROUP,
    RULE_COLLECTION_GROUP,
    Topology,
    key,
    last_segment,
    props,
    ref_id,
)
from egress.places.nsg.evaluate import Query, evaluate_set
from egress.places.nsg.model import Nsg, SecurityRule
from egress.places.nsg.space import Resolver

LAYER = "firewall"
FW_FEATURE = "FW"
BACKUP_FQDN_TAG = "azurebackup"
MAX_POLICY_DEPTH = 8  # parent policies; Azure allows one level today, this only stops a cycle
# Which names of egress.core.fqdns.BACKUP_FQDNS each Backup service tag stands for.
_FQDN_WORDS = {
    "azurebackup": ("backup.",),
    "storage": (".blob.", ".queue."),
    "azureactivedirectory": ("login.",),
}


@dataclass
class Collection:
    label: str  # policy/group/collection, or firewall/collection for classic rules
    resource_id: str
    action: str  # Allow | Deny
    kind: str  # network | application
    rules: list[Mapping[str, Any]]


@dataclass
class FirewallResult:
    steps: list[Step] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def firewall_at(topo: Topology, ip: str) -> dict[str, Any] | None:
    """The Azure Firewall whose private IP is `ip` (a route's next hop), if the input holds it."""
    for firewall in topo.of_type(FIREWALL):
        p = props(firewall)
        configs = p.get("ipConfigurations")
        for config in configs if isinstance(configs, list) else []:
            if isinstance(config, Mapping) and str(props(config).get("privateIPAddress", "")) == ip:
                return firewall
        hub = p.get("hubIPAddresses")
        if isinstance(hub, Mapping) and str(hub.get("privateIPAddress", "")) == ip:
            return firewall
    return None


def _policy_chain(topo: Topology, policy_id: str) -> tuple[list[dict[str, Any]], str]:
    """Policies from the root parent down to `policy_id`; or the id missing from the input."""
    chain: list[dict[str, Any]] = []
    current: str | None = policy_id
    while current and len(chain) < MAX_POLICY_DEPTH:
        policy = topo.get(current, FIREWALL_POLICY)
        if policy is None:
            return [], current
        chain.insert(0, policy)
        current = ref_id(props(policy).get("basePolicy"))
    return chain, ""


def _collections(topo: Topology, firewall: Mapping[str, Any]) -> tuple[list[Collection], str]:
    """Every filter collection in processing order; or what is missing from the input."""
    policy_id = ref_id(props(firewall).get("firewallPolicy"))
    if policy_id is None:
        return _classic(firewall), ""
    chain, missing = _policy_chain(topo, policy_id)
    if missing:
        return [], f"firewall policy {missing}"
    out: list[Collection] = []
    for policy in chain:
        groups: dict[str, str] = {}
        listed = props(policy).get("ruleCollectionGroups")
        for item in listed if isinstance(listed, list) else []:
            if ref_id(item):
                groups[key(ref_id(item) or "")] = ref_id(item) or ""
        prefix = key(policy["id"]) + "/rulecollectiongroups/"
        for rid in topo.resources:
            if rid.startswith(prefix) and topo.types[rid] == RULE_COLLECTION_GROUP:
                groups.setdefault(rid, topo.resources[rid]["id"])
        resolved: list[tuple[int, str, dict[str, Any]]] = []
        for gid in groups.values():
            group = topo.get(gid, RULE_COLLECTION_GROUP)
            if group is None:
                return [], f"rule collection group {gid}"
            resolved.append(
                (_int(props(group).get("priority")), str(group.get("name") or last_segment(gid)), group)
            )
        for _, gname, group in sorted(resolved, key=lambda g: (g[0], g[1])):
            items = props(group).get("ruleCollections")
            ordered = sorted(
                (c for c in (items if isinstance(items, list) else []) if isinstance(c, Mapping)),
                key=lambda c: (_int(c.get("priority")), str(c.get("name", ""))),
            )
            for coll in ordered:
                if str(coll.get("ruleCollectionType", "")).lower() != "firewallpolicyfilterrulecollection":
                    continue  # DNAT collections act on inbound flows only
                raw_action = coll.get("action")
                action = raw_action.get("type", "") if isinstance(raw_action, Mapping) else ""
                rules = [r for r in coll.get("rules") or [] if isinstance(r, Mapping)]
                for kind in ("network", "application"):
                    chosen = [r for r in rules if str(r.get("ruleType", "")).lower() == f"{kind}rule"]
                    if chosen:
                        label = f"{policy.get('name') or last_segment(policy['id'])}/{gname}/{coll.get('name', '')}"
                        out.append(Collection(label, group["id"], _action(action), kind, chosen))
    return out, ""


def _classic(firewall: Mapping[str, Any]) -> list[Collection]:
    out: list[Collection] = []
    name = str(firewall.get("name") or last_segment(firewall["id"]))
    for prop, kind in (("networkRuleCollections", "network"), ("applicationRuleCollections", "application")):
        items = props(firewall).get(prop)
        ordered = sorted(
            (c for c in (items if isinstance(items, list) else []) if isinstance(c, Mapping)),
            key=lambda c: (_int(props(c).get("priority")), str(c.get("name", ""))),
        )
        for coll in ordered:
            p = props(coll)
            rules = [r for r in p.get("rules") or [] if isinstance(r, Mapping)]
            action = (p.get("action") or {}).get("type", "") if isinstance(p.get("action"), Mapping) else ""
            out.append(
                Collection(
                    f"{name}/{coll.get('name', '')}", str(firewall["id"]), _action(action), kind, rules
                )
            )
    return out


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 65_000


def _action(value: Any) -> str:
    return "Deny" if str(value).lower() == "deny" else "Allow"


def _words(values: Any) -> list[str]:
    return [v.strip() for v in values if isinstance(v, str) and v.strip()] if isinstance(values, list) else []


def _range_cidrs(entry: str) -> list[str]:
    """`10.0.0.1-10.0.0.9` (Azure Firewall accepts ranges) as CIDRs; other entries unchanged."""
    if "-" in entry and looks_like_address(entry) and ":" not in entry:
        lo, _, hi = entry.partition("-")
        start, end = address_set(lo.strip()).spans[0][0], address_set(hi.strip()).spans[0][0]
        return to_cidrs(IntSet.span(start, end))
    return [entry]


def _addresses(topo: Topology, rule: Mapping[str, Any], side: str) -> tuple[list[str], str]:
    """A rule side's address entries (ranges and IP Groups expanded); or why it cannot be read offline."""
    out: list[str] = []
    for entry in _words(rule.get(f"{side}Addresses")):
        out += _range_cidrs(entry)
    for group_id in _words(rule.get(f"{side}IpGroups")):
        group = topo.get(group_id, IP_GROUP)
        if group is None:
            return [], f"IP Group {group_id} is not in the input"
        for entry in _words(props(group).get("ipAddresses")):
            out += _range_cidrs(entry)
    if side == "destination" and _words(rule.get("destinationFqdns")):
        return [], "it names FQDNs, which the firewall resolves by DNS"
    return out, ""


def _protocols(rule: Mapping[str, Any]) -> list[str]:
    out = []
    for word in _words(rule.get("ipProtocols") or rule.get("protocols")):
        try:
            out.append(canonical_protocol(word))
        except ValueError:
            continue
    return list(dict.fromkeys(out))


def _covers(target: str, name: str) -> bool:
    target, name = target.lower(), name.lower()
    if target in ("*", name):
        return True
    return target.startswith("*.") and (name.endswith(target[1:]) or name == target[2:])


def _app_matches(rule: Mapping[str, Any], service: str, cloud: str, port: int) -> bool:
    protocols = rule.get("protocols")
    ok_port = any(
        isinstance(p, Mapping) and str(p.get("protocolType", "")).lower() == "https" and p.get("port") == port
        for p in (protocols if isinstance(protocols, list) else [])
    )
    if not ok_port:
        return False
    if service == BACKUP_FQDN_TAG and any(t.lower() == BACKUP_FQDN_TAG for t in _words(rule.get("fqdnTags"))):
        return True
    names = [n for n in BACKUP_FQDNS.get(cloud, ()) if any(w in n for w in _FQDN_WORDS.get(service, ()))]
    targets = _words(rule.get("targetFqdns"))
    return bool(names) and all(any(_covers(t, n) for t in targets) for n in names)


def evaluate_firewall(
    topo: Topology,
    firewall: Mapping[str, Any],
    destinations: IntSet,
    *,
    source_ip: str,
    port: int | None,
    protocol: str,
    service: str,
    cloud: str,
    dataset: Dataset | None,
    vnet: Sequence[str],
    fix: str,
    resolver: Resolver | None = None,
) -> FirewallResult:
    """Split `destinations` by the firewall's verdict. `service`: the destination tag's base name, lower case."""
    result = FirewallResult()
    fw_name = str(firewall.get("name") or last_segment(firewall["id"]))
    collections, missing = _collections(topo, firewall)
    if missing:
        result.steps.append(
            Step(
                destinations, "unknown", LAYER, fw_name, str(firewall["id"]), f"{missing} is not in the input"
            )
        )
        return result
    remaining = destinations
    # Network rules: one SecurityRule per rule and protocol, in processing order, through the NSG evaluator.
    rules: list[SecurityRule] = []
    owner: dict[int, tuple[Collection, str]] = {}
    for coll in (c for c in collections if c.kind == "network"):
        for rule in coll.rules:
            name = str(rule.get("name", ""))
            sources, why_s = _addresses(topo, rule, "source")
            targets, why_d = _addresses(topo, rule, "destination")
            if why_s or why_d:
                result.notes.append(f"network rule {coll.label}/{name} not evaluated: {why_s or why_d}")
                continue
            words = [e for e in targets if not looks_like_address(e) and e != "*"]
            unknown = [e for e in words if dataset is None or dataset.find(e) is None]
            if unknown:
                result.findings.append(
                    f"firewall rule {coll.label}/{name}: {', '.join(unknown)} is not a service tag in the data; "
                    "the rule was not evaluated"
                )
                continue
            for entry in words:
                tag = dataset.find(entry) if dataset is not None else None
                if tag is not None and not tag.usable_in(FW_FEATURE):
                    result.findings.append(
                        f"firewall rule {coll.label}/{name}: service tag {tag.name} is not usable in Azure "
                        "Firewall (its networkFeatures lack FW)"
                    )
            for proto in _protocols(rule):
                sr = SecurityRule(
                    name=f"{coll.label}/{name}",
                    priority=len(rules) + 1,
                    direction="Outbound",
                    access=coll.action,
                    protocol=proto,
                    source_address_prefixes=tuple(sources) or ("*",),
                    destination_address_prefixes=tuple(targets),
                    source_port_range="*",
                    destination_port_ranges=tuple(_words(rule.get("destinationPorts"))) or ("*",),
                )
                if not targets:
                    continue
                rules.append(sr)
                owner[id(sr)] = (coll, name)
    if rules:
        query = Query(
            destinations=(),
            destination_ports=(str(port),) if port is not None else ("*",),
            protocol=protocol,
            sources=(source_ip,),
        )
        evaluation = evaluate_set(
            Nsg(name=fw_name, rules=rules, default_rules=[]),
            query,
            remaining,
            dataset,
            vnet=vnet,
            resolver=resolver,
        )
        taken: list[IntSet] = []
        grouped: dict[int, list[IntSet]] = {}
        for part in evaluation.parts:
            if part.rule is None:
                continue
            addresses = part_addresses(part)
            grouped.setdefault(id(part.rule), []).append(addresses)
            taken.append(addresses)
        for rid, sets in grouped.items():
            coll, name = owner[rid]
            outcome = "reachable" if coll.action == "Allow" else "blocked"
            result.steps.append(
                Step(
                    union(sets),
                    outcome,
                    LAYER,
                    f"network rule {coll.label}/{name} ({coll.action})",
                    coll.resource_id,
                    f"Azure Firewall {fw_name}",
                    fix if outcome == "blocked" else "",
                    via=f"Azure Firewall {fw_name}" if outcome == "reachable" else "",
                )
            )
        remaining = remaining - union(taken)
    if remaining:
        remaining = _application(
            result, collections, remaining, service, cloud, port, protocol, source_ip, topo, fw_name, fix
        )
    if remaining:
        result.steps.append(
            Step(
                remaining,
                "blocked",
                LAYER,
                f"{fw_name}: no rule matched",
                str(firewall["id"]),
                "Azure Firewall denies what no rule allows",
                fix,
            )
        )
    if any(step.outcome == "reachable" for step in result.steps):
        result.notes.append(
            f"Azure Firewall {fw_name}: its own way out (its public IP, or a forced tunnel from its subnet) is "
            "assumed, not checked"
        )
    return result


def _application(
    result: FirewallResult,
    collections: list[Collection],
    remaining: IntSet,
    service: str,
    cloud: str,
    port: int | None,
    protocol: str,
    source_ip: str,
    topo: Topology,
    fw_name: str,
    fix: str,
) -> IntSet:
    apps = [c for c in collections if c.kind == "application"]
    if not apps:
        return remaining
    if protocol not in ("Tcp", "*") or port is None:
        return remaining
    if service not in _FQDN_WORDS:
        result.steps.append(
            Step(
                remaining,
                "unknown",
                LAYER,
                fw_name,
                "",
                "application rules match host names; "
                "egress knows the names of Azure Backup, Storage and Entra ID only",
            )
        )
        return EMPTY
    source = address_set(source_ip)
    for coll in apps:
        for rule in coll.rules:
            sources, why = _addresses(topo, rule, "source")
            if why:
                result.notes.append(
                    f"application rule {coll.label}/{rule.get('name', '')} not evaluated: {why}"
                )
                continue
            if not any(
                s == "*" or source.issubset(address_set(s))
                for s in sources
                if looks_like_address(s) or s == "*"
            ):
                continue
            if _app_matches(rule, service, cloud, port):
                outcome = "reachable" if coll.action == "Allow" else "blocked"
                result.steps.append(
                    Step(
                        remaining,
                        outcome,
                        LAYER,
                        f"application rule {coll.label}/{rule.get('name', '')} ({coll.action})",
                        coll.resource_id,
                        f"Azure Firewall {fw_name}",
                        fix if outcome == "blocked" else "",
                        via=f"Azure Firewall {fw_name}" if outcome == "reachable" else "",
                    )
                )
                return EMPTY
    return remaining
