"""Hand-built topologies in the REST shapes of Microsoft's API spec, starting from Microsoft's own examples.

Each resource begins as the body of an example response from tests/data/microsoft/reference (a VNet GET, a NIC
GET, a route table GET, a NAT gateway GET, a public IP GET, a firewall rule collection group GET, the effective
admin rules list) and is changed only where a scenario needs it. One VM, `vm1`, in East US.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from tests.conftest import REFERENCE

SPEC = REFERENCE / "azure-rest-spec-2025-05-01"
SUB = "/subscriptions/subid/resourceGroups/rg1/providers"
VNET_ID = f"{SUB}/Microsoft.Network/virtualNetworks/rg1-vnet"
SUBNET_ID = f"{VNET_ID}/subnets/default"
NIC_ID = f"{SUB}/Microsoft.Network/networkInterfaces/test-nic"
VM_ID = f"{SUB}/Microsoft.Compute/virtualMachines/vm1"
NIC_NSG_ID = f"{SUB}/Microsoft.Network/networkSecurityGroups/nsg"
SUBNET_NSG_ID = f"{SUB}/Microsoft.Network/networkSecurityGroups/subnet-nsg"
RT_ID = f"{SUB}/Microsoft.Network/routeTables/testrt"
NAT_ID = f"{SUB}/Microsoft.Network/natGateways/test-natGateway"
PIP_ID = f"{SUB}/Microsoft.Network/publicIPAddresses/testDNS-ip"  # Microsoft's PublicIpAddressGet example
FW_ID = f"{SUB}/Microsoft.Network/azureFirewalls/fw1"
POLICY_ID = f"{SUB}/Microsoft.Network/firewallPolicies/firewallPolicy"
VM_IP = "10.0.1.4"
FW_IP = "10.0.9.4"


@cache
def _example(relative: str) -> str:
    return (SPEC / relative).read_text()


def example(relative: str, status: str = "200") -> dict[str, Any]:
    """A fresh copy of one response body of one of Microsoft's example files."""
    return copy.deepcopy(json.loads(_example(relative))["responses"][status]["body"])


def vnet(default_outbound: bool | None = None, **subnet_props: Any) -> dict[str, Any]:
    doc = example("2026-01-01/examples/VirtualNetworkGet.json")
    doc["id"], doc["name"], doc["location"] = VNET_ID, "rg1-vnet", "eastus"
    doc["properties"].pop("defaultPublicNatGateway")
    subnet = doc["properties"]["subnets"][0]
    subnet["id"], subnet["name"] = SUBNET_ID, "default"
    subnet["properties"].pop("ipConfigurations")
    if default_outbound is not None:
        subnet["properties"]["defaultOutboundAccess"] = default_outbound
    subnet["properties"].update(subnet_props)
    firewall_subnet = copy.deepcopy(subnet)
    firewall_subnet["id"], firewall_subnet["name"] = (
        f"{VNET_ID}/subnets/AzureFirewallSubnet",
        "AzureFirewallSubnet",
    )
    firewall_subnet["properties"] = {"addressPrefix": "10.0.9.0/26"}
    doc["properties"]["subnets"].append(firewall_subnet)
    return doc


def nic(
    *, nsg: bool = True, public_ip: bool = False, ip: str = VM_IP, nic_id: str = NIC_ID, vm_id: str = VM_ID
) -> dict[str, Any]:
    doc = example("2026-01-01/examples/NetworkInterfaceGet.json")
    doc["id"], doc["name"] = nic_id, nic_id.rsplit("/", 1)[-1]
    props = doc["properties"]
    props["ipConfigurations"] = props["ipConfigurations"][:1]
    config = props["ipConfigurations"][0]
    config["id"] = f"{nic_id}/ipConfigurations/ipconfig1"
    config["properties"]["privateIPAddress"] = ip
    config["properties"]["subnet"]["id"] = SUBNET_ID
    if public_ip:
        config["properties"]["publicIPAddress"]["id"] = PIP_ID
    else:
        config["properties"].pop("publicIPAddress")
    if not nsg:
        props.pop("networkSecurityGroup")
    props["virtualMachine"]["id"] = vm_id
    return doc


def vm(name: str = "vm1", nic_id: str = NIC_ID) -> dict[str, Any]:
    return {
        "id": f"{SUB}/Microsoft.Compute/virtualMachines/{name}",
        "name": name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "eastus",
        "properties": {
            "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]}
        },
    }


def nsg(nsg_id: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": nsg_id,
        "name": nsg_id.rsplit("/", 1)[-1],
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "eastus",
        "properties": {"securityRules": list(rules)},
    }


def rule(
    name: str,
    priority: int,
    access: str,
    dest: str,
    port: str = "443",
    *,
    direction: str = "Outbound",
    source: str = "*",
    protocol: str = "Tcp",
) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "priority": priority,
            "access": access,
            "direction": direction,
            "protocol": protocol,
            "sourceAddressPrefix": source,
            "sourcePortRange": "*",
            "destinationAddressPrefix": dest,
            "destinationPortRange": port,
        },
    }


