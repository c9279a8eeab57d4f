"""Chain the layers in Azure's order for each VM and destination, and say what decides and what fixes it.

Order (egress-path.md): security admin rules; the NIC's NSG, then the subnet's; the effective route of each
destination address; then, by next hop, the outbound method (Internet), the Azure Firewall (VirtualAppliance), or
nothing more (service endpoint). With a proxy, the VM's leg to the proxy and the proxy VM's own path replace the
direct path. Every layer splits the destination's addresses exactly, so `partial` says which prefixes fail where.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from egress.core.addrset import ALL_V4, ALL_V6, EMPTY, IntSet, address_set, looks_like_address, parse_network
from egress.core.model import Dataset, ServiceTag, cloud_key
from egress.core.path.admin_rules import evaluate_admin
from egress.core.path.firewall import evaluate_firewall, firewall_at
from egress.core.path.memo import Memo
from egress.core.path.nsgs import evaluate_nsgs
from egress.core.path.outbound import outbound_method
from egress.core.path.routes import Route, effective_routes
from egress.core.path.steps import LAYERS, Step, union
from egress.core.path.topology import (
    Endpoint,
    Topology,
    endpoint,
    find_nic_by_ip,
    props,
    ref_id,
    vms,
)
from egress.core.spec import BACKUP_TAGS
from egress.errors import EgressError, UsageError
from egress.places.nsg.evaluate import Query
from egress.places.nsg.model import Nsg

VERDICTS = ("reachable", "partial", "blocked", "unknown")
DEFAULT_PORT = 443
FIREWALL_RCG = "egress-backup"  # the rule collection group `egress apply --place firewall-policy` would write
NSG_FEATURE = "NSG"


@dataclass(frozen=True)
class Proxy:
    ip: str
    port: int


@dataclass
class Check:
    """One VM and one destination."""

    vm: str
    vm_id: str
    region: str
    ip: str
    destination: str
    port: int | None
    protocol: str
    steps: list[Step] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    excluded: int = 0  # addresses of the tag in a family the VM has no address of
    excluded_prefixes: int = 0  # the tag's prefixes of that family
    notes: list[str] = field(default_factory=list)

    def _count(self, outcome: str) -> int:
        return sum(s.count for s in self.steps if s.outcome == outcome)

    @property
    def total(self) -> int:
        return sum(s.count for s in self.steps)

    @property
    def blocked_addresses(self) -> int:
        return self._count("blocked")

    @property
    def verdict(self) -> str:
        reachable, blocked, unknown = self._count("reachable"), self._count("blocked"), self._count("unknown")
        if self.missing or not self.steps:
            return "unknown"
        if blocked:
            return "partial" if reachable else "blocked"
        return "unknown" if unknown else "reachable"

    def deciding(self) -> Step | None:
        """The step that decides the verdict: the first block in Azure's layer order (largest first), else the
        first unknown, else the largest reachable part."""
        for outcome in ("blocked", "unknown", "reachable"):
            chosen = [s for s in self.steps if s.outcome == outcome]
            if chosen:
                return min(
                    chosen, key=lambda s: (LAYERS.index(s.layer) if outcome != "reachable" else 0, -s.count)
                )
        return None


@dataclass
class PathReport:
    checks: list[Check]
    findings: list[str]  # errors in the input (tags used where Azure refuses them)
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.findings and all(c.verdict == "reachable" for c in self.checks)


@dataclass
class _Ctx:
    topo: Topology
    dataset: Dataset
    port: int | None
    protocol: str
    cloud: str
    tags_given: tuple[str, ...]
    findings: list[str]
    memo: Memo


def destinations_for(dataset: Dataset, region: str, tags: Sequence[str]) -> list[ServiceTag]:
    """The tags to check: given ones, or the service-tags plan's (`Storage.<Region>`, AzureBackup, Entra ID)."""
    out: list[ServiceTag] = []
    for name in tags or BACKUP_TAGS:
        if "{region}" in name:
            if not region:
                raise UsageError(f"tag {name!r} needs the VM's region; give --region.")
            tag = dataset.regional(name.replace(".{region}", ""), region)
        else:
            tag = dataset.get(name)
        if tag not in out:
            out.append(tag)
    return out


