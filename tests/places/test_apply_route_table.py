"""`egress apply --place route-table` against local files and the ARM double (real azure-mgmt-network client):
ownership, one GET + one If-Match PUT, 412 re-plan, retries, LRO failure, conflicts, safety and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.armdouble import ArmDouble

runner = CliRunner()
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RT_ID = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/routeTables/rt-vms"
FOREIGN = [
    {
        "name": "default-to-fw",
        "properties": {
            "addressPrefix": "0.0.0.0/0",
            "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": "10.0.1.4",
        },
    },
    {
        "name": "onprem",
        "properties": {"addressPrefix": "192.168.0.0/16", "nextHopType": "VirtualNetworkGateway"},
    },
]


@pytest.fixture(scope="module")
def data(shared_data: Path) -> str:
    return str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


@pytest.fixture
def rt_file(tmp_path: Path) -> Path:
    path = tmp_path / "rt.json"
    path.write_text(
        json.dumps({"name": "rt-vms", "location": "eastus", "properties": {"routes": FOREIGN}}, indent=2)
    )
    return path


@pytest.fixture
def live(arm_env: ArmDouble, fake_az, data: str, monkeypatch: pytest.MonkeyPatch) -> ArmDouble:
    arm_env.set_service_tags(data)
    arm_env.route_tables.seed(RT_ID, {"location": "eastus", "properties": {"routes": FOREIGN}})
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    return arm_env


def run(*args: str):
    return runner.invoke(app, ["apply", "--place", "route-table", *args])


def azure(*args: str):
    return run("--target", f"azure:{RT_ID}", "--auth", "cli", *args)


def routes_of(doc: dict) -> dict[str, dict]:
    return {r["name"]: r for r in doc["properties"]["routes"]}


def foreign_bytes(doc: dict) -> str:
    """Foreign routes as stored, but for the etag Azure moves on every write of the table."""
    foreign = [{k: v for k, v in r.items() if k != "etag"} for r in doc["properties"]["routes"]]
    return json.dumps([r for r in foreign if not r["name"].startswith("egress-")], sort_keys=True)


# --- local files ----------------------------------------------------------------------------------------------


def test_file_apply_then_noop_keeps_foreign_routes_byte_identical(rt_file: Path, data: str) -> None:
    before = json.loads(rt_file.read_text())
    first = run("--target", str(rt_file), "--region", "eastus", "--data", data, "--yes")
    assert first.exit_code == 3, first.stderr
    assert "3 to create" in first.stdout and "2 routes not egress's left as they are" in first.stdout
    after = json.loads(rt_file.read_text())
    assert after["properties"]["routes"][:2] == before["properties"]["routes"]
    assert routes_of(after)["egress-storage-eastus"]["properties"] == {
        "addressPrefix": "Storage.EastUS",
        "nextHopType": "Internet",
    }
    text = rt_file.read_text()
    second = run("--target", str(rt_file), "--region", "eastus", "--data", data, "--yes")
    assert second.exit_code == 0 and "No changes to " in second.stdout
    assert rt_file.read_text() == text


def test_file_in_az_shape_keeps_its_shape(tmp_path: Path, data: str) -> None:
    path = tmp_path / "az.json"
    flat = [{"name": r["name"], **r["properties"], "provisioningState": "Succeeded"} for r in FOREIGN]
    path.write_text(json.dumps({"name": "rt-vms", "resourceGroup": "rg-net", "routes": flat}))
    result = run("--target", str(path), "--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    doc = json.loads(path.read_text())
    assert doc["routes"][:2] == flat and doc["resourceGroup"] == "rg-net"
    assert {"name": "egress-azurebackup", "addressPrefix": "AzureBackup", "nextHopType": "Internet"} in doc[
        "routes"
    ]


def test_same_prefix_foreign_route_is_a_conflict_and_nothing_is_written(tmp_path: Path, data: str) -> None:
    path = tmp_path / "rt.json"
    theirs = {
        "name": "backup-direct",
        "properties": {"addressPrefix": "AzureBackup", "nextHopType": "Internet"},
    }
    path.write_text(json.dumps({"name": "rt-vms", "properties": {"routes": [theirs]}}))
    before = path.read_bytes()
    result = run("--target", str(path), "--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "backup-direct (AzureBackup)" in result.stderr
    assert path.read_bytes() == before


def test_more_specific_foreign_route_is_reported(tmp_path: Path, data: str) -> None:
    path = tmp_path / "rt.json"
    # 20.60.60.0/22 is a Storage.EastUS prefix; this /24 inside it sends part of it to an appliance.
    theirs = {
        "name": "inspect",
        "properties": {
            "addressPrefix": "20.60.61.0/24",
            "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": "10.0.9.9",
        },
    }
    path.write_text(json.dumps({"name": "rt-vms", "properties": {"routes": [theirs]}}))
    result = run(
        "--target", str(path), "--option", "ip-ranges", "--tag", "Storage.EastUS", "--region", "eastus",
        "--data", data, "--dry-run", "-o", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    (finding,) = doc["findings"]
    assert finding.startswith("route inspect (20.60.61.0/24 -> VirtualAppliance 10.0.9.9) is more specific")


def test_max_deletes_and_dry_run_exit_codes(rt_file: Path, data: str) -> None:
    assert run("--target", str(rt_file), "--option", "ip-ranges", "--tag", "AzureBackup.EastUS", "--region",
               "eastus", "--data", data, "--yes").exit_code == 3  # fmt: skip
    dry = run(
        "--target", str(rt_file), "--region", "eastus", "--data", data, "--dry-run", "--detailed-exitcode"
    )
    assert dry.exit_code == 4 and "deletes 11 routes" in dry.stderr  # 11 CIDR routes would go
    refused = run(
        "--target", str(rt_file), "--region", "eastus", "--data", data, "--yes", "--max-deletes", "3"
    )
    assert refused.exit_code == 4 and "nothing was written" in refused.stderr
    forced = run("--target", str(rt_file), "--region", "eastus", "--data", data, "--yes", "--force")
    assert forced.exit_code == 3
    assert len(json.loads(rt_file.read_text())["properties"]["routes"]) == 5


def test_a_tag_without_udr_is_refused_naming_it(rt_file: Path, data: str) -> None:
    before = rt_file.read_bytes()
    result = run(
        "--target", str(rt_file), "--tag", "AzureBackup.EastUS", "--region", "eastus", "--data", data, "--yes"
    )
    assert result.exit_code == 1 and "AzureBackup.EastUS" in result.stderr and "UDR" in result.stderr
    assert result.stderr.count("\n") == 1 and rt_file.read_bytes() == before


# --- Azure (the ARM double) -----------------------------------------------------------------------------------


def test_azure_apply_then_noop_is_one_get(live: ArmDouble, data: str) -> None:
    before = foreign_bytes(live.route_tables.get(RT_ID))
    first = azure("--region", "eastus", "--data", data, "--yes")
    assert first.exit_code == 3, first.stderr
    assert live.count("PUT") == 1 and all(r.if_match for r in live.requests if r.method == "PUT")
    stored = live.route_tables.get(RT_ID)
    assert foreign_bytes(stored) == before
    assert (
        routes_of(stored)["egress-azureactivedirectory"]["properties"]["addressPrefix"]
        == "AzureActiveDirectory"
    )
    live.requests.clear()
    second = azure("--region", "eastus", "--data", data, "--yes")
    assert second.exit_code == 0, second.stderr
    assert [(r.method, r.kind) for r in live.requests] == [("GET", "route-table")]


def test_azure_and_file_plan_alike(live: ArmDouble, rt_file: Path, data: str) -> None:
    args = ("--option", "ip-ranges", "--tag", "AzureBackup.EastUS", "--region", "eastus", "--data", data,
            "--dry-run", "-o", "json")  # fmt: skip
    a, f = azure(*args), run("--target", str(rt_file), *args)
    assert a.exit_code == f.exit_code == 0
    assert json.loads(a.stdout)["changes"] == json.loads(f.stdout)["changes"]


def test_concurrent_edit_is_replanned_and_kept(live: ArmDouble, data: str) -> None:
    state = {"done": False}

    def editor(request) -> None:
        if request.method == "PUT" and not state["done"]:
            state["done"] = True
            live.route_tables.edit(
                RT_ID,
                lambda d: d["properties"]["routes"].append(
                    {"name": "theirs", "properties": {"addressPrefix": "10.9.0.0/16", "nextHopType": "None"}}
                ),
            )

    live.on_request(editor)
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    stored = routes_of(live.route_tables.get(RT_ID))
    assert "theirs" in stored and len([n for n in stored if n.startswith("egress-")]) == 3
    assert [r.status for r in live.requests if r.method == "PUT"] == [412, 200]


def test_azure_throttle_busy_and_5xx_are_retried(live: ArmDouble, data: str) -> None:
    live.inject("throttle", method="PUT", retry_after="0")
    live.inject("busy", method="PUT", retry_after="0")
    live.inject("error", method="GET", retry_after="0")
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    assert live.count("PUT") == 3


def test_failed_operation_is_reported_and_routes_restored(live: ArmDouble, data: str) -> None:
    before = live.route_tables.get(RT_ID)["properties"]["routes"]
    live.inject(
        "lro-failed", method="PUT", code="InternalServerError", message="Routes could not be programmed."
    )
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 1 and "Routes could not be programmed" in result.stderr
    after = live.route_tables.get(RT_ID)
    assert [r["name"] for r in after["properties"]["routes"]] == [r["name"] for r in before]
    assert after["properties"]["provisioningState"] == "Failed"


def test_the_double_refuses_a_tag_route_without_udr(live: ArmDouble, data: str) -> None:
    """What Azure answers when a route names a tag without UDR: egress's --expand-unusable never sends one."""
    live.route_tables.edit(RT_ID, lambda d: None)
    from egress.adapters.azure import resolve_endpoint
    from egress.adapters.azure.resource_ids import parse_route_table_id
    from egress.adapters.azure.route_table_client import RouteTableClient
    from egress.errors import AzureError
    from tests.armdouble.plugin import FakeCredential

    client = RouteTableClient(
        parse_route_table_id(RT_ID), resolve_endpoint("public", live.base_url), FakeCredential(),
        polling_interval=0, ca_bundle=live.ca_path,
    )  # fmt: skip
    doc, etag = client.get()
    doc["properties"]["routes"].append(
        {"name": "bad", "properties": {"addressPrefix": "AzureBackup.EastUS", "nextHopType": "Internet"}}
    )
    with pytest.raises(AzureError, match="InvalidServiceTagForRoute"):
        client.put(doc, etag)
    doc["properties"]["routes"][-1]["properties"] = {"addressPrefix": "10.0.0.0/8", "nextHopType": "Internet",
                                                     "nextHopIpAddress": "10.0.0.4"}  # fmt: skip
    with pytest.raises(AzureError, match="NextHopIpAddressNotAllowed"):
        client.put(doc, etag)
    client.close()


def test_missing_table_and_bad_id(arm_env: ArmDouble, fake_az, data: str) -> None:
    missing = azure("--region", "eastus", "--data", data, "--yes")
    assert missing.exit_code == 1 and "route table name" in missing.stderr
    bad = run("--target", "azure:/subscriptions/x/routeTables/y", "--region", "eastus", "--data", data)
    assert bad.exit_code == 2 and "route table resource id" in bad.stderr


def test_flags_of_other_places_are_refused(rt_file: Path, data: str) -> None:
    result = run("--target", str(rt_file), "--region", "eastus", "--data", data, "--firewall-ip", "10.0.1.4")
    assert result.exit_code == 2 and "--firewall-ip does not apply to --place route-table" in result.stderr
    result = run(
        "--target", str(rt_file), "--region", "eastus", "--data", data, "--next-hop", "VirtualAppliance"
    )
    assert result.exit_code == 2 and "--next-hop-ip" in result.stderr
