"""The double's topology store through the real azure-mgmt-network client (and plain HTTP for VMs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient

from tests.armdouble import ArmDouble
from tests.armdouble.estate import FIREWALL_IP, seed_estate
from tests.armdouble.topology import resource_type_of

SUB = "00000000-0000-0000-0000-0000000000aa"


@pytest.fixture
def network(arm_double: ArmDouble, fake_credential: Any) -> Iterator[NetworkManagementClient]:
    client = NetworkManagementClient(
        fake_credential,
        SUB,
        base_url=arm_double.base_url,
        credential_scopes=["https://management.azure.com/.default"],
        connection_verify=arm_double.ca_path,
    )
    yield client
    client.close()


def raw(op: Any, *args: Any, **kwargs: Any) -> Any:
    return op(*args, cls=lambda pipeline_response, *_: pipeline_response.http_response.json(), **kwargs)


def test_every_resource_reads_back_through_the_sdk(
    arm_double: ArmDouble, network: NetworkManagementClient
) -> None:
    est = seed_estate(arm_double, SUB, vms=2, vnets=1, public_ip_every=1)
    for rid in est.vnets + est.nics + est.others + est.policies:
        assert raw_get(network, rid) == arm_double.topology.get(rid), rid
    subnet = network.subnets.get("rg-net", "vnet-0", "workload")
    assert subnet.route_table.id.endswith("/routeTables/rt-0") and subnet.default_outbound_access is False
    assert [s.name for s in network.subnets.list("rg-net", "vnet-0")] == ["workload"]
    fw = network.azure_firewalls.get("rg-net", "fw-hub")
    assert fw.ip_configurations[0].private_ip_address == FIREWALL_IP
    policy = network.firewall_policies.get("rg-net", "fwp-hub")
    assert [g.id for g in policy.rule_collection_groups] == [est.rule_collection_groups[0]]  # read-only list
    group = network.firewall_policy_rule_collection_groups.get("rg-net", "fwp-hub", "backup")
    assert group.rule_collections[0].rules[0].fqdn_tags == ["AzureBackup"]
    lb = network.load_balancers.get("rg-app", "lb-out")
    assert lb.outbound_rules[0].name == "out"


def raw_get(network: NetworkManagementClient, rid: str) -> Any:
    rg = rid.split("/")[4]
    name = rid.rsplit("/", 1)[-1]
    ops = {
        "Microsoft.Network/virtualNetworks": network.virtual_networks,
        "Microsoft.Network/networkInterfaces": network.network_interfaces,
        "Microsoft.Network/natGateways": network.nat_gateways,
        "Microsoft.Network/publicIPAddresses": network.public_ip_addresses,
        "Microsoft.Network/loadBalancers": network.load_balancers,
        "Microsoft.Network/azureFirewalls": network.azure_firewalls,
        "Microsoft.Network/routeTables": network.route_tables,
        "Microsoft.Network/firewallPolicies": network.firewall_policies,
    }
    if resource_type_of(rid) == "Microsoft.Network/networkSecurityGroups":
        return None
    return raw(ops[resource_type_of(rid)].get, rg, name)


def test_vm_get_and_404s(arm_double: ArmDouble, network: NetworkManagementClient) -> None:
    est = seed_estate(arm_double, SUB, vms=1)
    s = requests.Session()
    s.trust_env = False
    got = s.get(
        f"{arm_double.base_url}{est.vms[0]}?api-version=2024-07-01",
        headers={"Authorization": "Bearer t"},
        verify=arm_double.ca_path,
    )
    assert (
        got.status_code == 200
        and got.json()["properties"]["networkProfile"]["networkInterfaces"][0]["id"] == est.nics[0]
    )
    with pytest.raises(ResourceNotFoundError, match="ResourceNotFound"):
        network.virtual_networks.get("rg-net", "nope")
    with pytest.raises(ResourceNotFoundError):
        network.subnets.get("rg-net", "vnet-0", "nope")
    with pytest.raises(ResourceNotFoundError):  # a NIC's name asked as a VNet
        network.virtual_networks.get("rg-app", "vm-0-nic")


def test_rule_collection_groups_page_with_next_link(
    arm_double: ArmDouble, network: NetworkManagementClient
) -> None:
    seed_estate(arm_double, SUB, vms=1)
    policy = (
        f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/firewallPolicies/fwp-hub"
    )
    for n in range(4):
        arm_double.topology.seed(
            {"id": f"{policy}/ruleCollectionGroups/extra-{n}", "properties": {"priority": 300 + n}}
        )
    arm_double.topology.rcg_page_size = 2
    names = [g.name for g in network.firewall_policy_rule_collection_groups.list("rg-net", "fwp-hub")]
    assert names == ["backup", "extra-0", "extra-1", "extra-2", "extra-3"]
    assert arm_double.count("GET", "rcg-list") == 3


def test_admin_rules_pages_and_top_range(arm_double: ArmDouble, network: NetworkManagementClient) -> None:
    est = seed_estate(arm_double, SUB, vms=1, admin_rules=3)
    op = network.list_network_manager_effective_security_admin_rules
    page = raw(op, "rg-net", "vnet-0", {}, top=2)
    assert page["value"] == est.admin_rules[est.vnets[0]][:2] and page["skipToken"]
    rest = raw(op, "rg-net", "vnet-0", {"skipToken": page["skipToken"]}, top=2)
    assert rest["value"] == est.admin_rules[est.vnets[0]][2:] and "skipToken" not in rest
    assert raw(op, "rg-net", "vnet-0", {})["value"] == est.admin_rules[est.vnets[0]]
    model = op("rg-net", "vnet-0", {}, top=20)  # the SDK's own model reads the double's answer
    assert [r.kind for r in model.value] == ["Custom"] * 3
    assert model.value[0].access == "AlwaysAllow"
    for top in (0, 21):
        with pytest.raises(HttpResponseError, match="InvalidParameter"):
            op("rg-net", "vnet-0", {}, top=top)
    with pytest.raises(HttpResponseError, match="InvalidSkipToken"):
        op("rg-net", "vnet-0", {"skipToken": "garbage"})
    with pytest.raises(ResourceNotFoundError):
        op("rg-net", "vnet-none", {})
    assert raw(op, "rg-net", "vnet-hub", {})["value"] == []  # a VNet no admin rule applies to
