from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.armdouble import ArmDouble

runner = CliRunner()
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
NSG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.Network/networkSecurityGroups/nsg-lockdown"
POLICY = {
    "name": "NRMS-Rule-101",
    "properties": {
        "access": "Deny",
        "description": "injected by organisation policy",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "23",
        "direction": "Outbound",
        "priority": 200,  # where egress would start
        "protocol": "Tcp",
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
    },
}


@pytest.fixture(scope="module")
def data(shared_data: Path) -> str:
    return str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


@pytest.fixture
def nsg_file(tmp_path: Path) -> Path:
    path = tmp_path / "nsg.json"
    path.write_text(
        json.dumps({"name": "nsg-lockdown", "location": "eastus", "properties": {"securityRules": [POLICY]}})
    )
    return path


@pytest.fixture
def live(arm_env: ArmDouble, fake_az, monkeypatch: pytest.MonkeyPatch) -> ArmDouble:
    arm_env.seed_nsg(NSG_ID, {"location": "eastus", "properties": {"securityRules": [POLICY]}})
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")  # the double sends no Retry-After; poll at once
    return arm_env


def run(*args: str):
    return runner.invoke(app, ["apply", *args])


def rules_of(doc: dict) -> dict[str, dict]:
    return {r["name"]: r for r in doc["properties"]["securityRules"]}


# --- local file target -----------------------------------------------------------------------------------------


def test_file_apply_then_noop(nsg_file: Path, data: str) -> None:
    first = run("--target", str(nsg_file), "--region", "eastus", "--data", data, "--yes")
    assert first.exit_code == 3, first.stderr
    assert "4 to create" in first.stdout and "Applied to" in first.stdout
    doc = json.loads(nsg_file.read_text())
    rules = rules_of(doc)
    assert rules["NRMS-Rule-101"] == POLICY  # foreign rule kept exactly
    assert rules["egress-storage-eastus"]["properties"]["priority"] == 201  # allocated around the policy rule
    stat = nsg_file.stat()
    second = run("--target", str(nsg_file), "--region", "eastus", "--data", data, "--yes")
    assert second.exit_code == 0, second.stderr
    assert "No changes to " in second.stdout
    assert nsg_file.stat().st_mtime_ns == stat.st_mtime_ns  # no write at all


