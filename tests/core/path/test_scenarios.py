"""One scenario per deciding layer, on topologies built from Microsoft's REST examples and the real weekly data.

Every test asserts the verdict, the deciding layer and the deciding rule (or route, or method) per destination.
"""

from __future__ import annotations

from typing import Any

import pytest

from egress.core.addrset import address_set
from egress.core.model import Dataset
from egress.core.path.steps import union
from egress.core.path.topology import build
from egress.core.path.verdict import Check, PathReport, Proxy, check_paths
from tests.core.path import scenario as s

DENY_INTERNET = s.rule("deny-internet", 4000, "Deny", "Internet", "*")
ALLOW_ALL = s.rule("allow-all", 100, "Allow", "*", "*")


def run(resources: list[dict[str, Any]], dataset: Dataset, **kw: Any) -> PathReport:
    return check_paths(build(resources, "test"), dataset, **kw)


def by_tag(report: PathReport) -> dict[str, Check]:
    return {c.destination: c for c in report.checks}


def decided(check: Check) -> tuple[str, str, str]:
    step = check.deciding()
    assert step is not None
    return check.verdict, step.layer, step.rule


def tag_size(dataset: Dataset, name: str) -> int:
    return union(address_set(p) for p in dataset.get(name).ipv4()).size()


def test_default_destinations_are_the_service_tags_plan_for_the_vms_region(dataset: Dataset) -> None:
    report = run(s.base(), dataset)
    checks = by_tag(report)
    assert list(checks) == ["Storage.EastUS", "AzureBackup", "AzureActiveDirectory"]
    for check in checks.values():
        assert check.verdict == "reachable"
        assert (check.port, check.protocol, check.ip) == (443, "Tcp", s.VM_IP)
        assert check.total == tag_size(dataset, check.destination)  # every IPv4 address of the tag
        assert check.deciding().via == "default outbound access"  # type: ignore[union-attr]
    assert report.ok


# --- admin rules ------------------------------------------------------------------------------------------------


def test_admin_always_allow_wins_over_an_nsg_deny(dataset: Dataset) -> None:
    resources = s.base(nic_nsg=[DENY_INTERNET])
    resources.append(s.admin_rules(("backup-always", "AlwaysAllow", 10, "AzureBackup", "ServiceTag")))
    checks = by_tag(run(resources, dataset))
    backup = checks["AzureBackup"]
    assert backup.verdict == "reachable"
    step = backup.deciding()
    assert step is not None
    assert step.detail.startswith("admin-rule: backup-always (priority 10, AlwaysAllow)")
    assert "nic-nsg" not in step.detail  # the NSGs were not evaluated
    # Storage has no admin rule: the NSG's deny decides.
    assert decided(checks["Storage.EastUS"]) == ("blocked", "nic-nsg", "deny-internet (priority 4000)")


def test_admin_deny_decides_before_the_nsgs(dataset: Dataset) -> None:
    resources = s.base(nic_nsg=[ALLOW_ALL])
    resources.append(s.admin_rules(("no-storage", "Deny", 20, "Storage", "ServiceTag")))
    checks = by_tag(run(resources, dataset))
    verdict, layer, rule = decided(checks["Storage.EastUS"])
    assert (verdict, layer, rule) == ("blocked", "admin-rule", "no-storage (priority 20, Deny)")
    step = checks["Storage.EastUS"].deciding()
    assert step is not None and step.resource_id.endswith(
        "/ruleCollections/testRuleCollection/rules/no-storage"
    )
    assert "Virtual Network Manager administrator" in step.fix
    assert checks["AzureBackup"].verdict == "reachable"


def test_admin_allow_hands_on_to_the_nsgs(dataset: Dataset) -> None:
    resources = s.base(nic_nsg=[DENY_INTERNET])
    resources.append(s.admin_rules(("allow-backup", "Allow", 10, "AzureBackup", "ServiceTag")))
    checks = by_tag(run(resources, dataset))
    assert decided(checks["AzureBackup"]) == ("blocked", "nic-nsg", "deny-internet (priority 4000)")


def test_admin_rule_naming_a_network_group_is_skipped_and_said(dataset: Dataset) -> None:
    resources = s.base()
    resources.append(
        s.admin_rules(("groups", "Deny", 10, "/subscriptions/x/networkGroups/g", "NetworkGroup"))
    )
    report = run(resources, dataset)
    assert all(c.verdict == "reachable" for c in report.checks)