def check_paths(
    topo: Topology,
    dataset: Dataset,
    *,
    vm_names: Sequence[str] = (),
    tags: Sequence[str] = (),
    port: int | None = DEFAULT_PORT,
    protocol: str = "Tcp",
    proxy: Proxy | None = None,
    region: str | None = None,
) -> PathReport:
    for name in tags:  # a misspelt tag is the caller's error, not something missing from the input
        if "{region}" not in name:
            dataset.get(name)
    ctx = _Ctx(
        topo, dataset, port, protocol, cloud_key(dataset.provenance.cloud), tuple(tags), [], Memo(dataset)
    )
    checks: list[Check] = []
    notes: list[str] = []
    for resource in vms(topo, vm_names):
        checks += _vm_checks(ctx, endpoint(topo, resource, region), proxy, notes)
    findings = list(dict.fromkeys(ctx.findings))
    return PathReport(checks, findings, list(dict.fromkeys(notes)))


def _vm_checks(ctx: _Ctx, end: Endpoint, proxy: Proxy | None, notes: list[str]) -> list[Check]:
    try:
        data_region = ctx.dataset.check_region(end.region) if end.region else ""
    except EgressError:
        data_region = ""
    try:
        targets = destinations_for(ctx.dataset, data_region, ctx.tags_given)
    except EgressError as exc:
        check = Check(
            end.name,
            end.id,
            end.region,
            end.ip,
            ", ".join(ctx.tags_given or BACKUP_TAGS),
            ctx.port,
            ctx.protocol,
            missing=[str(exc)],
        )
        return [check]
    if end.known:
        _nsg_findings(ctx, end)
        widened = _widened_virtual_network(end)
        if widened:
            notes.append(widened)
        if end.admin_rules is None:
            notes.append(
                f"no effective admin rules for VNet {end.vnet_id} in the input: Virtual Network Manager security "
                "admin rules were not checked (export them with listNetworkManagerEffectiveSecurityAdminRules)"
            )
    out = []
    for tag in targets:
        check = Check(
            end.name, end.id, end.region, end.ip, tag.name, ctx.port, ctx.protocol, missing=list(end.missing)
        )
        if end.known:
            family = ALL_V6 if ":" in end.ip else ALL_V4
            addresses, check.excluded = ctx.memo.tag_in_family(tag, family)
            check.excluded_prefixes = len(tag.ipv4() if ":" in end.ip else tag.ipv6())
            if proxy is not None:
                check.steps = _via_proxy(ctx, end, proxy, addresses, tag, check.notes)
            else:
                check.steps = _direct(ctx, end, addresses, tag, check.notes)
        out.append(check)
        notes += check.notes
    return out


def _widened_virtual_network(end: Endpoint) -> str:
    """A note when the subnet's user routes widen `VirtualNetwork` past the VNet and its peers (empty if not)."""
    space = union(address_set(p) for p in end.vnet_prefixes)
    outside = [p for p in end.routed_prefixes if not address_set(p).issubset(space)]
    if not outside:
        return ""
    table = str((end.route_table or {}).get("id", "the subnet's route table"))
    shown = ", ".join(outside[:4]) + (f" and {len(outside) - 4} more" if len(outside) > 4 else "")
    default = any(p.endswith("/0") for p in outside)
    return (
        f"route table {table} routes {shown}: Azure counts user-defined route prefixes as part of the "
        "VirtualNetwork service tag, so NSG and admin rules naming VirtualNetwork (AllowVnetOutBound among them) "
        "match traffic to " + ("every address" if default else "those prefixes") + " too"
    )


def _nsg_findings(ctx: _Ctx, end: Endpoint) -> None:
    for nsg in (end.nic_nsg, end.subnet_nsg):
        for rule in nsg.rules if nsg is not None else []:
            for entry in (*rule.sources, *rule.destinations):
                tag = ctx.dataset.find(entry) if entry[:1].isalpha() else None
                if tag is not None and not tag.nsg_usable:
                    ctx.findings.append(
                        f"NSG {nsg.name} rule {rule.name}: service tag {tag.name} is not usable in NSG rules "
                        "(its networkFeatures lack NSG); Azure refuses it"
                    )


