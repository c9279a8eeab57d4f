"""How traffic whose route says `Internet` leaves Azure: the subnet's or NIC's outbound method.

In Azure's order of precedence: a NAT gateway on the subnet, an instance-level public IP on the NIC's IP
configuration, a load balancer outbound rule for a backend pool the NIC is in, and last default outbound access —
available unless the subnet is private (`defaultOutboundAccess: false`). A NIC's own
`defaultOutboundConnectivityEnabled`, when present, is what the VM really has (a subnet made private applies to a
VM only after it is stopped and deallocated). None of these: no outbound path, except that Microsoft keeps Azure
Storage of the VM's own region reachable from private subnets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from egress.core.path.topology import (
    LOAD_BALANCER,
    NAT_GATEWAY,
    PUBLIC_IP,
    Endpoint,
    Topology,
    key,
    last_segment,
    props,
    ref_id,
)


@dataclass
class Outbound:
    method: str = ""  # nat-gateway | public-ip | lb-outbound-rule | default-outbound-access; "" = none
    name: str = ""
    id: str = ""
    unknown: str = ""  # set when the input lacks what decides it
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        words = {
            "nat-gateway": "NAT gateway",
            "public-ip": "instance public IP",
            "lb-outbound-rule": "load balancer outbound rule",
            "default-outbound-access": "default outbound access",
        }
        return f"{words.get(self.method, self.method)} {self.name}".strip()


def _has_ips(resource: Mapping[str, Any]) -> bool:
    p = props(resource)
    return any(
        isinstance(p.get(k), list) and p.get(k)
        for k in ("publicIpAddresses", "publicIpPrefixes", "publicIpAddressesV6", "publicIpPrefixesV6")
    )


def outbound_method(topo: Topology, end: Endpoint) -> Outbound:
    nat_id = ref_id(props(end.subnet).get("natGateway"))
    if nat_id:
        nat = topo.get(nat_id, NAT_GATEWAY)
        if nat is None:
            return Outbound(unknown=f"NAT gateway {nat_id} is not in the input")
        if _has_ips(nat):
            return Outbound("nat-gateway", str(nat.get("name") or last_segment(nat_id)), nat_id)
        note = f"NAT gateway {nat_id} has no public IP address or prefix, so it gives no outbound path"
        out = _after_nat(topo, end)
        out.notes.insert(0, note)
        return out
    return _after_nat(topo, end)


def _after_nat(topo: Topology, end: Endpoint) -> Outbound:
    pip_id = ref_id(props(end.ipconfig).get("publicIPAddress"))
    if pip_id:
        pip = topo.get(pip_id, PUBLIC_IP)
        if pip is None:
            return Outbound(unknown=f"public IP address {pip_id} is not in the input")
        return Outbound("public-ip", str(pip.get("name") or last_segment(pip_id)), pip_id)
    pools = props(end.ipconfig).get("loadBalancerBackendAddressPools")
    for pool in pools if isinstance(pools, list) else []:
        pool_id = ref_id(pool)
        if not pool_id or "/backendaddresspools/" not in pool_id.lower():
            continue
        lb_id = pool_id[: pool_id.lower().rfind("/backendaddresspools/")]
        lb = topo.get(lb_id, LOAD_BALANCER)
        if lb is None:
            return Outbound(unknown=f"load balancer {lb_id} (backend pool of the NIC) is not in the input")
        rules = props(lb).get("outboundRules")
        for rule in rules if isinstance(rules, list) else []:
            rule_pool = ref_id(props(rule).get("backendAddressPool")) if isinstance(rule, Mapping) else None
            if rule_pool and key(rule_pool) == key(pool_id):
                name = str(rule.get("name") or "outbound rule")
                return Outbound("lb-outbound-rule", f"{lb.get('name') or last_segment(lb_id)}/{name}", lb_id)
    subnet_private = props(end.subnet).get("defaultOutboundAccess") is False
    nic_flag = props(end.nic).get("defaultOutboundConnectivityEnabled")
    notes: list[str] = []
    if isinstance(nic_flag, bool):
        active = nic_flag
        if nic_flag and subnet_private:
            notes.append(
                "the subnet is private but the VM keeps default outbound access until it is stopped and deallocated"
            )
    else:
        active = not subnet_private
    if active:
        retired = (
            "default outbound access is retired for new VNets (private subnets by default from 2026-03-31); "
            "give the subnet an explicit outbound method"
        )
        return Outbound("default-outbound-access", notes=[*notes, retired])
    return Outbound(notes=notes)
