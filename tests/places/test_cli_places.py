"""The places on the command line: `plan` on the bundled and real data (the issue's "done when"), lint, usage
errors, and that a place loads only its own modules (and no Azure SDK) to plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from egress.places import PLACES, get_place
from tests.cli.test_import_budget import NOT_FOR_HELP_OR_PLAN, imported, loaded
from tests.helpers import assert_golden

runner = CliRunner()
DATA = "servicetags/ServiceTags_Public_20250127.json"
FW = [
    "--place",
    "firewall-policy",
    "--region",
    "eastus",
    "--vnet",
    "10.0.0.0/16",
    "--firewall-ip",
    "10.0.1.4",
]


def test_registry_names_every_place_package() -> None:
    for name in PLACES:
        place = get_place(name)
        assert place.name == name and set(place.formats()) == {
            "arm",
            "bicep",
            "terraform",
            "azcli",
            "powershell",
            "json",
        }
    bad = runner.invoke(app, ["plan", "--place", "vnet", "--region", "eastus"])
    assert (
        bad.exit_code == 2
        and "unknown --place 'vnet': use one of nsg, route-table, firewall-policy" in bad.stderr
    )


def test_plan_route_table_on_the_bundled_data() -> None:
    result = runner.invoke(app, ["plan", "--place", "route-table", "--region", "eastus"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2].split() == ["egress-storage-eastus", "Storage.EastUS", "Internet", "-", "tag"]
    assert lines[3].split() == ["egress-azurebackup", "AzureBackup", "Internet", "-", "tag"]
    assert lines[4].split() == ["egress-azureactivedirectory", "AzureActiveDirectory", "Internet", "-", "tag"]
    assert "limits 400 routes and 25 service-tag routes per table" in result.stdout
    assert "bundled" in result.stderr


def test_plan_firewall_policy_on_the_bundled_data() -> None:
    result = runner.invoke(app, ["plan", *FW, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    app_c, net_c = doc["ruleCollectionGroup"]["properties"]["ruleCollections"]
    assert app_c["rules"][0]["fqdnTags"] == ["AzureBackup"]
    assert [r["destinationAddresses"] for r in net_c["rules"]] == [
        ["Storage.EastUS"],
        ["AzureActiveDirectory"],
    ]
    assert {tuple(r["sourceAddresses"]) for r in (*app_c["rules"], *net_c["rules"])} == {("10.0.0.0/16",)}
    assert doc["routes"] == [
        {
            "name": "egress-default-to-firewall",
            "properties": {
                "addressPrefix": "0.0.0.0/0",
                "nextHopIpAddress": "10.0.1.4",
                "nextHopType": "VirtualAppliance",
            },
        }
    ]
    assert doc["ruleCollectionGroup"]["properties"]["priority"] == 200
    text = runner.invoke(app, ["plan", *FW])
    assert "limits checked: group size" in text.stdout and "not used: IP Groups" in text.stdout


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("route-table-eastus", ["--place", "route-table", "--region", "eastus"]),
        ("route-table-azurecloud-budget", ["--place", "route-table", "--option", "ip-ranges", "--tag",
                                           "AzureCloud.eastus", "--max-prefixes", "100", "--allow-wide"]),
        ("firewall-policy-eastus", FW),
    ],
)  # fmt: skip
def test_plan_json_golden(shared_data: Path, name: str, args: list[str]) -> None:
    result = runner.invoke(app, ["plan", *args, "--data", str(shared_data / DATA), "-o", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    doc["provenance"]["source"] = doc["provenance"]["path"] = "ServiceTags_Public_20250127.json"
    assert_golden(f"plan/{name}.json", json.dumps(doc, indent=2, sort_keys=True) + "\n")


def test_a_budget_cover_past_max_extra_is_refused_as_for_nsgs(shared_data: Path) -> None:
    """Over-approximated addresses take the route too (next hop Internet: past the appliance), so a cover that
    adds more than --max-extra is refused unless --allow-wide, as an NSG's is."""
    args = ["plan", "--place", "route-table", "--option", "ip-ranges", "--tag", "AzureCloud.eastus",
            "--max-prefixes", "100", "--data", str(shared_data / DATA)]  # fmt: skip
    refused = runner.invoke(app, args)
    assert refused.exit_code == 4, refused.stdout
    assert refused.stderr.startswith("Error: --max-prefixes 100: covering ")
    assert "would route IPv4 " in refused.stderr and "pass --allow-wide to accept it." in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and refused.stdout == ""
    assert runner.invoke(app, [*args, "--allow-wide"]).exit_code == 0
    assert runner.invoke(app, [*args, "--max-extra", "100000000"]).exit_code == 0