# --- fixes ------------------------------------------------------------------------------------------------------


def _tag_args(ctx: _Ctx) -> str:
    return "".join(f" --tag {t}" for t in ctx.tags_given)


def _nsg_fix(ctx: _Ctx, end: Endpoint, nsg: Nsg | None) -> str:
    if nsg is None:
        return ""
    target = f"azure:{nsg.id}" if nsg.id else nsg.name
    return f"egress apply --target {target} --region {end.region}{_tag_args(ctx)}"


def _route_fix(ctx: _Ctx, end: Endpoint) -> str:
    if end.route_table is not None:
        return f"egress apply --place route-table --target azure:{end.route_table['id']} --region {end.region}{_tag_args(ctx)}"
    return f"associate a route table with subnet {end.subnet_id}, then egress apply --place route-table --target azure:<that route table> --region {end.region}"


def _route_fix_for(ctx: _Ctx, end: Endpoint, route: Route, tag: ServiceTag, addresses: IntSet) -> str:
    """The route-table fix, unless the user route that decides is at least as specific as the tag's own prefixes
    there: tag routes egress adds would lose to it (longest prefix; on a tie an explicit CIDR wins)."""
    if route.origin == "User" and end.route_table is not None:
        where = f"route {route.name} of {end.route_table['id']}"
        if not looks_like_address(route.prefix):
            return f"change {where}: it sends {tag.name} to {route.next_hop}"
        try:
            length = parse_network(route.prefix)[2]
        except ValueError:
            length = 0
        overlapping = [parse_network(p)[2] for p in tag.prefixes if not address_set(p).isdisjoint(addresses)]
        if overlapping and min(overlapping) <= length:
            return (
                f"change or remove {where}: {route.prefix} is as specific as {tag.name}'s prefixes there, "
                "so no service-tag route can win over it"
            )
    return _route_fix(ctx, end)


def _firewall_fix(ctx: _Ctx, end: Endpoint, firewall: Mapping[str, Any], firewall_ip: str) -> str:
    policy = ref_id(props(firewall).get("firewallPolicy"))
    if policy is None:
        return f"add an application rule with FQDN tag AzureBackup (Https:443) to the classic rules of {firewall['id']}"
    vnets = "".join(f" --vnet {p}" for p in end.vnet_prefixes)
    return (
        f"egress apply --place firewall-policy --target azure:{policy}/ruleCollectionGroups/{FIREWALL_RCG} "
        f"--region {end.region}{vnets} --firewall-ip {firewall_ip}{_tag_args(ctx)}"
    )


def _outbound_fix(end: Endpoint) -> str:
    return f"attach a NAT gateway or an explicit outbound method to subnet {end.subnet_id}"


def _admin_fix(end: Endpoint) -> str:
    return (
        "ask the Virtual Network Manager administrator for an Allow or AlwaysAllow admin rule above it "
        f"(VNet {end.vnet_id}); NSG changes cannot override a Deny admin rule"
    )


# --- the direct path ----------------------------------------------------------------------------------------------


def _query(
    end: Endpoint, ctx: _Ctx, port: int | None, direction: str = "Outbound", source: str = ""
) -> Query:
    return Query(
        destinations=(),
        destination_ports=(str(port),) if port is not None else ("*",),
        protocol=ctx.protocol,
        direction=direction,
        sources=(source or end.ip,),
    )


