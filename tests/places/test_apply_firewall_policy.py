"""`egress apply --place firewall-policy` against local files and the ARM double's rule collection groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.armdouble import ArmDouble

runner = CliRunner()
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
POLICY_ID = (
    f"/subscriptions/{SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/firewallPolicies/fw-policy"
)
RCG_ID = f"{POLICY_ID}/ruleCollectionGroups/egress-backup"
THEIRS = {
    "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
    "name": "Example-Filter-Rule-Collection",
    "priority": 100,  # where egress would start: egress goes around it
    "action": {"type": "Deny"},
    "rules": [
        {
            "ruleType": "NetworkRule",
            "name": "network-rule1",
            "sourceAddresses": ["10.1.25.0/24"],
            "destinationAddresses": ["*"],
            "ipProtocols": ["TCP"],
            "destinationPorts": ["*"],
        }
    ],
}
FW = ("--vnet", "10.0.0.0/16", "--firewall-ip", "10.0.1.4")


@pytest.fixture(scope="module")
def data(shared_data: Path) -> str:
    return str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


@pytest.fixture
def rcg_file(tmp_path: Path) -> Path:
    path = tmp_path / "rcg.json"
    doc = {"name": "egress-backup", "properties": {"priority": 200, "ruleCollections": [THEIRS]}}
    path.write_text(json.dumps(doc, indent=2))
    return path


@pytest.fixture
def live(arm_env: ArmDouble, fake_az, data: str, monkeypatch: pytest.MonkeyPatch) -> ArmDouble:
    arm_env.set_service_tags(data)
    arm_env.firewall_policies.seed_policy(POLICY_ID)
    arm_env.firewall_policies.seed_group(
        POLICY_ID, "egress-backup", {"priority": 200, "ruleCollections": [THEIRS]}
    )
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    return arm_env


def run(*args: str):
    return runner.invoke(app, ["apply", "--place", "firewall-policy", *FW, *args])


def azure(*args: str):
    return run("--target", f"azure:{RCG_ID}", "--auth", "cli", *args)


def collections(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in doc["properties"]["ruleCollections"]}


def test_file_apply_then_noop_keeps_foreign_collections(rcg_file: Path, data: str) -> None:
    first = run("--target", str(rcg_file), "--region", "eastus", "--data", data, "--yes")
    assert first.exit_code == 3, first.stderr
    doc = json.loads(rcg_file.read_text())
    assert doc["properties"]["ruleCollections"][0] == THEIRS and doc["properties"]["priority"] == 200
    mine = collections(doc)
    assert mine["egress-backup-app"]["priority"] == 101 and mine["egress-backup-net"]["priority"] == 102
    app_rule = mine["egress-backup-app"]["rules"][0]
    assert app_rule["fqdnTags"] == ["AzureBackup"] and app_rule["protocols"] == [
        {"protocolType": "Https", "port": 443}
    ]
    net = mine["egress-backup-net"]["rules"]
    assert [r["destinationAddresses"] for r in net] == [["Storage.EastUS"], ["AzureActiveDirectory"]]
    assert all(r["sourceAddresses"] == ["10.0.0.0/16"] and r["ipProtocols"] == ["TCP"] for r in net)
    text = rcg_file.read_text()
    second = run("--target", str(rcg_file), "--region", "eastus", "--data", data, "--yes")
    assert second.exit_code == 0 and rcg_file.read_text() == text


def test_firewall_ip_outside_the_vnet_is_one_line_and_nothing_written(rcg_file: Path, data: str) -> None:
    before = rcg_file.read_bytes()
    result = runner.invoke(
        app,
        ["apply", "--place", "firewall-policy", "--vnet", "10.0.0.0/16", "--firewall-ip", "10.1.0.4",
         "--target", str(rcg_file), "--region", "eastus", "--data", data, "--yes"],
    )  # fmt: skip
    assert (
        result.exit_code == 2 and "--firewall-ip 10.1.0.4 is outside the VNet (10.0.0.0/16)" in result.stderr
    )
    assert result.stderr.count("\n") == 1 and rcg_file.read_bytes() == before


def test_a_tag_without_fw_is_refused_or_expanded(rcg_file: Path, data: str) -> None:
    before = rcg_file.read_bytes()
    refused = run(
        "--target", str(rcg_file), "--tag", "AzureBackup.EastUS", "--region", "eastus", "--data", data
    )
    assert refused.exit_code == 1 and "AzureBackup.EastUS" in refused.stderr and "FW" in refused.stderr
    assert rcg_file.read_bytes() == before
    expanded = run("--target", str(rcg_file), "--tag", "AzureBackup.EastUS", "--expand-unusable", "--region",
                   "eastus", "--data", data, "--yes")  # fmt: skip
    assert expanded.exit_code == 3, expanded.stderr
    (rule,) = collections(json.loads(rcg_file.read_text()))["egress-backup-net"]["rules"]
    assert all("/" in d for d in rule["destinationAddresses"])


def test_azure_apply_then_noop_is_one_get(live: ArmDouble, data: str) -> None:
    first = azure("--region", "eastus", "--data", data, "--yes")
    assert first.exit_code == 3, first.stderr
    stored = live.firewall_policies.group(RCG_ID)
    assert stored["properties"]["ruleCollections"][0] == THEIRS
    assert set(collections(stored)) == {THEIRS["name"], "egress-backup-app", "egress-backup-net"}
    assert [r.if_match is not None for r in live.requests if r.method == "PUT"] == [True]
    live.requests.clear()
    second = azure("--region", "eastus", "--data", data, "--yes")
    assert second.exit_code == 0, second.stderr
    assert [(r.method, r.kind) for r in live.requests] == [("GET", "rule-collection-group")]


def test_azure_concurrent_edit_is_replanned(live: ArmDouble, data: str) -> None:
    state = {"done": False}
    other = {**THEIRS, "name": "late", "priority": 101}

    def editor(request) -> None:
        if request.method == "PUT" and not state["done"]:
            state["done"] = True
            live.firewall_policies.edit_group(
                RCG_ID, lambda d: d["properties"]["ruleCollections"].append(other)
            )

    live.on_request(editor)
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    stored = collections(live.firewall_policies.group(RCG_ID))
    assert stored["late"]["priority"] == 101
    assert {stored["egress-backup-app"]["priority"], stored["egress-backup-net"]["priority"]} == {102, 103}
    assert [r.status for r in live.requests if r.method == "PUT"] == [412, 200]


def test_azure_faults_retried_and_lro_failure_reported(live: ArmDouble, data: str) -> None:
    live.inject("throttle", method="PUT", retry_after="0")
    live.inject("error", method="PUT", retry_after="0")
    assert azure("--region", "eastus", "--data", data, "--yes").exit_code == 3
    before = live.firewall_policies.group(RCG_ID)["properties"]["ruleCollections"]
    live.inject(
        "lro-failed", method="PUT", code="FirewallPolicyUpdateFailed", message="Policy could not be updated."
    )
    result = azure("--region", "westus", "--data", data, "--yes")
    assert result.exit_code == 1 and "FirewallPolicyUpdateFailed" in result.stderr
    assert live.firewall_policies.group(RCG_ID)["properties"]["ruleCollections"] == before


def test_the_double_validates_like_azure(live: ArmDouble, data: str) -> None:
    from egress.adapters.azure import resolve_endpoint
    from egress.adapters.azure.firewall_policy_client import RuleCollectionGroupClient
    from egress.adapters.azure.resource_ids import parse_rule_collection_group_id
    from egress.errors import AzureError
    from tests.armdouble.plugin import FakeCredential

    client = RuleCollectionGroupClient(
        parse_rule_collection_group_id(RCG_ID), resolve_endpoint("public", live.base_url), FakeCredential(),
        polling_interval=0, ca_bundle=live.ca_path,
    )  # fmt: skip
    doc, etag = client.get()
    bad = json.loads(json.dumps(doc))
    bad["properties"]["ruleCollections"].append({**THEIRS, "name": "dup-priority"})
    with pytest.raises(AzureError, match="RuleCollectionPriorityNotUnique"):
        client.put(bad, etag)
    bad = json.loads(json.dumps(doc))
    rule = {**THEIRS["rules"][0], "destinationAddresses": ["AzureBackup.EastUS"]}
    bad["properties"]["ruleCollections"].append({**THEIRS, "name": "no-fw", "priority": 300, "rules": [rule]})
    with pytest.raises(AzureError, match="InvalidServiceTagInNetworkRule"):
        client.put(bad, etag)
    client.close()


def test_a_missing_group_is_created_only_if_still_missing(
    arm_env: ArmDouble, fake_az, data: str, monkeypatch
) -> None:
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    arm_env.firewall_policies.seed_policy(POLICY_ID)
    result = azure("--region", "eastus", "--data", data, "--yes", "--priority-start", "300")
    assert result.exit_code == 3, result.stderr
    assert "does not exist yet: egress creates it with priority 300" in result.stdout
    (put,) = [r for r in arm_env.requests if r.method == "PUT"]
    assert put.headers.get("if-none-match") == "*" and "if-match" not in put.headers
    stored = arm_env.firewall_policies.group(RCG_ID)
    assert stored["properties"]["priority"] == 300 and len(stored["properties"]["ruleCollections"]) == 2


def test_a_group_created_meanwhile_is_replanned(arm_env: ArmDouble, fake_az, data: str, monkeypatch) -> None:
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    arm_env.firewall_policies.seed_policy(POLICY_ID)
    state = {"done": False}

    def creator(request) -> None:
        if request.method == "PUT" and not state["done"]:
            state["done"] = True
            arm_env.firewall_policies.seed_group(
                POLICY_ID, "egress-backup", {"priority": 250, "ruleCollections": [THEIRS]}
            )

    arm_env.on_request(creator)
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    stored = arm_env.firewall_policies.group(RCG_ID)
    assert stored["properties"]["priority"] == 250 and stored["properties"]["ruleCollections"][0] == THEIRS
    assert [r.status for r in arm_env.requests if r.method == "PUT"] == [412, 200]


def test_missing_policy_names_what_to_check(arm_env: ArmDouble, fake_az, data: str) -> None:
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 1 and "rule collection group names" in result.stderr