def test_over_the_route_limit_asks_for_a_budget_and_the_budget_is_optimal(shared_data: Path) -> None:
    args = ["plan", "--place", "route-table", "--option", "ip-ranges", "--tag", "AzureCloud.eastus"]
    over = runner.invoke(app, [*args, "--data", str(shared_data / DATA)])
    assert over.exit_code == 1 and "over the 400 this route table can still hold" in over.stderr
    cut = runner.invoke(
        app, [*args, "--data", str(shared_data / DATA), "--max-prefixes", "400", "-o", "json"]
    )
    doc = json.loads(cut.stdout)
    from egress.core import prefixes

    tag = __import__("egress.adapters.datastore", fromlist=["load_file"]).load_file(str(shared_data / DATA))
    union = prefixes.aggregate(prefixes.parse_prefix(p) for p in tag.get("AzureCloud.eastus").prefixes)
    best = prefixes.budget_aggregate(union, 400, v4_weight=prefixes.IPV4_ADDRESS_AS_IPV6_SUBNET)
    assert sorted(r["properties"]["addressPrefix"] for r in doc["routes"]) == sorted(
        prefixes.format_prefix(p) for p in best.prefixes
    )
    assert doc["summary"]["extraIPv4Addresses"] == best.extra_ipv4


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--place", "route-table", "--option", "proxy", "--proxy-ip", "10.0.0.5"], "--option service-tags or ip-ranges"),
        (["--place", "route-table", "--next-hop", "VirtualAppliance", "--next-hop-ip", "nope"], "'nope' is not an IP"),
        (["--place", "route-table", "--next-hop", "None"], "--next-hop 'None': use Internet or VirtualAppliance"),
        (["--place", "route-table", "--option", "ip-ranges", "--max-prefixes", "500"], "exceeds Azure's 400 routes per route table"),
        (["--place", "firewall-policy", "--firewall-ip", "10.0.1.4"], "needs --vnet"),
        (["--place", "firewall-policy", "--vnet", "10.0.0.0/16"], "needs --firewall-ip"),
        (["--place", "firewall-policy", "--vnet", "10.0.0.0/16", "--firewall-ip", "192.168.1.4"], "outside the VNet"),
        (["--place", "firewall-policy", "--vnet", "10.0.0.0/16", "--firewall-ip", "10.0.1.4", "--rcg-name", "-x"],
         "--rcg-name '-x'"),
        (["--firewall-ip", "10.0.1.4"], "--firewall-ip applies to --place route-table or firewall-policy"),
    ],
)  # fmt: skip
def test_bad_inputs_are_one_line_usage_errors(args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["plan", "--region", "eastus", *args])
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("Error: ") and needle in result.stderr and result.stderr.count("\n") == 1


