"""The model: inputs in Resource Graph's envelope, several files, admin-rule records, subnets on their own."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from egress.core.model import Dataset
from egress.core.path.topology import build, build_all, vm_endpoint, vms
from egress.core.path.verdict import check_paths
from egress.errors import DataError
from tests.core.path import scenario as s


def graph_answer(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Microsoft's first-page Resource Graph example, with our rows added to its own (a disk, runbooks)."""
    body = s.example("../azure-rest-spec-2025-05-01/resourcegraph/examples/ResourcesFirstPageQuery.json")
    body["data"] += rows
    body["count"] = len(body["data"])
    return body


def test_resource_graph_envelope_and_unrelated_types(dataset: Dataset) -> None:
    topo = build(graph_answer(s.base()), "graph.json")
    assert topo.count("microsoft.compute/disks") == 1  # kept, never read
    report = check_paths(topo, dataset)
    assert [c.verdict for c in report.checks] == ["reachable"] * 3


def test_rule_collection_groups_from_a_second_file(dataset: Dataset) -> None:
    first = s.base(default_outbound=False, routeTable={"id": s.RT_ID})
    first += [
        s.route_table(("fw", "0.0.0.0/0", "VirtualAppliance", s.FW_IP)),
        s.firewall(),
        s.firewall_policy("g"),
    ]
    collection = s.filter_collection("apps", 100, "Allow", s.app_rule("b", fqdn_tags=["AzureBackup"]))
    second = {"data": [s.rule_collection_group("g", 100, collection)]}
    report = check_paths(
        build_all([(first, "topology.json"), (second, "groups.json")]), dataset, tags=["AzureBackup"]
    )
    assert report.checks[0].verdict == "reachable"
    only_first = check_paths(build(first, "topology.json"), dataset, tags=["AzureBackup"])
    assert only_first.checks[0].verdict == "unknown"
    assert only_first.checks[0].deciding().detail == (  # type: ignore[union-attr]
        f"rule collection group {s.POLICY_ID}/ruleCollectionGroups/g is not in the input"
    )


def test_a_resource_given_twice_is_an_error() -> None:
    resources = s.base()
    with pytest.raises(DataError, match="appears twice; give each resource once"):
        build_all([(resources, "a.json"), (copy.deepcopy(resources[:1]), "b.json")])


def test_admin_rules_record_asked_or_not(dataset: Dataset) -> None:
    not_asked = check_paths(build(s.base(), "t"), dataset)
    assert any("Virtual Network Manager security admin rules were not checked" in n for n in not_asked.notes)
    asked = check_paths(build([*s.base(), s.admin_rules()], "t"), dataset)
    assert not any("admin rules were not checked" in n for n in asked.notes)


def test_microsofts_own_admin_rule_example_is_inbound_and_leaves_backup_alone(dataset: Dataset) -> None:
    listed = s.example("2026-01-01/examples/NetworkManagerEffectiveSecurityAdminRulesList.json")
    record = s.admin_rules()
    record["properties"]["value"] = listed["value"]  # kind Default, Inbound Deny tcp/22
    report = check_paths(build([*s.base(), record], "t"), dataset)
    assert [c.verdict for c in report.checks] == ["reachable"] * 3


def test_a_subnet_given_on_its_own_replaces_the_copy_in_its_vnet(dataset: Dataset) -> None:
    subnet = s.example("examples/SubnetGet.json")
    subnet["id"] = s.SUBNET_ID
    subnet["type"] = "Microsoft.Network/virtualNetworks/subnets"
    subnet["properties"]["defaultOutboundAccess"] = False
    topo = build([*s.base(), subnet], "t")
    end = vm_endpoint(topo, vms(topo)[0])
    assert end.subnet["properties"]["defaultOutboundAccess"] is False
    report = check_paths(topo, dataset, tags=["AzureBackup"])
    assert report.checks[0].verdict == "blocked"


def test_vm_without_a_nic_reference_is_unknown(dataset: Dataset) -> None:
    machine = s.vm()
    machine["properties"] = {}
    report = check_paths(build([machine], "t"), dataset)
    assert report.checks[0].missing == [
        "the VM names no network interface (properties.networkProfile.networkInterfaces)"
    ]


def test_vm_names_that_are_ambiguous_need_the_id() -> None:
    other = s.vm()
    other["id"] = other["id"].replace("/rg1/", "/rg2/")
    topo = build([s.vm(), other], "t")
    from egress.errors import UsageError

    with pytest.raises(UsageError, match="names 2 VMs"):
        vms(topo, ["vm1"])
    assert vms(topo, [other["id"].upper()]) == [other]


def test_nics_without_vms_and_a_nic_named_by_id(dataset: Dataset) -> None:
    resources = [r for r in s.base() if r["type"] != "Microsoft.Compute/virtualMachines"]
    report = check_paths(build(resources, "t"), dataset)
    assert {(c.vm, c.vm_id, c.verdict) for c in report.checks} == {("test-nic", s.NIC_ID, "reachable")}
    with_vm = check_paths(build(s.base(), "t"), dataset, vm_names=[s.NIC_ID.lower()])
    assert {(c.vm, c.vm_id) for c in with_vm.checks} == {("vm1", s.VM_ID)}