# --- NSGs -------------------------------------------------------------------------------------------------------


def test_nic_nsg_deny_with_subnet_allow(dataset: Dataset) -> None:
    resources = s.base(
        nic_nsg=[s.rule("deny-entra", 200, "Deny", "AzureActiveDirectory")],
        subnet_nsg=[s.rule("allow-entra", 200, "Allow", "AzureActiveDirectory")],
    )
    checks = by_tag(run(resources, dataset))
    assert decided(checks["AzureActiveDirectory"]) == ("blocked", "nic-nsg", "deny-entra (priority 200)")
    step = checks["AzureActiveDirectory"].deciding()
    assert step is not None
    assert step.resource_id == s.NIC_NSG_ID
    assert step.fix == f"egress apply --target azure:{s.NIC_NSG_ID} --region eastus"
    assert checks["AzureBackup"].verdict == "reachable"


def test_subnet_nsg_deny_with_nic_allow(dataset: Dataset) -> None:
    resources = s.base(
        nic_nsg=[s.rule("allow-backup", 200, "Allow", "AzureBackup")],
        subnet_nsg=[s.rule("deny-backup", 300, "Deny", "AzureBackup")],
    )
    checks = by_tag(run(resources, dataset))
    assert decided(checks["AzureBackup"]) == ("blocked", "subnet-nsg", "deny-backup (priority 300)")
    assert checks["AzureBackup"].deciding().resource_id == s.SUBNET_NSG_ID  # type: ignore[union-attr]


def test_a_default_rule_decides_when_no_custom_rule_matches(dataset: Dataset) -> None:
    resources = s.base(subnet_nsg=[s.rule("deny-all-out", 4096, "Deny", "*", "*")])
    checks = by_tag(run(resources, dataset))
    assert decided(checks["AzureBackup"]) == ("blocked", "subnet-nsg", "deny-all-out (priority 4096)")


def test_partial_says_exactly_which_prefixes_are_blocked(dataset: Dataset) -> None:
    first = dataset.get("AzureBackup").ipv4()[0]
    resources = s.base(nic_nsg=[s.rule("allow-one", 200, "Allow", first), DENY_INTERNET])
    check = by_tag(run(resources, dataset, tags=["AzureBackup"]))["AzureBackup"]
    assert check.verdict == "partial"
    total = tag_size(dataset, "AzureBackup")
    assert check.blocked_addresses == total - address_set(first).size()
    blocked = check.deciding()
    assert blocked is not None and blocked.rule == "deny-internet (priority 4000)"
    assert first not in blocked.prefixes
    reachable = [st for st in check.steps if st.outcome == "reachable"]
    assert [st.prefixes for st in reachable] == [[first]]


# --- routes -----------------------------------------------------------------------------------------------------


def test_forced_tunnel_to_an_appliance_is_not_evaluated(dataset: Dataset) -> None:
    resources = s.base(routeTable={"id": s.RT_ID})
    resources.append(s.route_table(("to-nva", "0.0.0.0/0", "VirtualAppliance", "10.0.5.4")))
    report = run(resources, dataset)
    for check in report.checks:
        verdict, layer, rule = decided(check)
        assert (verdict, layer, rule) == (
            "unknown",
            "route",
            "route to-nva (0.0.0.0/0 -> VirtualAppliance 10.0.5.4)",
        )
        step = check.deciding()
        assert step is not None and "appliance 10.0.5.4 (not in the input), not evaluated" in step.detail
        assert step.fix == f"egress apply --place route-table --target azure:{s.RT_ID} --region eastus"
    assert not report.ok


# The locked-down pattern: only VirtualNetwork traffic allowed, everything else denied.
ALLOW_VNET = s.rule("allow-vnet", 100, "Allow", "VirtualNetwork", "*", source="VirtualNetwork", protocol="*")
DENY_ALL = s.rule("deny-all", 4096, "Deny", "*", "*", protocol="*")