def _security(
    ctx: _Ctx, end: Endpoint, addresses: IntSet, query: Query, *, inbound: bool = False
) -> tuple[list[Step], IntSet, list[str]]:
    """Admin rules then NSGs: (blocked steps, what passes, trail of what let it through)."""
    resolver = ctx.memo.resolver(end.vnet_prefixes, end.routed_prefixes)
    admin = evaluate_admin(
        end.admin_rules,
        addresses,
        query,
        ctx.dataset,
        end.vnet_prefixes,
        fix=_admin_fix(end),
        resolver=resolver,
    )
    layers: list[tuple[str, Nsg | None, str]] = [
        ("nic-nsg", end.nic_nsg, _nsg_fix(ctx, end, end.nic_nsg)),
        ("subnet-nsg", end.subnet_nsg, _nsg_fix(ctx, end, end.subnet_nsg)),
    ]
    if inbound:
        layers.reverse()
    nsgs = evaluate_nsgs(
        layers,
        admin.passed,
        query,
        ctx.dataset,
        end.vnet_prefixes,
        resolver=resolver,
        cache=ctx.memo.nsg_evaluations,
    )
    trail = [f"admin-rule: {s.rule}" for s in admin.always]
    trail += [f"{layer}: {nsg.name} allows" for layer, nsg, _ in layers if nsg is not None and nsgs.passed]
    passed = nsgs.passed | union(s.addresses for s in admin.always)
    return admin.blocked + nsgs.blocked, passed, trail


def _direct(ctx: _Ctx, end: Endpoint, addresses: IntSet, tag: ServiceTag, notes: list[str]) -> list[Step]:
    query = _query(end, ctx, ctx.port)
    steps, passed, trail = _security(ctx, end, addresses, query)
    if passed:
        steps += _routed(ctx, end, passed, tag, trail, notes)
    return steps


def _routed(
    ctx: _Ctx, end: Endpoint, addresses: IntSet, tag: ServiceTag, trail: list[str], notes: list[str]
) -> list[Step]:
    routes = effective_routes(end, ctx.dataset, addresses, ctx.memo)
    ctx.findings += routes.findings
    notes += routes.notes
    steps: list[Step] = []
    for piece, route in routes.pieces:
        steps += _next_hop(ctx, end, piece, route, tag, [*trail, f"route: {route.describe()}"], notes)
    return steps


def _reach(addresses: IntSet, layer: str, rule: str, resource_id: str, trail: list[str], via: str) -> Step:
    return Step(addresses, "reachable", layer, rule, resource_id, " -> ".join(trail), via=via)


def _next_hop(
    ctx: _Ctx,
    end: Endpoint,
    addresses: IntSet,
    route: Route,
    tag: ServiceTag,
    trail: list[str],
    notes: list[str],
) -> list[Step]:
    rid, label, hop = route.id or (end.route_table or {}).get("id", ""), route.describe(), route.next_hop
    if hop == "VirtualNetworkServiceEndpoint":
        return [_reach(addresses, "route", label, end.subnet_id, trail, "service endpoint")]
    if hop == "None":
        return [
            Step(
                addresses,
                "blocked",
                "route",
                label,
                rid,
                "next hop None drops the traffic",
                _route_fix_for(ctx, end, route, tag, addresses),
            )
        ]
    if hop in ("VnetLocal", "VNetPeering"):
        return [
            Step(
                addresses,
                "blocked",
                "route",
                label,
                rid,
                f"next hop {hop} keeps the traffic inside Azure's virtual network; it never reaches the service",
                _route_fix_for(ctx, end, route, tag, addresses),
            )
        ]
    if hop == "VirtualNetworkGateway":
        return [
            Step(
                addresses,
                "unknown",
                "route",
                label,
                rid,
                "forced tunnel to the VPN/ExpressRoute gateway: on-premises egress is not evaluated",
                _route_fix_for(ctx, end, route, tag, addresses),
            )
        ]
    if hop == "VirtualAppliance":
        firewall = firewall_at(ctx.topo, route.next_hop_ip)
        if firewall is None:
            nic = find_nic_by_ip(ctx.topo, route.next_hop_ip)
            what = f"network interface {nic['id']}" if nic is not None else "not in the input"
            return [
                Step(
                    addresses,
                    "unknown",
                    "route",
                    label,
                    rid,
                    f"appliance {route.next_hop_ip} ({what}), not evaluated",
                    _route_fix_for(ctx, end, route, tag, addresses),
                )
            ]
        result = evaluate_firewall(
            ctx.topo,
            firewall,
            addresses,
            source_ip=end.ip,
            port=ctx.port,
            protocol=ctx.protocol,
            service=tag.base.lower(),
            cloud=ctx.cloud,
            dataset=ctx.dataset,
            vnet=end.vnet_prefixes,
            fix=_firewall_fix(ctx, end, firewall, route.next_hop_ip),
            resolver=ctx.memo.resolver(end.vnet_prefixes),
        )
        ctx.findings += result.findings
        notes += result.notes
        out = []
        for step in result.steps:
            if step.outcome == "reachable":
                out.append(
                    _reach(
                        step.addresses,
                        step.layer,
                        step.rule,
                        step.resource_id,
                        [*trail, f"firewall: {step.rule}"],
                        step.via,
                    )
                )
            else:
                out.append(step)
        return out
    if hop == "Internet":
        return _outbound(ctx, end, addresses, label, trail, notes)
    return [Step(addresses, "unknown", "route", label, rid, f"next hop {hop} is not evaluated")]


