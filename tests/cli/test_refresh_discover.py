"""`discover` entries on the ARM double: one paged Resource Graph query finds the tagged NSGs, a no-op run reads
none of them, and a stale Graph row can cost a GET or delay a change but never a foreign rule or an unguarded
write. Real SDK clients (azure-mgmt-resourcegraph, azure-mgmt-network) and the real AzureCliCredential."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.armdouble import ArmDouble
from tests.armdouble.plugin import FakeAz

runner = CliRunner()
SUBS = ("0b1f6471-1bf0-4dda-aec3-cb9272f09590", "1c2e5f8a-0d4b-4e6f-9a7b-3c5d7e9f1a2b")
POLICY = {
    "name": "NRMS-Rule-101",
    "properties": {
        "access": "Deny", "description": "injected by organisation policy", "destinationAddressPrefix": "*",
        "destinationPortRange": "23", "direction": "Outbound", "priority": 200, "protocol": "Tcp",
        "sourceAddressPrefix": "*", "sourcePortRange": "*",
    },
}  # fmt: skip
THEIRS = {
    "name": "their-new-rule",
    "properties": {
        "access": "Allow", "destinationAddressPrefix": "10.9.0.0/16", "destinationPortRange": "1433",
        "direction": "Outbound", "priority": 150, "protocol": "Tcp", "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
    },
}  # fmt: skip


def nsg_id(sub: str, rg: str, name: str) -> str:
    return (
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityGroups/{name}"
    )


MANAGED = [nsg_id(SUBS[i % 2], f"rg-{i % 3}", f"nsg-{i:02d}") for i in range(8)]
OTHERS = [nsg_id(SUBS[0], "rg-x", "not-tagged"), nsg_id(SUBS[1], "rg-x", "other-tag")]


def name_of(rid: str) -> str:
    parts = rid.split("/")
    return f"all-backup/{parts[2]}/{parts[4].lower()}/{parts[-1]}"


@pytest.fixture
def estate(arm_env: ArmDouble, fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ArmDouble:
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(tmp_path / "cache"))
    for rid in MANAGED:
        arm_env.seed_nsg(
            rid,
            {"location": "eastus", "tags": {"egress": "managed"}, "properties": {"securityRules": [POLICY]}},
        )
    arm_env.seed_nsg(OTHERS[0], {"location": "eastus", "properties": {"securityRules": [POLICY]}})
    arm_env.seed_nsg(
        OTHERS[1],
        {"location": "eastus", "tags": {"egress": "manual"}, "properties": {"securityRules": [POLICY]}},
    )
    return arm_env


def config(tmp_path: Path, *, scope: list[str] | None = None) -> Path:
    scopes = ", ".join(json.dumps(f"azure:/subscriptions/{s}") for s in (scope or SUBS))
    path = tmp_path / "fleet.toml"
    path.write_text(
        '[defaults]\noption = "service-tags"\nregion = "eastus"\n\n[[targets]]\nname = "all-backup"\n'
        f'discover = {{ scope = [{scopes}], tag = "egress=managed" }}\n'
    )
    return path


def refresh(cfg: Path, shared: Path, *args: str):
    data = shared / "servicetags" / "ServiceTags_Public_20250127.json"
    return runner.invoke(
        app, ["refresh", "--config", str(cfg), "--data", str(data), "--auth", "cli", "-o", "json", *args]
    )


def rules(double: ArmDouble, rid: str) -> dict[str, dict]:
    return {r["name"]: r["properties"] for r in double.nsg(rid)["properties"]["securityRules"]}


def test_discovered_fleet_is_applied_then_a_no_op_reads_nothing(
    estate: ArmDouble, fake_az: FakeAz, tmp_path: Path, shared_data: Path
) -> None:
    cfg = config(tmp_path)
    first = refresh(cfg, shared_data, "--apply")
    assert first.exit_code == 3, first.stderr
    report = json.loads(first.stdout)
    assert [t["name"] for t in report["targets"]] == sorted(name_of(r) for r in MANAGED)
    assert {t["result"] for t in report["targets"]} == {"applied"}
    assert any("Resource Graph found 8 NSG(s)" in n for n in report["notes"])
    assert estate.count(kind="graph") == 1 and estate.count("PUT") == 8
    for rid in OTHERS:  # not selected: never read, never written
        assert not any(r.path.lower() == rid.lower() for r in estate.requests)
        assert list(rules(estate, rid)) == ["NRMS-Rule-101"]
    for rid in MANAGED:
        assert "egress-deny-internet" in rules(estate, rid) and "NRMS-Rule-101" in rules(estate, rid)

    estate.requests.clear()
    noop = refresh(cfg, shared_data, "--apply")
    assert noop.exit_code == 0, noop.stderr
    assert {t["result"] for t in json.loads(noop.stdout)["targets"]} == {"unchanged"}
    assert [r.kind for r in estate.requests] == ["graph"]  # one query, no GET of any NSG
    assert len(fake_az.calls()) == 2  # one sign-in per run

    estate.requests.clear()
    read = refresh(cfg, shared_data, "--apply", "--no-graph")
    assert read.exit_code == 0, read.stderr
    assert estate.count(kind="graph") == 1 and estate.count("GET", "nsg") == 8 and estate.count("PUT") == 0


def test_stale_graph_rows_never_lose_a_foreign_rule_nor_write_without_if_match(
    estate: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    cfg = config(tmp_path)
    assert refresh(cfg, shared_data, "--apply").exit_code == 3
    equal, differs, behind = MANAGED[0], MANAGED[1], MANAGED[2]

    # 1. Graph shows rules equal to the plan, ARM has changed since: unchanged without a read or a write (the
    # change waits for Graph to catch up); the foreign rule added meanwhile is untouched.
    estate.freeze_graph(equal)
    estate.edit_nsg(equal, lambda d: d["properties"]["securityRules"].append(THEIRS))
    estate.edit_nsg(equal, lambda d: d["properties"]["securityRules"][-2]["properties"].update(priority=4000))
    # 2. Graph shows an old copy that differs from the plan, ARM is already at it: a GET, no write (a missed no-op).
    saved = estate.nsg(differs)
    estate.edit_nsg(differs, lambda d: d["properties"]["securityRules"].pop())
    estate.freeze_graph(differs)
    estate.edit_nsg(
        differs, lambda d: d["properties"].update(securityRules=saved["properties"]["securityRules"])
    )
    # 3. Graph's copy differs (an egress rule gone) and ARM gained a foreign rule since: the write is planned on
    # ARM's GET and carries its etag, so the foreign rule survives.
    estate.edit_nsg(behind, lambda d: d["properties"]["securityRules"].pop())
    estate.freeze_graph(behind)
    estate.edit_nsg(behind, lambda d: d["properties"]["securityRules"].append(THEIRS))
    etag_before_write = estate.nsg(behind)["etag"]

    estate.requests.clear()
    result = refresh(cfg, shared_data, "--apply")
    targets = {t["name"]: t for t in json.loads(result.stdout)["targets"]}
    assert result.exit_code == 3, result.stderr
    assert targets[name_of(equal)]["result"] == "unchanged" and targets[name_of(equal)]["requests"] == {}
    assert "their-new-rule" in rules(estate, equal)
    assert targets[name_of(differs)]["result"] == "unchanged" and targets[name_of(differs)]["requests"] == {
        "GET": 1
    }
    assert targets[name_of(behind)]["result"] == "applied"
    puts = [r for r in estate.requests if r.method == "PUT"]
    assert [r.path.lower() for r in puts] == [behind.lower()] and puts[0].if_match == etag_before_write
    assert "their-new-rule" in rules(estate, behind) and "egress-deny-internet" in rules(estate, behind)

    # --no-graph reads the NSG Graph is stale about, and repairs it keeping the foreign rule.
    fixed = refresh(cfg, shared_data, "--apply", "--no-graph", "--target-name", name_of(equal))
    assert fixed.exit_code == 3, fixed.stderr
    assert rules(estate, equal)["egress-deny-internet"]["priority"] == 4096
    assert "their-new-rule" in rules(estate, equal) and "NRMS-Rule-101" in rules(estate, equal)


def test_apply_and_plan_with_a_discover_entry(estate: ArmDouble, tmp_path: Path, shared_data: Path) -> None:
    cfg = config(tmp_path, scope=[SUBS[0]])
    data = str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")
    planned = runner.invoke(
        app, ["plan", "--config", str(cfg), "--target-name", "all-backup", "--data", data]
    )
    assert planned.exit_code == 0 and "egress-deny-internet" in planned.stdout
    one = name_of(MANAGED[0])
    single = runner.invoke(
        app, ["apply", "--config", str(cfg), "--target-name", one, "--data", data, "--auth", "cli", "--yes"]
    )
    assert single.exit_code == 3, single.stderr
    assert estate.count("PUT") == 1 and "egress-deny-internet" in rules(estate, MANAGED[0])
    whole = runner.invoke(
        app,
        [
            "apply",
            "--config",
            str(cfg),
            "--target-name",
            "all-backup",
            "--data",
            data,
            "--auth",
            "cli",
            "--yes",
        ],
    )
    assert whole.exit_code == 3, whole.stderr
    in_sub = [r for r in MANAGED if SUBS[0] in r]
    assert whole.stdout.count("Applied to ") == len(in_sub) - 1 and "No changes to " in whole.stdout
    assert all("egress-deny-internet" in rules(estate, r) for r in in_sub)
    assert not any("egress-deny-internet" in rules(estate, r) for r in MANAGED if SUBS[1] in r)


def test_a_graph_failure_is_the_entry_s_error_and_listed_targets_proceed(
    estate: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    cfg = config(tmp_path)
    cfg.write_text(cfg.read_text() + f'\n[[targets]]\nname = "listed"\ntarget = "azure:{OTHERS[0]}"\n')
    estate.inject("error", method="POST", path="*/microsoft.resourcegraph/*", times=100)
    result = refresh(cfg, shared_data, "--apply")
    assert result.exit_code == 1, result.stderr
    targets = {t["name"]: t for t in json.loads(result.stdout)["targets"]}
    assert targets["all-backup"]["result"] == "error" and "Resource Graph" in targets["all-backup"]["message"]
    assert targets["listed"]["result"] == "applied"


def test_a_subscription_the_identity_cannot_read_is_named_and_the_others_proceed(
    estate: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    estate.deny_subscription(SUBS[1])
    result = refresh(config(tmp_path), shared_data, "--apply")
    assert result.exit_code == 3, result.stderr
    report = json.loads(result.stdout)
    assert [t["name"] for t in report["targets"]] == sorted(name_of(r) for r in MANAGED if SUBS[0] in r)
    assert {t["result"] for t in report["targets"]} == {"applied"}
    (note,) = [n for n in report["notes"] if "Resource Graph found" in n]
    assert f"nothing in subscription(s) {SUBS[1]}" in note and "cannot read it" in note


def test_apply_with_a_discover_entry_takes_the_growth_flags(
    estate: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    # Each NSG a discover entry finds is applied as `apply --target` would be, with the growth guard's flags: a
    # stricter --min-prefix-v4 24 refuses data in which Storage.EastUS gained a /16 (exit 4, NSG untouched).
    # Before, a discover entry ran the guard with its defaults (/8) whatever the flags said.
    from tests.cli.test_refresh_guards import crafted

    bad = crafted(shared_data, tmp_path, add={"Storage.EastUS": ["198.18.0.0/16"]})
    cfg = config(tmp_path, scope=[SUBS[0]])
    one = name_of(MANAGED[0])
    before = rules(estate, MANAGED[0])
    args = ["apply", "--config", str(cfg), "--target-name", one, "--data", bad, "--auth", "cli", "--yes"]
    result = runner.invoke(app, [*args, "--min-prefix-v4", "24"])
    assert result.exit_code == 4, result.stdout + result.stderr
    assert "growth guard: Storage.EastUS" in result.stderr and "198.18.0.0/16" in result.stderr
    assert estate.count("PUT") == 0 and rules(estate, MANAGED[0]) == before