def test_a_default_user_route_widens_virtual_network_so_an_allow_vnet_rule_admits_backup(
    dataset: Dataset,
) -> None:
    """Azure counts user-defined route prefixes in the VirtualNetwork tag: with a 0.0.0.0/0 route to an
    appliance, `allow-vnet` matches Backup's traffic before `deny-all`, and the route decides (an appliance
    outside the input: unknown), not the NSG. Without that route the same NSG blocks."""
    resources = s.base(subnet_nsg=[ALLOW_VNET, DENY_ALL], routeTable={"id": s.RT_ID})
    resources.append(s.route_table(("to-nva", "0.0.0.0/0", "VirtualAppliance", "10.0.5.4")))
    report = run(resources, dataset)
    for check in report.checks:
        assert decided(check) == ("unknown", "route", "route to-nva (0.0.0.0/0 -> VirtualAppliance 10.0.5.4)")
    note = next(n for n in report.notes if "VirtualNetwork service tag" in n)
    assert f"route table {s.RT_ID} routes 0.0.0.0/0" in note and "every address" in note

    narrow = s.base(subnet_nsg=[ALLOW_VNET, DENY_ALL], routeTable={"id": s.RT_ID})
    narrow.append(s.route_table(("on-prem", "192.168.0.0/16", "VirtualAppliance", "10.0.5.4")))
    report = run(narrow, dataset)
    for check in report.checks:
        assert decided(check) == ("blocked", "subnet-nsg", "deny-all (priority 4096)")
    assert any("routes 192.168.0.0/16" in n and "those prefixes" in n for n in report.notes)


def test_a_deny_internet_rule_still_denies_under_a_default_user_route(dataset: Dataset) -> None:
    """The route's prefixes join VirtualNetwork but are not taken out of Internet (Azure documents neither):
    a Deny Internet rule above AllowVnetOutBound still blocks public destinations."""
    resources = s.base(subnet_nsg=[DENY_INTERNET], routeTable={"id": s.RT_ID})
    resources.append(s.route_table(("to-nva", "0.0.0.0/0", "VirtualAppliance", "10.0.5.4")))
    for check in run(resources, dataset).checks:
        assert decided(check) == ("blocked", "subnet-nsg", "deny-internet (priority 4000)")


def test_forced_tunnel_with_service_tag_routes_to_the_internet(dataset: Dataset) -> None:
    resources = s.base(routeTable={"id": s.RT_ID})
    resources.append(
        s.route_table(
            ("to-nva", "0.0.0.0/0", "VirtualAppliance", "10.0.5.4"),
            ("backup", "AzureBackup", "Internet", ""),
            ("storage", "Storage", "Internet", ""),
            ("entra", "AzureActiveDirectory", "Internet", ""),
        )
    )
    report = run(resources, dataset)
    checks = by_tag(report)
    for tag, route in (
        ("Storage.EastUS", "storage"),
        ("AzureBackup", "backup"),
        ("AzureActiveDirectory", "entra"),
    ):
        check = checks[tag]
        assert check.verdict == "reachable", tag
        step = check.deciding()
        assert step is not None and step.layer == "outbound"
        assert f"route: route {route} (" in step.detail
    assert report.ok


def test_next_hop_none_drops(dataset: Dataset) -> None:
    resources = s.base(routeTable={"id": s.RT_ID})
    resources.append(s.route_table(("blackhole", "0.0.0.0/0", "None", "")))
    checks = by_tag(run(resources, dataset))
    assert decided(checks["AzureBackup"]) == ("blocked", "route", "route blackhole (0.0.0.0/0 -> None)")
    assert checks["AzureBackup"].deciding().resource_id == f"{s.RT_ID}/routes/blackhole"  # type: ignore[union-attr]


def test_a_longer_user_route_beats_a_shorter_one_and_ties_go_to_the_user_route(dataset: Dataset) -> None:
    first = dataset.get("AzureBackup").ipv4()[0]
    resources = s.base(routeTable={"id": s.RT_ID})
    resources.append(s.route_table(("default", "0.0.0.0/0", "Internet", ""), ("drop-one", first, "None", "")))
    check = by_tag(run(resources, dataset, tags=["AzureBackup"]))["AzureBackup"]
    assert check.verdict == "partial"
    assert decided(check)[1:] == ("route", f"route drop-one ({first} -> None)")
    assert check.blocked_addresses == address_set(first).size()
    reachable = [st for st in check.steps if st.outcome == "reachable"]
    assert all("route default (0.0.0.0/0 -> Internet)" in st.detail for st in reachable)
    # egress's tag routes could not beat a route as specific as the tag's own prefix: the fix says so.
    assert check.deciding().fix == (  # type: ignore[union-attr]
        f"change or remove route drop-one of {s.RT_ID}: {first} is as specific as AzureBackup's prefixes there, "
        "so no service-tag route can win over it"
    )


