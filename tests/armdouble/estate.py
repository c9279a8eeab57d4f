"""Seed the ARM double with a VM estate in the REST shapes of Microsoft's specs (the `*Get.json` examples).

`seed_estate(double, subscription, vms=N, vnets=K, ...)` builds, in one subscription:
- K spoke VNets `vnet-<k>` (10.k.0.0/16) in `rg-net`, each with a subnet `workload` (10.k.1.0/24) that has an NSG
  (`nsg-<k>`, the double's NSG store), a route table (`rt-<k>`: 0.0.0.0/0 -> VirtualAppliance, the firewall) and
  `defaultOutboundAccess: false`; the first spoke's subnet also has a NAT gateway with its public IP;
- a hub VNet `vnet-hub` with `AzureFirewallSubnet`, an Azure Firewall `fw-hub` (private IP 10.255.1.4) using the
  firewall policy `fwp-hub`, which inherits from `fwp-base`; each policy has one rule collection group (the
  hub's allows the `AzureBackup` FQDN tag over https);
- N VMs `vm-<n>` in `rg-app`, each with one NIC `vm-<n>-nic` in a spoke (round robin); every `public_ip_every`th
  NIC gets an instance-level public IP; a load balancer `lb-out` with an outbound rule;
- `admin_rules` effective admin rules per spoke VNet (Virtual Network Manager), the first an AlwaysAllow to
  AzureBackup on 443;
- Recovery Services protected items (vault `rsv-1`) for the VMs whose index is in `protected`.
Everything returned in `Estate` (ids), so tests can assert exactly what a topology must hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.armdouble.server import ArmDouble

FIREWALL_IP = "10.255.1.4"


def rid(sub: str, rg: str, rtype: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{rtype}/{name}"


@dataclass
class Estate:
    subscription: str
    vms: list[str] = field(default_factory=list)
    nics: list[str] = field(default_factory=list)
    vnets: list[str] = field(default_factory=list)  # spokes, then the hub
    nsgs: list[str] = field(default_factory=list)
    others: list[str] = field(
        default_factory=list
    )  # route tables, NAT gateway, public IPs, LB, firewall, policies
    policies: list[str] = field(default_factory=list)  # the ones in use: hub, then its base
    rule_collection_groups: list[str] = field(default_factory=list)
    admin_rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # spoke VNet id -> items
    protected: list[str] = field(default_factory=list)

    @property
    def graph_ids(self) -> list[str]:
        """Every id the topology query must return (Resources rows), sorted as Graph orders them."""
        ids = [*self.vms, *self.nics, *self.vnets, *self.nsgs, *self.others, *self.policies]
        return sorted(ids)


def admin_rule(vnet_mgr: str, n: int, *, access: str = "Deny", tag: str = "AzureBackup") -> dict[str, Any]:
    """One item of listNetworkManagerEffectiveSecurityAdminRules (kind Custom), as Microsoft's example."""
    return {
        "id": f"{vnet_mgr}/securityAdminConfigurations/cfg/ruleCollections/rc/rules/rule-{n}",
        "configurationDescription": "egress test configuration",
        "ruleCollectionDescription": "egress test rules",
        "ruleCollectionAppliesToGroups": [{"networkGroupId": f"{vnet_mgr}/networkGroups/spokes"}],
        "ruleGroups": [
            {"id": f"{vnet_mgr}/networkGroups/spokes", "properties": {"description": "spokes"}},
        ],
        "kind": "Custom",
        "properties": {
            "description": f"rule {n}",
            "protocol": "Tcp",
            "sources": [{"addressPrefixType": "IPPrefix", "addressPrefix": "*"}],
            "destinations": [{"addressPrefixType": "ServiceTag", "addressPrefix": tag}],
            "sourcePortRanges": ["0-65535"],
            "destinationPortRanges": ["443"],
            "direction": "Outbound",
            "access": access,
            "priority": n + 1,
            "provisioningState": "Succeeded",
        },
    }