def route_table(*routes: tuple[str, str, str, str]) -> dict[str, Any]:
    """routes: (name, addressPrefix, nextHopType, nextHopIpAddress or "")."""
    doc = example("2026-01-01/examples/RouteTableGet.json")
    template = doc["properties"]["routes"][0]
    doc["properties"]["routes"] = []
    for name, prefix, hop, ip in routes:
        item = copy.deepcopy(template)
        item["name"], item["id"] = name, f"{RT_ID}/routes/{name}"
        item["properties"].update(addressPrefix=prefix, nextHopType=hop)
        if ip:
            item["properties"]["nextHopIpAddress"] = ip
        doc["properties"]["routes"].append(item)
    return doc


def nat_gateway() -> dict[str, Any]:
    doc = example("examples/NatGatewayGet.json")
    doc["properties"]["subnets"] = [{"id": SUBNET_ID}]
    return doc


def public_ip() -> dict[str, Any]:
    doc = example("2026-01-01/examples/PublicIpAddressGet.json")
    doc["properties"]["ipConfiguration"]["id"] = f"{NIC_ID}/ipConfigurations/ipconfig1"
    return doc


def admin_rules(*rules: tuple[str, str, int, str, str]) -> dict[str, Any]:
    """rules: (name, access, priority, destination prefix, its addressPrefixType); Outbound TCP 443."""
    sample = example("2026-01-01/examples/NetworkManagerEffectiveSecurityAdminRulesList.json")["value"][0]
    items = []
    for name, access, priority, dest, kind in rules:
        item = copy.deepcopy(sample)
        item["id"] = item["id"].rsplit("/", 1)[0] + "/" + name
        item["kind"] = "Custom"
        item["properties"].pop("flag")
        item["properties"].update(
            access=access,
            priority=priority,
            direction="Outbound",
            destinations=[{"addressPrefixType": kind, "addressPrefix": dest}],
            destinationPortRanges=["443"],
        )
        items.append(item)
    return {
        "id": f"{VNET_ID}/listNetworkManagerEffectiveSecurityAdminRules",
        "type": "Microsoft.Network/virtualNetworks/listNetworkManagerEffectiveSecurityAdminRules",
        "name": "rg1-vnet",
        "properties": {"virtualNetworkId": VNET_ID, "value": items},
    }


def firewall(*, policy: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": FW_ID,
        "name": "fw1",
        "type": "Microsoft.Network/azureFirewalls",
        "location": "eastus",
        "properties": {
            "ipConfigurations": [
                {
                    "name": "ipconfig",
                    "properties": {
                        "privateIPAddress": FW_IP,
                        "subnet": {"id": f"{VNET_ID}/subnets/AzureFirewallSubnet"},
                    },
                }
            ],
        },
    }
    if policy:
        doc["properties"]["firewallPolicy"] = {"id": POLICY_ID}
    return doc


def firewall_policy(*groups: str) -> dict[str, Any]:
    return {
        "id": POLICY_ID,
        "name": "firewallPolicy",
        "type": "Microsoft.Network/firewallPolicies",
        "location": "eastus",
        "properties": {
            "ruleCollectionGroups": [{"id": f"{POLICY_ID}/ruleCollectionGroups/{g}"} for g in groups]
        },
    }


def rule_collection_group(name: str, priority: int, *collections: dict[str, Any]) -> dict[str, Any]:
    """Microsoft's RCG GET example, renamed, with the given filter collections (type added: ARM list shape)."""
    doc = example("2026-01-01/examples/FirewallPolicyRuleCollectionGroupGet.json")
    doc["id"], doc["name"] = f"{POLICY_ID}/ruleCollectionGroups/{name}", name
    doc["type"] = "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
    doc["properties"]["priority"] = priority
    doc["properties"]["ruleCollections"] = list(collections)
    return doc


def filter_collection(name: str, priority: int, action: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
        "name": name,
        "priority": priority,
        "action": {"type": action},
        "rules": list(rules),
    }


def app_rule(name: str, *, fqdn_tags: list[str] = (), targets: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "ruleType": "ApplicationRule",
        "name": name,
        "sourceAddresses": ["10.0.0.0/16"],
        "protocols": [{"protocolType": "Https", "port": 443}],
        "fqdnTags": list(fqdn_tags),
        "targetFqdns": list(targets),
    }


def network_rule(name: str, destinations: list[str], ports: list[str] = ["443"]) -> dict[str, Any]:  # noqa: B006
    return {
        "ruleType": "NetworkRule",
        "name": name,
        "sourceAddresses": ["10.0.0.0/16"],
        "destinationAddresses": destinations,
        "ipProtocols": ["TCP"],
        "destinationPorts": ports,
    }


def base(
    *,
    nic_nsg: list[dict[str, Any]] | None = None,
    subnet_nsg: list[dict[str, Any]] | None = None,
    public: bool = False,
    default_outbound: bool | None = None,
    **subnet_props: Any,
) -> list[dict[str, Any]]:
    """vm1 + its NIC + the VNet; NSGs on NIC and/or subnet when rules are given."""
    if subnet_nsg is not None:
        subnet_props["networkSecurityGroup"] = {"id": SUBNET_NSG_ID}
    resources = [vm(), nic(nsg=nic_nsg is not None, public_ip=public), vnet(default_outbound, **subnet_props)]
    if nic_nsg is not None:
        resources.append(nsg(NIC_NSG_ID, *nic_nsg))
    if subnet_nsg is not None:
        resources.append(nsg(SUBNET_NSG_ID, *subnet_nsg))
    return resources


def write(tmp: Path, resources: list[dict[str, Any]]) -> Path:
    path = tmp / "resources.json"
    path.write_text(json.dumps(resources, indent=1))
    return path