def test_a_service_tag_route_that_drops_is_named_in_the_fix(dataset: Dataset) -> None:
    resources = s.base(routeTable={"id": s.RT_ID})
    resources.append(s.route_table(("no-backup", "AzureBackup", "None", "")))
    check = by_tag(run(resources, dataset))["AzureBackup"]
    assert decided(check) == ("blocked", "route", "route no-backup (AzureBackup -> None)")
    assert check.deciding().fix == f"change route no-backup of {s.RT_ID}: it sends AzureBackup to None"  # type: ignore[union-attr]


def test_service_endpoint_for_storage_beats_a_forced_tunnel(dataset: Dataset) -> None:
    resources = s.base(
        routeTable={"id": s.RT_ID},
        serviceEndpoints=[{"service": "Microsoft.Storage", "locations": ["eastus", "westus"]}],
    )
    resources.append(s.route_table(("blackhole", "0.0.0.0/0", "None", "")))
    checks = by_tag(run(resources, dataset))
    storage = checks["Storage.EastUS"]
    assert storage.verdict == "reachable"
    step = storage.deciding()
    assert step is not None and (step.layer, step.rule, step.via) == (
        "route",
        "system route ServiceEndpoint-Storage.EastUS (Storage.EastUS -> VirtualNetworkServiceEndpoint)",
        "service endpoint",
    )
    assert decided(checks["AzureBackup"]) == ("blocked", "route", "route blackhole (0.0.0.0/0 -> None)")


def test_a_route_tag_without_udr_in_network_features_is_an_error(dataset: Dataset) -> None:
    resources = s.base(routeTable={"id": s.RT_ID})
    resources.append(s.route_table(("cloud", "AzureCloud.eastus", "Internet", "")))
    report = run(resources, dataset)
    assert report.findings == [
        "route cloud: service tag AzureCloud.eastus is not usable in route tables (its networkFeatures lack UDR); "
        "Azure refuses it: route its prefixes instead"
    ]
    assert not report.ok


# --- outbound ---------------------------------------------------------------------------------------------------


def test_private_subnet_without_nat_has_no_outbound_path(dataset: Dataset) -> None:
    checks = by_tag(run(s.base(default_outbound=False), dataset))
    for tag in ("AzureBackup", "AzureActiveDirectory"):
        assert decided(checks[tag]) == ("blocked", "outbound", "no outbound path")
        step = checks[tag].deciding()
        assert step is not None
        assert step.fix == f"attach a NAT gateway or an explicit outbound method to subnet {s.SUBNET_ID}"
    # Microsoft keeps same-region Storage reachable from a private subnet.
    storage = checks["Storage.EastUS"]
    assert storage.verdict == "reachable"
    assert storage.deciding().rule == "same-region Storage.EastUS"  # type: ignore[union-attr]


def test_private_subnet_with_a_nat_gateway(dataset: Dataset) -> None:
    resources = s.base(default_outbound=False, natGateway={"id": s.NAT_ID})
    resources.append(s.nat_gateway())
    for check in run(resources, dataset).checks:
        assert decided(check) == ("reachable", "outbound", "NAT gateway test-natGateway")


def test_nat_gateway_missing_from_the_input_is_unknown(dataset: Dataset) -> None:
    resources = s.base(default_outbound=False, natGateway={"id": s.NAT_ID})
    check = run(resources, dataset).checks[0]
    assert check.verdict == "unknown"
    assert check.deciding().detail == f"NAT gateway {s.NAT_ID} is not in the input"  # type: ignore[union-attr]


def test_public_ip_on_the_nic(dataset: Dataset) -> None:
    resources = s.base(default_outbound=False, public=True)
    resources.append(s.public_ip())
    for check in run(resources, dataset).checks:
        assert decided(check) == ("reachable", "outbound", "instance public IP testDNS-ip")