def test_file_in_az_shape_keeps_its_shape(tmp_path: Path, data: str) -> None:
    flat = {
        "name": "nsg-lockdown",
        "resourceGroup": "rg",
        "securityRules": [{"name": POLICY["name"], **POLICY["properties"]}],
    }
    path = tmp_path / "az.json"
    path.write_text(json.dumps(flat))
    result = run("--target", str(path), "--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    doc = json.loads(path.read_text())
    assert "properties" not in doc and doc["resourceGroup"] == "rg"
    names = [r["name"] for r in doc["securityRules"]]
    assert names[0] == "NRMS-Rule-101" and "egress-deny-internet" in names
    assert doc["securityRules"][0] == flat["securityRules"][0]


def test_dry_run_detailed_exitcode_and_json(nsg_file: Path, data: str) -> None:
    before = nsg_file.read_bytes()
    result = run(
        "--target",
        str(nsg_file),
        "--region",
        "eastus",
        "--data",
        data,
        "--dry-run",
        "--detailed-exitcode",
        "-o",
        "json",
    )
    assert result.exit_code == 3, result.stderr
    doc = json.loads(result.stdout)
    assert doc["applied"] is False and doc["dryRun"] is True
    assert [c["action"] for c in doc["changes"]] == ["create"] * 4
    assert nsg_file.read_bytes() == before
    plain = run("--target", str(nsg_file), "--region", "eastus", "--data", data, "--dry-run")
    assert plain.exit_code == 0


def test_no_terminal_without_yes_is_refused(nsg_file: Path, data: str) -> None:
    before = nsg_file.read_bytes()
    result = run("--target", str(nsg_file), "--region", "eastus", "--data", data)
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: not applied: standard input is not a terminal")
    assert nsg_file.read_bytes() == before


def test_max_deletes_refuses_with_exit_4_unless_forced(nsg_file: Path, data: str) -> None:
    assert (
        run(
            "--target", str(nsg_file), "--option", "ip-ranges", "--region", "eastus", "--data", data, "--yes"
        ).exit_code
        == 3
    )
    before = nsg_file.read_bytes()
    refused = run("--target", str(nsg_file), "--region", "eastus", "--data", data, "--yes")
    assert refused.exit_code == 4 and "more than --max-deletes 10" in refused.stderr
    assert nsg_file.read_bytes() == before
    forced = run("--target", str(nsg_file), "--region", "eastus", "--data", data, "--yes", "--force")
    assert forced.exit_code == 3
    assert set(rules_of(json.loads(nsg_file.read_text()))) == {
        "NRMS-Rule-101",
        "egress-storage-eastus",
        "egress-azurebackup",
        "egress-azureactivedirectory",
        "egress-deny-internet",
    }


@pytest.mark.parametrize(
    ("target", "needle"),
    [("missing.json", "no such file"), (".", "is a directory")],
)
def test_bad_file_targets(tmp_path: Path, data: str, target: str, needle: str) -> None:
    result = run("--target", str(tmp_path / target), "--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 1 and needle in result.stderr and result.stderr.count("\n") == 1


def test_malformed_nsg_json_is_one_line(tmp_path: Path, data: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"properties": {"securityRules": [{"name": "x", "properties": {"priority": "high"}}]}}')
    result = run("--target", str(path), "--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and "Traceback" not in result.stderr


# --- Azure target through the ARM double ---------------------------------------------------------------------


def azure(*args: str):
    return run("--target", f"azure:{NSG_ID}", "--auth", "cli", *args)


def test_azure_apply_then_noop_is_one_get(live: ArmDouble, data: str) -> None:
    first = azure("--region", "eastus", "--data", data, "--yes")
    assert first.exit_code == 3, first.stderr
    assert live.count("PUT") == 1
    stored = rules_of(live.nsg(NSG_ID))
    assert {k: stored["NRMS-Rule-101"]["properties"][k] for k in POLICY["properties"]} == POLICY["properties"]
    assert stored["egress-storage-eastus"]["properties"]["destinationAddressPrefix"] == "Storage.EastUS"
    live.requests.clear()
    second = azure("--region", "eastus", "--data", data, "--yes")
    assert second.exit_code == 0, second.stderr
    assert [(r.method, r.kind) for r in live.requests] == [("GET", live.requests[0].kind)]
    assert live.count("GET") == 1 and live.count("PUT") == 0


def test_azure_and_file_targets_plan_alike(live: ArmDouble, nsg_file: Path, data: str) -> None:
    on_azure = azure("--option", "ip-ranges", "--region", "eastus", "--data", data, "--dry-run", "-o", "json")
    on_file = run(
        "--target",
        str(nsg_file),
        "--option",
        "ip-ranges",
        "--region",
        "eastus",
        "--data",
        data,
        "--dry-run",
        "-o",
        "json",
    )
    assert on_azure.exit_code == on_file.exit_code == 0
    a, f = json.loads(on_azure.stdout), json.loads(on_file.stdout)
    assert a["changes"] == f["changes"] and a["summary"] == f["summary"]


def test_concurrent_edit_between_get_and_put_is_replanned(live: ArmDouble, data: str) -> None:
    state = {"done": False}

    def editor(request) -> None:
        if request.method == "PUT" and not state["done"]:
            state["done"] = True
            live.edit_nsg(
                NSG_ID,
                lambda d: d["properties"]["securityRules"].append(
                    {**POLICY, "name": "theirs", "properties": {**POLICY["properties"], "priority": 202}}
                ),
            )

    live.on_request(editor)
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    stored = rules_of(live.nsg(NSG_ID))
    assert (
        "theirs" in stored and stored["theirs"]["properties"]["priority"] == 202
    )  # the concurrent edit survives
    ours = {n: r["properties"]["priority"] for n, r in stored.items() if n.startswith("egress-")}
    assert 202 not in ours.values() and len(ours) == 4
    puts = [r for r in live.requests if r.method == "PUT"]
    assert len(puts) == 2  # first refused with 412, second after the re-plan


def test_azure_validation_error_is_reported_and_nsg_unchanged(live: ArmDouble, data: str) -> None:
    before = live.nsg(NSG_ID)
    live.inject("status", method="PUT", status=400, code="SecurityRuleConflict", message="Rules conflict.")
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 1
    assert "SecurityRuleConflict" in result.stderr and result.stderr.count("\n") == 1
    assert live.nsg(NSG_ID)["properties"]["securityRules"] == before["properties"]["securityRules"]


def test_azure_throttle_is_retried(live: ArmDouble, data: str) -> None:
    live.inject("throttle", method="PUT", retry_after="0")
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    assert live.count("PUT") == 2


def test_missing_nsg_is_a_clear_error(arm_env: ArmDouble, fake_az, data: str) -> None:
    result = azure("--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")


def test_bad_azure_id_is_a_usage_error(data: str) -> None:
    result = run("--target", "azure:/subscriptions/x/nsg", "--region", "eastus", "--data", data)
    assert result.exit_code == 2 and result.stderr.startswith("Error: ")


def test_refused_plan_still_printed_as_json(nsg_file: Path, data: str) -> None:
    assert (
        run(
            "--target", str(nsg_file), "--option", "ip-ranges", "--region", "eastus", "--data", data, "--yes"
        ).exit_code
        == 3
    )
    result = run("--target", str(nsg_file), "--region", "eastus", "--data", data, "--yes", "-o", "json")
    assert result.exit_code == 4
    doc = json.loads(result.stdout)
    assert doc["applied"] is False and "max-deletes" in doc["refused"]
    assert sum(1 for c in doc["changes"] if c["action"] == "delete") > 10
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--proxy-ip", "10.0.0.5"], "--proxy-ip applies to --option proxy only"),
        (["--for", "proxy"], "--for applies to --option proxy only"),
        (["--max-prefixes", "10"], "--max-prefixes applies to --option ip-ranges"),
        (["--config", ""], "--config is empty"),
        (["--config", "/dev/zero"], "that is not an egress config"),
    ],
)
def test_flags_the_option_would_ignore_are_refused(
    nsg_file: Path, data: str, args: list[str], needle: str
) -> None:
    result = run("--target", str(nsg_file), "--region", "eastus", "--data", data, "--dry-run", *args)
    assert result.exit_code == 2, result.stderr
    assert needle in result.stderr and result.stderr.count("\n") == 1


# --- issue 15: ownership and state ------------------------------------------------------------------------------


def test_an_empty_rule_prefix_is_refused_and_deletes_nothing(nsg_file: Path, data: str) -> None:
    first = run(
        "--target", str(nsg_file), "--region", "eastus", "--data", data, "--rule-prefix", "teamb-", "--yes"
    )
    assert first.exit_code == 3, first.stderr
    before = nsg_file.read_bytes()
    result = run(
        "--target", str(nsg_file), "--region", "eastus", "--data", data, "--rule-prefix", "", "--yes"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --rule-prefix is empty") and result.stderr.count("\n") == 1
    assert nsg_file.read_bytes() == before


def test_a_prefix_never_takes_the_rules_of_a_longer_prefix(nsg_file: Path, data: str) -> None:
    # Issue 15: a run under a prefix that starts another owner's (here `team` vs `teamb-`) deleted that owner's
    # egress-marked rules. Ownership is the exact prefix recorded in the description.
    teamb = run(
        "--target", str(nsg_file), "--region", "eastus", "--data", data, "--rule-prefix", "teamb-", "--yes"
    )
    assert teamb.exit_code == 3, teamb.stderr
    theirs = {n: r for n, r in rules_of(json.loads(nsg_file.read_text())).items() if n.startswith("teamb-")}
    assert len(theirs) == 4
    assert all(r["properties"]["description"].startswith("[egress:teamb-] ") for r in theirs.values())
    team = run(
        "--target", str(nsg_file), "--region", "westus", "--data", data, "--rule-prefix", "team",
        "--no-deny-internet", "--yes",
    )  # fmt: skip
    assert team.exit_code == 3, team.stderr
    assert "0 to delete" in team.stdout
    after = rules_of(json.loads(nsg_file.read_text()))
    assert {n: after[n] for n in theirs} == theirs  # untouched, byte for byte
    assert "teamstorage-westus" in after
    # And the default prefix keeps its bare marker, so existing deployments see no change.
    default = run(
        "--target", str(nsg_file), "--region", "eastus", "--data", data, "--no-deny-internet", "--dry-run"
    )
    assert default.exit_code == 0, default.stderr
    assert "3 to create, 0 to update, 0 to delete" in default.stdout


def test_a_legacy_marker_under_another_prefix_is_never_deleted(tmp_path: Path, data: str) -> None:
    # Written before owners were recorded: `[egress]` on a rule of some prefix that starts with `team`.
    legacy = {
        "name": "teamb-storage-eastus",
        "properties": {
            **POLICY["properties"],
            "priority": 300,
            "description": "[egress] allow Storage.EastUS",
        },
    }
    path = tmp_path / "nsg.json"
    path.write_text(json.dumps({"name": "n", "properties": {"securityRules": [POLICY, legacy]}}))
    result = run(
        "--target", str(path), "--region", "eastus", "--data", data, "--rule-prefix", "team", "--yes"
    )
    assert result.exit_code == 3, result.stderr
    assert "0 to delete" in result.stdout
    assert rules_of(json.loads(path.read_text()))["teamb-storage-eastus"] == legacy


def test_a_flat_file_with_arm_shaped_rules_keeps_them_byte_identical(tmp_path: Path, data: str) -> None:
    # Issue 15: `jq .properties` of a REST GET (flat top, ARM-shaped rules) came back with the rules flattened
    # and their ids lost.
    rule = {
        "name": POLICY["name"],
        "id": f"{NSG_ID}/securityRules/{POLICY['name']}",
        "etag": 'W/"7f6e3c1a-0000-0000-0000-000000000000"',
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": {"provisioningState": "Succeeded", **POLICY["properties"]},
    }
    doc = {"provisioningState": "Succeeded", "resourceGuid": "r", "securityRules": [rule]}
    path = tmp_path / "props.json"
    path.write_text(json.dumps(doc, indent=2))
    result = run("--target", str(path), "--region", "eastus", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    after = json.loads(path.read_text())
    assert "properties" not in after
    assert json.dumps(after["securityRules"][0]) == json.dumps(rule)
    ours = [r for r in after["securityRules"] if r["name"].startswith("egress-")]
    assert len(ours) == 4 and all(set(r) == {"name", "properties"} for r in ours)  # the file's rule shape
    assert run("--target", str(path), "--region", "eastus", "--data", data, "--yes").exit_code == 0


def test_an_nsg_left_failed_is_written_again(live: ArmDouble, data: str) -> None:
    # Issue 15: a failed write leaves the NSG `Failed`; its rules matched the plan, so every later run said
    # "No changes" and never repaired it.
    assert azure("--region", "eastus", "--data", data, "--yes").exit_code == 3
    live.inject("lro-failed", method="PUT", code="InternalServerError", message="Programming the NSG failed.")
    failed = azure("--region", "eastus", "--priority-start", "300", "--data", data, "--yes")
    assert failed.exit_code == 1 and "InternalServerError" in failed.stderr
    assert live.nsg(NSG_ID)["properties"]["provisioningState"] == "Failed"
    live.requests.clear()
    dry = azure("--region", "eastus", "--data", data, "--dry-run", "--detailed-exitcode")
    assert dry.exit_code == 3, dry.stdout
    assert "repair: the NSG's provisioningState is Failed" in dry.stdout and "No changes" not in dry.stdout
    again = azure("--region", "eastus", "--data", data, "--yes")
    assert again.exit_code == 3, again.stderr
    assert live.count("PUT") == 1
    assert live.nsg(NSG_ID)["properties"]["provisioningState"] == "Succeeded"
    assert azure("--region", "eastus", "--data", data, "--yes").exit_code == 0


def _with_extra(data: str, folder: Path, tag: str, prefixes: list[str]) -> str:
    doc = json.loads(Path(data).read_text(encoding="utf-8-sig"))
    for entry in doc["values"]:
        if entry["name"] == tag:
            entry["properties"]["addressPrefixes"] += prefixes
    path = folder / "ServiceTags_Public_20250203.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_apply_refuses_data_with_a_default_route(nsg_file: Path, data: str, tmp_path: Path) -> None:
    # Issue 15: the guard is not refresh's alone; `apply` would have written Allow tcp/443 to 0.0.0.0/0.
    bad = _with_extra(data, tmp_path, "Storage.EastUS", ["0.0.0.0/0"])
    before = nsg_file.read_bytes()
    for extra in ((), ("--dry-run",)):
        result = run("--target", str(nsg_file), "--option", "ip-ranges", "--region", "eastus", "--data", bad,
                     "--yes", *extra)  # fmt: skip
        assert result.exit_code == 4, result.stdout + result.stderr
        assert "growth guard: Storage.EastUS holds a default route 0.0.0.0/0 (wider than /8)" in result.stderr
        assert nsg_file.read_bytes() == before


def test_apply_refuses_to_widen_egress_rules_beyond_max_growth(
    nsg_file: Path, data: str, tmp_path: Path
) -> None:
    args = ("--target", str(nsg_file), "--option", "ip-ranges", "--region", "eastus", "--yes")
    assert run(*args, "--data", data).exit_code == 3
    before = nsg_file.read_bytes()
    grown = _with_extra(data, tmp_path, "Storage.EastUS", ["52.0.0.0/10"])
    result = run(*args, "--data", grown)
    assert result.exit_code == 4, result.stdout + result.stderr
    assert "growth guard: egress's rules grew" in result.stderr and "IPv4 addresses" in result.stderr
    assert "nothing was written" in result.stderr
    assert nsg_file.read_bytes() == before
    assert run(*args, "--data", grown, "--max-growth", "100000").exit_code == 3
