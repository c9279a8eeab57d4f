"""Azure Firewall details: classic rules, IP Groups, FQDN network rules, tags the firewall does not take."""

from __future__ import annotations

from typing import Any

from egress.core.model import Dataset
from egress.core.path.topology import build
from egress.core.path.verdict import check_paths
from tests.core.path import scenario as s


def routed_to_firewall(firewall: dict[str, Any], *extra: dict[str, Any]) -> list[dict[str, Any]]:
    resources = s.base(default_outbound=False, routeTable={"id": s.RT_ID})
    resources.append(s.route_table(("to-firewall", "0.0.0.0/0", "VirtualAppliance", s.FW_IP)))
    return [*resources, firewall, *extra]


def test_classic_rule_collections(dataset: Dataset) -> None:
    firewall = s.firewall(policy=False)
    firewall["properties"]["applicationRuleCollections"] = [
        {
            "name": "backup-apps",
            "properties": {
                "priority": 110,
                "action": {"type": "Allow"},
                "rules": [
                    {
                        "name": "backup",
                        "sourceAddresses": ["10.0.0.0/16"],
                        "protocols": [{"protocolType": "Https", "port": 443}],
                        "fqdnTags": ["AzureBackup"],
                    }
                ],
            },
        }
    ]
    report = check_paths(build(routed_to_firewall(firewall), "t"), dataset)
    checks = {c.destination: c for c in report.checks}
    step = checks["AzureBackup"].deciding()
    assert checks["AzureBackup"].verdict == "reachable"
    assert step is not None and step.rule == "application rule fw1/backup-apps/backup (Allow)"
    blocked = checks["Storage.EastUS"].deciding()
    assert checks["Storage.EastUS"].verdict == "blocked"
    assert blocked is not None and blocked.fix == (
        f"add an application rule with FQDN tag AzureBackup (Https:443) to the classic rules of {s.FW_ID}"
    )


def test_ip_groups_ranges_and_fqdn_rules(dataset: Dataset) -> None:
    group = {
        "id": f"{s.SUB}/Microsoft.Network/ipGroups/vms",
        "type": "Microsoft.Network/ipGroups",
        "name": "vms",
        "properties": {"ipAddresses": ["10.0.1.0-10.0.1.9"]},
    }
    by_fqdn = s.network_rule("by-name", [])
    by_fqdn["destinationFqdns"] = ["backup.example"]
    from_group = s.network_rule("from-group", ["AzureActiveDirectory"])
    from_group["sourceAddresses"] = []
    from_group["sourceIpGroups"] = [group["id"]]
    missing_group = s.network_rule("missing-group", ["AzureBackup"])
    missing_group["destinationIpGroups"] = [f"{s.SUB}/Microsoft.Network/ipGroups/gone"]
    rcg = s.rule_collection_group(
        "g", 100, s.filter_collection("net", 100, "Allow", by_fqdn, from_group, missing_group)
    )
    resources = routed_to_firewall(s.firewall(), s.firewall_policy("g"), rcg, group)
    report = check_paths(build(resources, "t"), dataset)
    checks = {c.destination: c for c in report.checks}
    assert checks["AzureActiveDirectory"].verdict == "reachable"  # 10.0.1.4 is inside the group's range
    assert checks["AzureBackup"].verdict == "blocked"
    assert "network rule firewallPolicy/g/net/by-name not evaluated: it names FQDNs, which the firewall resolves " \
           "by DNS" in report.notes  # fmt: skip
    assert (
        f"network rule firewallPolicy/g/net/missing-group not evaluated: IP Group {s.SUB}/Microsoft.Network/"
        "ipGroups/gone is not in the input"
    ) in report.notes


def test_a_network_rule_tag_without_fw_is_an_error(dataset: Dataset) -> None:
    rcg = s.rule_collection_group(
        "g", 100, s.filter_collection("net", 100, "Allow", s.network_rule("cloud", ["AzureCloud"]))
    )
    report = check_paths(build(routed_to_firewall(s.firewall(), s.firewall_policy("g"), rcg), "t"), dataset)
    assert report.findings == [
        "firewall rule firewallPolicy/g/net/cloud: service tag AzureCloud is not usable in Azure Firewall "
        "(its networkFeatures lack FW)"
    ]
    assert not report.ok


def test_a_network_rule_naming_an_unknown_tag_is_an_error_and_skipped(dataset: Dataset) -> None:
    rules = (s.network_rule("typo", ["Storrage"]), s.network_rule("entra", ["AzureActiveDirectory"]))
    rcg = s.rule_collection_group("g", 100, s.filter_collection("net", 100, "Allow", *rules))
    report = check_paths(build(routed_to_firewall(s.firewall(), s.firewall_policy("g"), rcg), "t"), dataset)
    assert report.findings == [
        "firewall rule firewallPolicy/g/net/typo: Storrage is not a service tag in the data; the rule was not evaluated"
    ]
    assert {c.destination: c.verdict for c in report.checks} == {
        "Storage.EastUS": "blocked",
        "AzureBackup": "blocked",
        "AzureActiveDirectory": "reachable",
    }


def test_an_application_rule_for_http_on_443_does_not_match_backups_https(dataset: Dataset) -> None:
    rule = s.app_rule("plain", fqdn_tags=["AzureBackup"])
    rule["protocols"] = [{"protocolType": "Http", "port": 443}]
    rcg = s.rule_collection_group("g", 100, s.filter_collection("apps", 100, "Allow", rule))
    report = check_paths(build(routed_to_firewall(s.firewall(), s.firewall_policy("g"), rcg), "t"), dataset)
    backup = next(c for c in report.checks if c.destination == "AzureBackup")
    assert backup.verdict == "blocked"
    assert backup.deciding().rule == "fw1: no rule matched"  # type: ignore[union-attr]