def test_nic_flag_keeps_default_outbound_until_deallocated(dataset: Dataset) -> None:
    resources = s.base(default_outbound=False)
    resources[1]["properties"]["defaultOutboundConnectivityEnabled"] = True
    report = run(resources, dataset)
    assert all(c.verdict == "reachable" for c in report.checks)
    assert any("until it is stopped and deallocated" in n for n in report.notes)


# --- Azure Firewall ---------------------------------------------------------------------------------------------


def _firewalled(*collections: dict[str, Any]) -> list[dict[str, Any]]:
    resources = s.base(default_outbound=False, routeTable={"id": s.RT_ID})
    resources.append(s.route_table(("to-firewall", "0.0.0.0/0", "VirtualAppliance", s.FW_IP)))
    resources += [
        s.firewall(),
        s.firewall_policy("backup"),
        s.rule_collection_group("backup", 200, *collections),
    ]
    return resources


NETWORK = s.filter_collection(
    "net",
    100,
    "Allow",
    s.network_rule("storage", ["Storage.EastUS"]),
    s.network_rule("entra", ["AzureActiveDirectory"]),
)


def test_firewall_policy_with_the_azure_backup_fqdn_tag(dataset: Dataset) -> None:
    apps = s.filter_collection("apps", 300, "Allow", s.app_rule("backup", fqdn_tags=["AzureBackup"]))
    checks = by_tag(run(_firewalled(NETWORK, apps), dataset))
    assert decided(checks["AzureBackup"]) == (
        "reachable",
        "firewall",
        "application rule firewallPolicy/backup/apps/backup (Allow)",
    )
    assert decided(checks["Storage.EastUS"]) == (
        "reachable",
        "firewall",
        "network rule firewallPolicy/backup/net/storage (Allow)",
    )
    assert (
        decided(checks["AzureActiveDirectory"])[2] == "network rule firewallPolicy/backup/net/entra (Allow)"
    )


def test_firewall_policy_without_the_fqdn_tag_denies_by_default(dataset: Dataset) -> None:
    checks = by_tag(run(_firewalled(NETWORK), dataset))
    assert decided(checks["AzureBackup"]) == ("blocked", "firewall", "fw1: no rule matched")
    step = checks["AzureBackup"].deciding()
    assert step is not None
    assert step.fix == (
        f"egress apply --place firewall-policy --target azure:{s.POLICY_ID}/ruleCollectionGroups/egress-backup "
        f"--region eastus --vnet 10.0.0.0/16 --firewall-ip {s.FW_IP}"
    )
    assert checks["Storage.EastUS"].verdict == "reachable"


def test_firewall_network_rules_come_before_application_rules(dataset: Dataset) -> None:
    deny = s.filter_collection("deny-net", 65000, "Deny", s.network_rule("deny-everything", ["*"], ["*"]))
    apps = s.filter_collection("apps", 100, "Allow", s.app_rule("backup", fqdn_tags=["AzureBackup"]))
    checks = by_tag(run(_firewalled(deny, apps), dataset))
    # The application collection has the better priority, but network rules are processed first.
    assert decided(checks["AzureBackup"]) == (
        "blocked",
        "firewall",
        "network rule firewallPolicy/backup/deny-net/deny-everything (Deny)",
    )


def test_firewall_target_fqdns_must_cover_every_name_of_the_service(dataset: Dataset) -> None:
    blob_only = s.filter_collection(
        "apps", 100, "Allow", s.app_rule("blob", targets=["*.blob.core.windows.net"])
    )
    storage = by_tag(run(_firewalled(blob_only), dataset))["Storage.EastUS"]
    assert decided(storage) == ("blocked", "firewall", "fw1: no rule matched")
    both = s.filter_collection(
        "apps", 100, "Allow", s.app_rule("st", targets=["*.core.windows.net", "*.blob.storage.azure.net"])
    )
    storage = by_tag(run(_firewalled(both), dataset))["Storage.EastUS"]
    assert decided(storage) == (
        "reachable",
        "firewall",
        "application rule firewallPolicy/backup/apps/st (Allow)",
    )