def seed_estate(
    double: ArmDouble,
    subscription: str,
    *,
    vms: int = 3,
    vnets: int = 1,
    admin_rules: int = 1,
    public_ip_every: int = 0,
    protected: Iterable[int] = (),
    location: str = "eastus",
) -> Estate:
    sub = subscription
    est = Estate(sub)
    store = double.topology
    net, app = "rg-net", "rg-app"
    mgr = rid(sub, net, "Microsoft.Network/networkManagers", "avnm")

    hub = rid(sub, net, "Microsoft.Network/virtualNetworks", "vnet-hub")
    fw = rid(sub, net, "Microsoft.Network/azureFirewalls", "fw-hub")
    fw_pip = rid(sub, net, "Microsoft.Network/publicIPAddresses", "fw-hub-pip")
    policy = rid(sub, net, "Microsoft.Network/firewallPolicies", "fwp-hub")
    base = rid(sub, net, "Microsoft.Network/firewallPolicies", "fwp-base")
    nat = rid(sub, net, "Microsoft.Network/natGateways", "nat-1")
    nat_pip = rid(sub, net, "Microsoft.Network/publicIPAddresses", "nat-1-pip")
    lb = rid(sub, app, "Microsoft.Network/loadBalancers", "lb-out")
    lb_pip = rid(sub, app, "Microsoft.Network/publicIPAddresses", "lb-out-pip")

    spokes: list[tuple[str, str]] = []  # (vnet id, subnet id)
    for k in range(vnets):
        vnet = rid(sub, net, "Microsoft.Network/virtualNetworks", f"vnet-{k}")
        nsg = rid(sub, net, "Microsoft.Network/networkSecurityGroups", f"nsg-{k}")
        rt = rid(sub, net, "Microsoft.Network/routeTables", f"rt-{k}")
        subnet = f"{vnet}/subnets/workload"
        double.seed_nsg(nsg, {"location": location, "properties": {"securityRules": []}})
        store.seed(
            {
                "id": rt,
                "location": location,
                "properties": {
                    "disableBgpRoutePropagation": False,
                    "routes": [
                        {
                            "name": "default-to-firewall",
                            "id": f"{rt}/routes/default-to-firewall",
                            "properties": {
                                "addressPrefix": "0.0.0.0/0",
                                "nextHopType": "VirtualAppliance",
                                "nextHopIpAddress": FIREWALL_IP,
                                "provisioningState": "Succeeded",
                            },
                        }
                    ],
                    "subnets": [{"id": subnet}],
                },
            }
        )
        subnet_props: dict[str, Any] = {
            "addressPrefix": f"10.{k}.1.0/24",
            "networkSecurityGroup": {"id": nsg},
            "routeTable": {"id": rt},
            "defaultOutboundAccess": False,
            "serviceEndpoints": [],
        }
        if k == 0:
            subnet_props["natGateway"] = {"id": nat}
        store.seed(
            {
                "id": vnet,
                "location": location,
                "properties": {
                    "addressSpace": {"addressPrefixes": [f"10.{k}.0.0/16"]},
                    "subnets": [{"name": "workload", "properties": subnet_props}],
                    "virtualNetworkPeerings": [],
                },
            }
        )
        rules = [admin_rule(mgr, n, access="AlwaysAllow" if n == 0 else "Deny") for n in range(admin_rules)]
        store.seed_admin_rules(vnet, rules)
        est.admin_rules[vnet] = rules
        est.vnets.append(vnet)
        est.nsgs.append(nsg)
        est.others.append(rt)
        spokes.append((vnet, subnet))

    store.seed(
        {
            "id": hub,
            "location": location,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.255.0.0/16"]},
                "subnets": [
                    {"name": "AzureFirewallSubnet", "properties": {"addressPrefix": "10.255.1.0/26"}}
                ],
            },
        }
    )
    est.vnets.append(hub)
    for pip in (fw_pip, nat_pip, lb_pip):
        store.seed(
            {
                "id": pip,
                "location": location,
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {"publicIPAddressVersion": "IPv4", "publicIPAllocationMethod": "Static"},
            }
        )
    store.seed(
        {
            "id": fw,
            "location": location,
            "properties": {
                "sku": {"name": "AZFW_VNet", "tier": "Standard"},
                "ipConfigurations": [
                    {
                        "name": "ipconfig",
                        "id": f"{fw}/azureFirewallIpConfigurations/ipconfig",
                        "properties": {
                            "privateIPAddress": FIREWALL_IP,
                            "subnet": {"id": f"{hub}/subnets/AzureFirewallSubnet"},
                            "publicIPAddress": {"id": fw_pip},
                        },
                    }
                ],
                "firewallPolicy": {"id": policy},
            },
        }
    )
    store.seed({"id": base, "location": location, "properties": {"sku": {"tier": "Standard"}}})
    store.seed(
        {
            "id": policy,
            "location": location,
            "properties": {"sku": {"tier": "Standard"}, "basePolicy": {"id": base}},
        }
    )
    for pol, rcg, rules in (
        (
            policy,
            "backup",
            [
                {
                    "ruleType": "ApplicationRule",
                    "name": "azure-backup",
                    "sourceAddresses": ["10.0.0.0/8"],
                    "fqdnTags": ["AzureBackup"],
                    "protocols": [{"protocolType": "Https", "port": 443}],
                }
            ],
        ),
        (
            base,
            "baseline",
            [
                {
                    "ruleType": "NetworkRule",
                    "name": "deny-ssh-out",
                    "sourceAddresses": ["*"],
                    "destinationAddresses": ["*"],
                    "ipProtocols": ["TCP"],
                    "destinationPorts": ["22"],
                }
            ],
        ),
    ):
        group = f"{pol}/ruleCollectionGroups/{rcg}"
        store.seed(
            {
                "id": group,
                "properties": {
                    "priority": 200,
                    "ruleCollections": [
                        {
                            "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
                            "name": f"{rcg}-collection",
                            "priority": 200,
                            "action": {"type": "Allow" if rcg == "backup" else "Deny"},
                            "rules": rules,
                        }
                    ],
                },
            }
        )
        est.rule_collection_groups.append(group)
    store.seed(
        {
            "id": nat,
            "location": location,
            "sku": {"name": "Standard"},
            "properties": {
                "idleTimeoutInMinutes": 4,
                "publicIpAddresses": [{"id": nat_pip}],
                "subnets": [{"id": spokes[0][1]}] if spokes else [],
            },
        }
    )
    store.seed(
        {
            "id": lb,
            "location": location,
            "sku": {"name": "Standard", "tier": "Regional"},
            "properties": {
                "frontendIPConfigurations": [
                    {
                        "name": "fe",
                        "id": f"{lb}/frontendIPConfigurations/fe",
                        "properties": {"publicIPAddress": {"id": lb_pip}},
                    }
                ],
                "backendAddressPools": [{"name": "be", "id": f"{lb}/backendAddressPools/be"}],
                "outboundRules": [
                    {
                        "name": "out",
                        "id": f"{lb}/outboundRules/out",
                        "properties": {
                            "protocol": "All",
                            "frontendIPConfigurations": [{"id": f"{lb}/frontendIPConfigurations/fe"}],
                            "backendAddressPool": {"id": f"{lb}/backendAddressPools/be"},
                        },
                    }
                ],
            },
        }
    )
    est.others += [fw_pip, nat_pip, lb_pip, fw, nat, lb]
    est.policies += [policy, base]

    vault = rid(sub, app, "Microsoft.RecoveryServices/vaults", "rsv-1")
    wanted = set(protected)
    for n in range(vms):
        vm = rid(sub, app, "Microsoft.Compute/virtualMachines", f"vm-{n}")
        nic = rid(sub, app, "Microsoft.Network/networkInterfaces", f"vm-{n}-nic")
        _, subnet = spokes[n % len(spokes)]
        ipc: dict[str, Any] = {
            "privateIPAddress": f"10.{n % len(spokes)}.1.{4 + n // len(spokes) % 250}",
            "privateIPAllocationMethod": "Dynamic",
            "subnet": {"id": subnet},
            "primary": True,
            "privateIPAddressVersion": "IPv4",
        }
        if public_ip_every and n % public_ip_every == 0:
            pip = rid(sub, app, "Microsoft.Network/publicIPAddresses", f"vm-{n}-pip")
            store.seed(
                {
                    "id": pip,
                    "location": location,
                    "sku": {"name": "Standard"},
                    "properties": {
                        "publicIPAddressVersion": "IPv4",
                        "ipConfiguration": {"id": f"{nic}/ipConfigurations/ipconfig1"},
                    },
                }
            )
            ipc["publicIPAddress"] = {"id": pip}
            est.others.append(pip)
        store.seed(
            {
                "id": nic,
                "location": location,
                "properties": {
                    "ipConfigurations": [
                        {"name": "ipconfig1", "id": f"{nic}/ipConfigurations/ipconfig1", "properties": ipc}
                    ],
                    "virtualMachine": {"id": vm},
                    "enableIPForwarding": False,
                },
            }
        )
        store.seed(
            {
                "id": vm,
                "location": location,
                "properties": {
                    "hardwareProfile": {"vmSize": "Standard_B2s"},
                    "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": True}}]},
                    "storageProfile": {"osDisk": {"osType": "Linux"}},
                },
            }
        )
        est.vms.append(vm)
        est.nics.append(nic)
        if n in wanted:
            store.seed_protected_item(vm, vault)
            est.protected.append(vm)
    return est