def test_render_route_table_writes_only_changed_files(tmp_path: Path) -> None:
    args = ["render", "--place", "route-table", "--region", "eastus", "-f", "azcli", "--out", str(tmp_path)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0 and "wrote" in first.stderr
    assert (tmp_path / "egress-routes.sh").stat().st_mode & 0o777 == 0o755
    assert "unchanged" in runner.invoke(app, args).stderr
    bad = runner.invoke(app, ["render", "--place", "route-table", "--region", "eastus", "-f", "yaml"])
    assert bad.exit_code == 2 and "unknown --format 'yaml'" in bad.stderr


def test_lint_route_table_finds_a_tag_without_udr(tmp_path: Path, shared_data: Path) -> None:
    path = tmp_path / "rt.json"
    routes = [
        {"name": "a", "properties": {"addressPrefix": "AzureBackup.EastUS", "nextHopType": "Internet"}},
        {"name": "b", "properties": {"addressPrefix": "10.0.0.0/8", "nextHopType": "None"}},
        {"name": "c", "properties": {"addressPrefix": "10.0.0.0/8", "nextHopType": "Internet"}},
    ]
    path.write_text(json.dumps({"name": "rt", "properties": {"routes": routes}}))
    result = runner.invoke(
        app, ["lint", "--place", "route-table", "--target", str(path), "--data", str(shared_data / DATA)]
    )
    assert result.exit_code == 1
    assert (
        "tag-not-routable  a: names service tag AzureBackup.EastUS, whose networkFeatures lack UDR"
        in result.stdout
    )
    assert "duplicate-prefix  c: has the prefix 10.0.0.0/8 of route b" in result.stdout
    assert "service-tag routes 1/25" in result.stdout


def test_lint_firewall_finds_a_network_rule_tag_without_fw(tmp_path: Path, shared_data: Path) -> None:
    path = tmp_path / "rcg.json"
    rule = {"ruleType": "NetworkRule", "name": "r", "ipProtocols": ["TCP"], "sourceAddresses": ["10.0.0.0/16"],
            "destinationAddresses": ["AzureBackup.EastUS"], "destinationPorts": ["443"]}  # fmt: skip
    coll = {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "c", "priority": 100,
            "action": {"type": "Allow"}, "rules": [rule]}  # fmt: skip
    path.write_text(json.dumps({"name": "g", "properties": {"priority": 100, "ruleCollections": [coll]}}))
    args = [
        "lint",
        "--place",
        "firewall-policy",
        "--target",
        str(path),
        "--data",
        str(shared_data / DATA),
        "-o",
        "json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["code"] == "tag-not-for-firewall" and "AzureBackup.EastUS" in finding["message"]


@pytest.mark.parametrize("place", ["route-table", "firewall-policy"])
def test_plan_loads_only_its_place_and_no_sdk(shared_data: Path, tmp_path: Path, place: str) -> None:
    extra = ["--vnet", "10.0.0.0/16", "--firewall-ip", "10.0.1.4"] if place == "firewall-policy" else []
    args = ["plan", "--place", place, "--region", "eastus", "--data", str(shared_data / DATA), *extra]
    names = imported(args, tmp_path)
    assert loaded(names, NOT_FOR_HELP_OR_PLAN) == []
    own = "egress.places." + place.replace("-", "_")
    assert f"{own}.planner" in names
    others = {"egress.places.nsg", "egress.places.route_table", "egress.places.firewall_policy"} - {own}
    if place == "firewall-policy":  # its second artifact is a route: the route table's model and plan
        others -= {"egress.places.route_table"}
    assert loaded(names, tuple(others)) == []


def _table(tmp_path: Path) -> Path:
    path = tmp_path / "rt.json"
    routes = [
        {"name": "default-to-fw", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                                                 "nextHopIpAddress": "10.0.1.4"}},
        {"name": "egress-storage-eastus", "properties": {"addressPrefix": "Storage.EastUS", "nextHopType": "Internet"}},
        {"name": "inspect", "properties": {"addressPrefix": "20.60.61.0/24", "nextHopType": "VirtualAppliance",
                                           "nextHopIpAddress": "10.0.9.9"}},
    ]  # fmt: skip
    path.write_text(json.dumps({"name": "rt", "properties": {"routes": routes}}))
    return path


@pytest.mark.parametrize(
    ("dest", "route", "hop"),
    [
        ("20.60.60.7", "egress-storage-eastus", "Internet"),  # inside Storage.EastUS's 20.60.60.0/22
        ("20.60.61.7", "inspect", "VirtualAppliance"),  # the more specific foreign route wins
        ("8.8.8.8", "default-to-fw", "VirtualAppliance"),
        ("10.0.3.4", "system: 10.0.0.0/16", "VnetLocal"),  # the VNet's own space
        ("10.9.0.1", "system: 10.0.0.0/8", "None"),
    ],
)
def test_verify_route_table_picks_the_longest_prefix(
    tmp_path: Path, shared_data: Path, dest: str, route: str, hop: str
) -> None:
    args = ["verify", "--place", "route-table", "--target", str(_table(tmp_path)), "--dest", dest, "--vnet",
            "10.0.0.0/16", "--data", str(shared_data / DATA), "-o", "json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["route"], doc["nextHopType"]) == (route, hop)


def test_verify_route_table_expect_and_firewall_refusal(tmp_path: Path, shared_data: Path) -> None:
    base = [
        "verify",
        "--place",
        "route-table",
        "--target",
        str(_table(tmp_path)),
        "--data",
        str(shared_data / DATA),
    ]
    ok = runner.invoke(app, [*base, "--dest", "20.60.60.7", "--expect", "Internet"])
    assert (
        ok.exit_code == 0
        and "Takes:       route egress-storage-eastus (Storage.EastUS: 20.60.60.0/22) -> Internet"
        in ok.stdout
    )
    bad = runner.invoke(app, [*base, "--dest", "20.60.61.7", "--expect", "Internet"])
    assert bad.exit_code == 1 and "NOT as expected" in bad.stdout
    fw = runner.invoke(
        app, ["verify", "--place", "firewall-policy", "--target", "x.json", "--dest", "1.2.3.4"]
    )
    assert fw.exit_code == 2 and "verify evaluates NSGs and route tables" in fw.stderr
