"""Regressions found reviewing the places end to end (each failed before its fix)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.cli.test_refresh import by_name, refresh, report_of, week, write_config
from tests.places.test_cli_places import FW

runner = CliRunner()


@pytest.mark.parametrize("priority", ["5000", "65000"])
def test_firewall_group_priority_takes_the_firewalls_range_not_the_nsgs(priority: str) -> None:
    result = runner.invoke(app, ["plan", *FW, "--priority-start", priority, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ruleCollectionGroup"]["properties"]["priority"] == int(priority)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([*FW, "--priority-start", "65001"], "outside the firewall's 100-65000"),
        ([*FW, "--priority-start", "99"], "outside the firewall's 100-65000"),
        (["--region", "eastus", "--priority-start", "5000"], "outside Azure's range 100-4096"),
    ],
)
def test_each_place_checks_its_own_priority_range(args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["plan", *args])
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("Error: ") and needle in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--place", "route-table", "--option", "ip-ranges", "--max-prefixes", "5000"], "400 routes per route table"),
        (["--place", "route-table", "--max-prefixes", "50"], "--max-prefixes applies to --option ip-ranges"),
        ([*FW, "--max-prefixes", "5"], "--max-prefixes does not apply to --place firewall-policy"),
        ([*FW, "--option", "ip-ranges", "--max-prefixes", "5"], "--max-prefixes does not apply"),
        (["--option", "ip-ranges", "--max-prefixes", "5000"], "4000 destination prefixes per NSG"),
    ],
)  # fmt: skip
def test_max_prefixes_is_checked_by_the_place_and_never_silently_ignored(
    args: list[str], needle: str
) -> None:
    result = runner.invoke(app, ["plan", "--region", "eastus", *args])
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("Error: ") and needle in result.stderr and result.stderr.count("\n") == 1


FW_KEYS = {"place": "firewall-policy", "vnet": ["10.0.0.0/16"], "firewall_ip": "10.0.1.4"}


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"place": "route-table", "rule_prefix": "bad name!"}, "--rule-prefix 'bad name!'"),
        ({"place": "route-table", "priority_start": 300}, "--priority-start does not apply to --place route-table"),
        ({"place": "route-table", "max_prefixes": 50}, "--max-prefixes applies to --option ip-ranges"),
        ({**FW_KEYS, "next_hop": "Internet"}, "--next-hop does not apply to --place firewall-policy"),
        ({**FW_KEYS, "priority_start": 70000}, "outside the firewall's 100-65000"),
        ({"vnet": ["10.0.0.0/16"]}, "--vnet applies to --place route-table or firewall-policy"),
    ],
)  # fmt: skip
def test_refresh_checks_a_target_entry_as_its_place_checks_flags(
    tmp_path: Path, shared_data: Path, entry: dict, needle: str
) -> None:
    """Before: refresh never ran the place's checks, so an entry's key its place ignores passed silently and a bad
    rule prefix wrote route names Azure refuses ("bad name!storage-eastus")."""
    doc = {"name": "t", "properties": {"routes": [], "securityRules": [], "ruleCollections": []}}
    target = tmp_path / "t.json"
    target.write_text(json.dumps(doc))
    config = write_config(
        tmp_path / "egress.toml",
        [{"name": "t", "target": str(target), **entry}],
        option="service-tags",
        region="eastus",
        priority_start=300,  # [defaults] keys are shared by every place's entries: never refused
    )
    result = refresh(config, "--data", week(shared_data, "20250127"), "--apply", "-o", "json")
    assert result.exit_code == 1, result.stdout
    report = by_name(report_of(result))["t"]
    assert report["result"] == "error" and needle in report["message"], report["message"]
    assert json.loads(target.read_text()) == doc


@pytest.mark.parametrize(
    ("place_args", "what"),
    [
        (["--place", "route-table"], "route table"),
        (["--place", "firewall-policy", "--vnet", "10.0.0.0/16", "--firewall-ip", "10.0.1.4"], "rule collection group"),
    ],
)  # fmt: skip
def test_file_target_errors_name_the_places_resource_not_the_nsg(
    tmp_path: Path, place_args: list[str], what: str
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    for target, needle in (
        (tmp_path / "missing.json", f"no such file; check the {what} path."),
        (tmp_path, f"is a directory; pass the {what}'s JSON file."),
        (empty, f"empty file; save the {what} as JSON"),
    ):
        result = runner.invoke(
            app, ["apply", "--region", "eastus", *place_args, "--target", str(target), "--yes"]
        )
        assert result.exit_code == 1, result.stdout
        error = result.stderr.splitlines()[-1]
        assert error.startswith("Error: ") and needle in error and "NSG" not in error, error
    assert empty.read_bytes() == b""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--next-hop-ip", "127.0.0.1"], "--next-hop-ip 127.0.0.1 is a loopback address"),
        (["--next-hop-ip", "::1"], "--next-hop-ip ::1 is a loopback address"),
        (["--next-hop-ip", "0.0.0.0"], "--next-hop-ip 0.0.0.0 is unspecified"),
        (["--next-hop-ip", "255.255.255.255"], "--next-hop-ip 255.255.255.255 is a reserved address"),
        (["--next-hop-ip", "224.0.0.5"], "--next-hop-ip 224.0.0.5 is a multicast address"),
        (["--next-hop-ip", "169.254.169.254"], "--next-hop-ip 169.254.169.254 is link-local"),
        (["--next-hop-ip", "10.0.0.4 "], "--next-hop-ip '10.0.0.4 ' is not an IP address"),
    ],
)
def test_a_next_hop_must_be_an_address_a_nic_can_hold(args: list[str], needle: str) -> None:
    base = ["plan", "--region", "eastus", "--place", "route-table", "--next-hop", "VirtualAppliance"]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("Error: ") and needle in result.stderr and result.stderr.count("\n") == 1
    fine = runner.invoke(app, [*base, "--next-hop-ip", "10.0.0.4", "-o", "json"])
    assert fine.exit_code == 0 and '"nextHopIpAddress": "10.0.0.4"' in fine.stdout


def test_a_firewall_ip_must_be_an_address_a_nic_can_hold() -> None:
    args = ["plan", "--region", "eastus", "--place", "firewall-policy", "--vnet", "0.0.0.0/0"]
    result = runner.invoke(app, [*args, "--firewall-ip", "0.0.0.0"])
    assert result.exit_code == 2 and "--firewall-ip 0.0.0.0 is unspecified" in result.stderr