def test_firewall_policy_missing_from_the_input_is_unknown(dataset: Dataset) -> None:
    resources = [r for r in _firewalled(NETWORK) if r.get("type") != "Microsoft.Network/firewallPolicies"]
    check = run(resources, dataset).checks[0]
    assert check.verdict == "unknown"
    assert check.deciding().detail == f"firewall policy {s.POLICY_ID} is not in the input"  # type: ignore[union-attr]


# --- proxy ------------------------------------------------------------------------------------------------------

PROXY_IP = "10.0.1.10"
PROXY_NIC = f"{s.SUB}/Microsoft.Network/networkInterfaces/proxy-nic"
PROXY_NSG = f"{s.SUB}/Microsoft.Network/networkSecurityGroups/proxy-nsg"


def _proxied(proxy_rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    vm_rules = [
        s.rule("to-proxy", 200, "Allow", PROXY_IP, "3128"),
        s.rule("deny-everything", 4000, "Deny", "*", "*"),
    ]
    resources = s.base(nic_nsg=vm_rules)
    proxy_nic = s.nic(
        ip=PROXY_IP, nic_id=PROXY_NIC, vm_id=f"{s.SUB}/Microsoft.Compute/virtualMachines/proxy1"
    )
    proxy_nic["properties"]["networkSecurityGroup"]["id"] = PROXY_NSG
    resources += [s.vm("proxy1", PROXY_NIC), proxy_nic, s.nsg(PROXY_NSG, *proxy_rules)]
    return resources


def test_proxy_path_reachable(dataset: Dataset) -> None:
    resources = _proxied([s.rule("proxy-out", 200, "Allow", "Internet", "80-443")])
    checks = by_tag(run(resources, dataset, vm_names=["vm1"], proxy=Proxy(PROXY_IP, 3128)))
    for check in checks.values():
        assert decided(check) == ("reachable", "proxy", f"proxy1 ({PROXY_IP}:3128)")
        assert check.deciding().via.startswith(f"proxy {PROXY_IP}:3128, then ")  # type: ignore[union-attr]


def test_proxy_vm_nsg_blocks_the_internet(dataset: Dataset) -> None:
    resources = _proxied([s.rule("proxy-deny", 200, "Deny", "Internet", "*")])
    check = by_tag(run(resources, dataset, vm_names=["vm1"], proxy=Proxy(PROXY_IP, 3128)))["AzureBackup"]
    assert decided(check) == ("blocked", "proxy", "nic-nsg: proxy-deny (priority 200)")
    step = check.deciding()
    assert step is not None
    assert step.fix == (
        f"egress apply --target azure:{PROXY_NSG} --option proxy --for proxy --proxy-ip {PROXY_IP} "
        "--proxy-port 3128 --region eastus"
    )


def test_vm_nsg_blocks_the_proxy_port(dataset: Dataset) -> None:
    resources = _proxied([])
    check = by_tag(run(resources, dataset, vm_names=["vm1"], proxy=Proxy(PROXY_IP, 8080)))["AzureBackup"]
    assert decided(check) == ("blocked", "nic-nsg", "deny-everything (priority 4000)")
    step = check.deciding()
    assert step is not None and "cannot reach the proxy 10.0.1.10:8080" in step.detail
    assert step.fix == (
        f"egress apply --target azure:{s.NIC_NSG_ID} --option proxy --proxy-ip {PROXY_IP} --proxy-port 8080 "
        "--region eastus"
    )


def test_proxy_inbound_rule_on_the_proxy_nsg(dataset: Dataset) -> None:
    resources = _proxied([s.rule("no-clients", 100, "Deny", "*", "3128", direction="Inbound")])
    check = by_tag(run(resources, dataset, vm_names=["vm1"], proxy=Proxy(PROXY_IP, 3128)))["AzureBackup"]
    assert decided(check) == ("blocked", "proxy", "nic-nsg: no-clients (priority 100)")


def test_proxy_not_in_the_input_is_unknown(dataset: Dataset) -> None:
    check = run(s.base(), dataset, proxy=Proxy("10.0.1.99", 3128)).checks[0]
    assert decided(check) == ("unknown", "proxy", "10.0.1.99")


# --- inputs -----------------------------------------------------------------------------------------------------


def test_dangling_subnet_makes_the_vm_unknown_with_what_is_missing(dataset: Dataset) -> None:
    resources = [r for r in s.base() if r["type"] != "Microsoft.Network/virtualNetworks"]
    report = run(resources, dataset)
    for check in report.checks:
        assert check.verdict == "unknown"
        assert check.missing == [f"subnet {s.SUBNET_ID}", f"virtual network {s.VNET_ID} (its address space)"]
        assert check.steps == []
    assert not report.ok


def test_resource_graph_output_with_lower_case_types_and_ids(dataset: Dataset) -> None:
    resources = s.base(nic_nsg=[s.rule("deny-entra", 200, "Deny", "AzureActiveDirectory")])
    for resource in resources:
        resource["type"] = resource["type"].lower()
        if resource["type"] == "microsoft.network/networksecuritygroups":
            resource["id"] = resource["id"].lower()
    graph = {"totalRecords": len(resources), "count": len(resources), "data": resources}
    checks = by_tag(check_paths(build(graph, "graph"), dataset))
    assert decided(checks["AzureActiveDirectory"]) == ("blocked", "nic-nsg", "deny-entra (priority 200)")


@pytest.mark.parametrize("tag", ["AzureBackup.EastUS"])
def test_an_nsg_tag_azure_refuses_is_an_error(dataset: Dataset, tag: str) -> None:
    report = run(s.base(nic_nsg=[s.rule("regional", 200, "Allow", tag)]), dataset)
    assert report.findings == [
        f"NSG nsg rule regional: service tag {tag} is not usable in NSG rules (its networkFeatures lack NSG); "
        "Azure refuses it"
    ]
    assert not report.ok


LB_ID = f"{s.SUB}/Microsoft.Network/loadBalancers/lb"


def _in_backend_pool(outbound_rules: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    resources = s.base(default_outbound=False)
    pool = f"{LB_ID}/backendAddressPools/be"
    resources[1]["properties"]["ipConfigurations"][0]["properties"]["loadBalancerBackendAddressPools"] = [
        {"id": pool}
    ]
    if outbound_rules is not None:
        for item in outbound_rules:
            item["properties"]["backendAddressPool"] = {"id": pool.upper()}  # ids compare case-insensitively
        resources.append(
            {
                "id": LB_ID,
                "name": "lb",
                "type": "Microsoft.Network/loadBalancers",
                "location": "eastus",
                "properties": {"outboundRules": outbound_rules},
            }
        )
    return resources


def test_load_balancer_outbound_rule(dataset: Dataset) -> None:
    rules = [{"name": "out", "properties": {"protocol": "All"}}]
    for check in run(_in_backend_pool(rules), dataset).checks:
        assert decided(check) == ("reachable", "outbound", "load balancer outbound rule lb/out")


def test_backend_pool_without_an_outbound_rule_has_no_outbound_path(dataset: Dataset) -> None:
    checks = by_tag(run(_in_backend_pool([]), dataset))
    assert decided(checks["AzureBackup"]) == ("blocked", "outbound", "no outbound path")
    missing = by_tag(run(_in_backend_pool(None), dataset))["AzureBackup"]
    assert missing.verdict == "unknown"
    assert missing.deciding().detail == f"load balancer {LB_ID} (backend pool of the NIC) is not in the input"  # type: ignore[union-attr]


def test_region_override_picks_the_storage_tag_and_the_fix(dataset: Dataset) -> None:
    resources = s.base(nic_nsg=[DENY_INTERNET])
    checks = by_tag(run(resources, dataset, region="westeurope"))
    assert list(checks) == ["Storage.WestEurope", "AzureBackup", "AzureActiveDirectory"]
    assert checks["AzureBackup"].deciding().fix.endswith("--region westeurope")  # type: ignore[union-attr]


def test_a_proxy_outside_the_vnet_has_no_route(dataset: Dataset) -> None:
    check = run(s.base(), dataset, proxy=Proxy("192.168.7.7", 3128)).checks[0]
    assert decided(check) == ("blocked", "route", "system route None 192.168.0.0/16 (192.168.0.0/16 -> None)")
    assert check.deciding().fix == (  # type: ignore[union-attr]
        f"192.168.7.7 is outside VNet {s.VNET_ID} and its peerings: peer the proxy's VNet, or give --proxy the "
        "proxy's address"
    )