def _outbound(
    ctx: _Ctx, end: Endpoint, addresses: IntSet, label: str, trail: list[str], notes: list[str]
) -> list[Step]:
    method = outbound_method(ctx.topo, end)
    notes += method.notes
    if method.unknown:
        return [Step(addresses, "unknown", "outbound", "", end.subnet_id, method.unknown)]
    if method.method:
        return [
            _reach(
                addresses,
                "outbound",
                method.describe(),
                method.id or end.subnet_id,
                [*trail, f"outbound: {method.describe()}"],
                method.describe(),
            )
        ]
    steps: list[Step] = []
    # Microsoft keeps same-region Azure Storage reachable from a private subnet (default outbound access docs).
    try:
        storage = ctx.dataset.regional("Storage", end.region)
        same_region = addresses & ctx.memo.tag_set(storage)
    except EgressError:
        same_region = EMPTY
    if same_region:
        steps.append(
            _reach(
                same_region,
                "outbound",
                f"same-region {storage.name}",
                end.subnet_id,
                [*trail, "outbound: same-region Azure Storage from a private subnet"],
                "private subnet, same-region Storage",
            )
        )
    rest = addresses - same_region
    if rest:
        steps.append(
            Step(
                rest,
                "blocked",
                "outbound",
                "no outbound path",
                end.subnet_id,
                f"{label} sends it to the Internet, but the subnet is private (defaultOutboundAccess false) "
                "and has no NAT gateway, the NIC no public IP and no load balancer outbound rule",
                _outbound_fix(end),
            )
        )
    return steps


# --- the proxy path -----------------------------------------------------------------------------------------------


def _proxy_fix(ctx: _Ctx, proxy_end: Endpoint, proxy: Proxy, nsg: Nsg | None) -> str:
    if nsg is None:
        return ""
    target = f"azure:{nsg.id}" if nsg.id else nsg.name
    return (
        f"egress apply --target {target} --option proxy --for proxy --proxy-ip {proxy.ip} "
        f"--proxy-port {proxy.port} --region {proxy_end.region}"
    )


def _via_proxy(
    ctx: _Ctx, end: Endpoint, proxy: Proxy, addresses: IntSet, tag: ServiceTag, notes: list[str]
) -> list[Step]:
    """VM -> proxy (admin rules, NSGs, route), proxy inbound, then the proxy VM's own direct path to the tag."""
    target = address_set(proxy.ip)
    leg = _query(end, ctx, proxy.port)
    blocked, _, _ = _security(ctx, end, target, leg)
    if blocked:
        step = blocked[0]
        return [
            Step(
                addresses,
                "blocked",
                step.layer,
                step.rule,
                step.resource_id,
                f"the VM cannot reach the proxy {proxy.ip}:{proxy.port}: {step.detail}",
                _proxy_vm_fix(ctx, end, proxy, step),
            )
        ]
    routes = effective_routes(end, ctx.dataset, target, ctx.memo)
    for _, route in routes.pieces:
        if route.next_hop == "None":
            return [
                Step(
                    addresses,
                    "blocked",
                    "route",
                    route.describe(),
                    route.id,
                    f"no route to the proxy {proxy.ip}",
                    f"change route {route.name} of {(end.route_table or {}).get('id', '')}: it drops traffic to "
                    "the proxy"
                    if route.origin == "User"
                    else f"{proxy.ip} is outside VNet {end.vnet_id} and its peerings: peer the proxy's VNet, "
                    "or give --proxy the proxy's address",
                )
            ]
        if route.next_hop not in ("VnetLocal", "VNetPeering"):
            return [
                Step(
                    addresses,
                    "unknown",
                    "route",
                    route.describe(),
                    route.id,
                    f"the route to the proxy {proxy.ip} leaves the VNet (next hop {route.next_hop}); not evaluated",
                )
            ]
    nic = find_nic_by_ip(ctx.topo, proxy.ip)
    if nic is None:
        return [
            Step(
                addresses,
                "unknown",
                "proxy",
                proxy.ip,
                "",
                f"no network interface with {proxy.ip} in the input",
            )
        ]
    proxy_end = endpoint(ctx.topo, nic)
    proxy_end.region = proxy_end.region or end.region
    if not proxy_end.known:
        return [
            Step(
                addresses,
                "unknown",
                "proxy",
                proxy_end.name,
                proxy_end.id,
                "proxy VM: missing " + "; ".join(proxy_end.missing),
            )
        ]
    inbound = _query(proxy_end, ctx, proxy.port, "Inbound", source=end.ip)
    blocked, _, _ = _security(ctx, proxy_end, target, inbound, inbound=True)
    if blocked:
        step = blocked[0]
        return [
            Step(
                addresses,
                "blocked",
                "proxy",
                f"{step.layer}: {step.rule}",
                step.resource_id,
                f"the proxy VM {proxy_end.name} does not accept {proxy.port}/tcp from the VM: {step.detail}",
                _proxy_fix(ctx, proxy_end, proxy, _nsg_by_id(proxy_end, step.resource_id)),
            )
        ]
    out: list[Step] = []
    for step in _direct(ctx, proxy_end, addresses, tag, notes):
        if step.outcome == "reachable":
            out.append(
                Step(
                    step.addresses,
                    "reachable",
                    "proxy",
                    f"{proxy_end.name} ({proxy.ip}:{proxy.port})",
                    proxy_end.id,
                    step.detail,
                    via=f"proxy {proxy.ip}:{proxy.port}, then {step.via}",
                )
            )
            continue
        fix = step.fix
        if step.layer in ("nic-nsg", "subnet-nsg"):
            fix = _proxy_fix(ctx, proxy_end, proxy, _nsg_by_id(proxy_end, step.resource_id))
        out.append(
            Step(
                step.addresses,
                step.outcome,
                "proxy",
                f"{step.layer}: {step.rule}",
                step.resource_id,
                f"the proxy VM {proxy_end.name}: {step.detail}",
                fix,
            )
        )
    return out


def _nsg_by_id(end: Endpoint, resource_id: str) -> Nsg | None:
    for nsg in (end.nic_nsg, end.subnet_nsg):
        if nsg is not None and (nsg.id or nsg.name) == resource_id:
            return nsg
    return None


def _proxy_vm_fix(ctx: _Ctx, end: Endpoint, proxy: Proxy, step: Step) -> str:
    nsg = _nsg_by_id(end, step.resource_id)
    if nsg is None:
        return step.fix
    target = f"azure:{nsg.id}" if nsg.id else nsg.name
    return (
        f"egress apply --target {target} --option proxy --proxy-ip {proxy.ip} --proxy-port {proxy.port} "
        f"--region {end.region}"
    )


def parse_proxy(value: str) -> Proxy:
    """`IP:PORT` (IPv6 as `[IP]:PORT`)."""
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.rpartition(":")
    try:
        version, _, length = parse_network(host)
    except ValueError:
        raise UsageError(
            f"--proxy {value!r}: give the proxy VM's private IP and port, e.g. 10.0.0.5:3128."
        ) from None
    if length != (32 if version == 4 else 128) or "/" in host:
        raise UsageError(f"--proxy {value!r}: give one IP address, not a prefix.")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise UsageError(f"--proxy {value!r}: the port must be a number from 1 to 65535.")
    return Proxy(host, int(port_text))
